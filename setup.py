"""Build script: the pure-Python package, plus the optional Cython backend.

Cython modules in ``src_cython/`` are compiled into ``fastopt._cy`` when Cython
and a C compiler are available; otherwise the build quietly skips them (the
Numba and NumPy backends need no compiler). ``FASTOPT_REQUIRE_CYTHON=1`` makes
a failed Cython build an error.
"""
import glob
import os

from setuptools import setup
from setuptools.command.build_ext import build_ext

REQUIRE = os.environ.get("FASTOPT_REQUIRE_CYTHON") == "1"


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
                      include_dirs=[numpy.get_include()]) for s in sources]
    return cythonize(exts, language_level=3)


class OptionalBuildExt(build_ext):
    """Compile what compiles; skip the cython backend otherwise (unless required)."""

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
