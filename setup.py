"""Build script: the pure-Python package, plus the optional Cython backend.

Cython modules in ``src_cython/`` are compiled into ``fastopt._cy`` when Cython
and a C compiler are available; otherwise the build quietly skips them (the
Numba and NumPy backends need no compiler). ``FASTOPT_REQUIRE_CYTHON=1`` makes
a failed Cython build an error.

Compiler flags: ``-O3 -g0`` (no debug info: 10x smaller modules) and, when
the compiler accepts it, OpenMP
(``-fopenmp``) for the parallel kernels; without OpenMP the kernels build
single-threaded. Never ``-ffast-math``: the kernels must equal the NumPy
reference bit for bit. ``-ffp-contract=off`` stops a compiler from fusing
``a*b + c`` into one FMA (GCC does by default where the target has FMA, e.g.
aarch64), which would change the rounding; ``-fno-math-errno`` only drops the
``errno`` write of ``sqrt`` so it compiles to the vector instruction, and
``-fno-trapping-math`` lets the loops compute both sides of a select (e.g. the
gradient clamp) and blend, so they vectorise: neither changes a value (no
kernel reads the floating-point status flags).
``FASTOPT_CFLAGS`` adds flags (e.g. ``-march=native`` for a local build; never
in a distributed wheel).
"""
import glob
import os
import shlex
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

REQUIRE = os.environ.get("FASTOPT_REQUIRE_CYTHON") == "1"
BASE_FLAGS = ["-O3", "-g0", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math"]
OPENMP_FLAG = "-fopenmp"
# GCC unswitches a loop on its loop-invariant tests (the gradient transform's
# flags) only up to 50 instructions by default; past that Adadelta, NAdam and
# AMSGrad were left scalar (4-9x slower). Clang has no such parameter.
UNSWITCH_FLAG = "--param=max-unswitch-insns=500"


def cython_extensions():
    sources = sorted(glob.glob(os.path.join("src_cython", "*.pyx")))
    if not sources:
        return []
    try:
        from Cython.Build import cythonize
        from setuptools import Extension
        import numpy
    except ImportError:
        if REQUIRE:
            raise
        print("fastopt: Cython or NumPy missing at build time; building without the cython backend")
        return []
    exts = [Extension(f"fastopt._cy.{os.path.splitext(os.path.basename(s))[0]}", [s],
                      include_dirs=[numpy.get_include()],
                      define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")])
            for s in sources]
    return cythonize(exts, language_level=3, include_path=["src_cython"],
                     compiler_directives={"boundscheck": False, "wraparound": False,
                                          "cdivision": True, "initializedcheck": False})


def _compiler_accepts(compiler, flags, link_flags=(), check_omp=True):
    """Compile and link a tiny program (an OpenMP one if *check_omp*) with *flags*."""
    import tempfile

    src = ("#include <omp.h>\nint main(void) { return omp_get_max_threads() > 0 ? 0 : 1; }\n"
           if check_omp else "int main(void) { return 0; }\n")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "probe.c")
        with open(path, "w") as f:
            f.write(src)
        try:
            objs = compiler.compile([path], output_dir=tmp, extra_postargs=list(flags))
            compiler.link_executable(objs, os.path.join(tmp, "probe"),
                                     extra_postargs=list(link_flags))
        except Exception:
            return False
    return True


class OptionalBuildExt(build_ext):
    """Compile what compiles; skip the cython backend otherwise (unless required)."""

    def build_extensions(self):
        msvc = self.compiler.compiler_type == "msvc"
        if msvc:
            flags, omp, omp_link = ["/O2", "/fp:precise"], ["/openmp"], []
        else:
            flags, omp, omp_link = list(BASE_FLAGS), [OPENMP_FLAG], [OPENMP_FLAG]
        if not msvc and _compiler_accepts(self.compiler, [UNSWITCH_FLAG], check_omp=False):
            flags.append(UNSWITCH_FLAG)
        flags += shlex.split(os.environ.get("FASTOPT_CFLAGS", ""))
        if not _compiler_accepts(self.compiler, omp, omp_link):
            print("fastopt: the compiler has no OpenMP; the cython kernels will run on one thread",
                  file=sys.stderr)
            omp, omp_link = [], []
        for ext in self.extensions:
            ext.extra_compile_args = flags + omp
            ext.extra_link_args = omp_link
        super().build_extensions()

    def run(self):
        try:
            super().run()
        except Exception as exc:  # no compiler, etc.
            if REQUIRE:
                raise
            print(f"fastopt: cython backend not built ({exc})")

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:
            if REQUIRE:
                raise
            print(f"fastopt: skipping {ext.name} ({exc})")


setup(ext_modules=cython_extensions(), cmdclass={"build_ext": OptionalBuildExt})
