"""The compiled Cython backend (built from ``src_cython/`` by ``setup.py``; see
``fastopt._cy.kernels``). Absent where the package was installed without a compiler."""
import os

# As in fastopt.kernels._jit: a short spin for idle OpenMP threads, set before
# libgomp starts (it reads the variable once, when it is loaded); a value the
# user set wins.
os.environ.setdefault("GOMP_SPINCOUNT", "10000")
