"""Build script: the pure-Python package, plus the optional Cython backend.

Cython modules in ``src_cython/`` are compiled into ``fastopt._cy`` when Cython
and a C compiler are available; otherwise the build quietly skips them (the
Numba and NumPy backends need no compiler). ``FASTOPT_REQUIRE_CYTHON=1`` makes
a failed Cython build an error.

Generated sources: the Python wrappers of the optimizer update kernels are not
written by hand. ``src_cython/_updates.pxi.in`` (a template of Cython's Tempita)
renders them from the kernel specification, ``fastopt/kernel_spec.py`` (loaded by
its path: the build imports no part of fastopt), into
``src_cython/_updates_<family>.pxi`` before cythonize, on every build (a file is
rewritten only when its text changes, so only what changed recompiles); see
``generate_update_wrappers``. Like the C files, they are build products: git
ignores them and the sdist leaves them out (a wheel built from it renders them).

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

Instruction-set levels: on x86-64 with GCC or Clang every kernel module is
built three times, for the baseline (SSE2) into ``fastopt._cy``, and for the
levels of ``ISA_LEVELS`` into ``fastopt._cy.<level>``; ``fastopt._cy.isa``
picks the best level the CPU runs at import. Baseline x86-64 has no vector
square root or division wider than SSE2: Adam-like kernels ran 1.9-2.1x slower
than Numba's (which compiles for the host); the AVX2 and AVX-512 builds run
0.95-1.09x Numba's time on the 2-core EPYC dev VM (float32, 1e6). The levels
name only the features whose flags they set (a subset of x86-64-v3/v4, the
ones the kernels can use), so the import-time check tests exactly those.
``FASTOPT_ISA_LEVELS=baseline`` (or ``baseline,avx2``) builds fewer levels
(a quicker local build).
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
# Keep each kernel's range function out of its Python wrapper: inlined there, its loop
# reads the scalars through the wrapper's variables, whose addresses the OpenMP region
# takes, so GCC cannot keep them in registers and leaves the float64 loop scalar (SGD
# float64 0.93 against Numba's 0.21 ns/element on the EPYC VM; 0.20 with these flags).
# Functions declared inline (the gradient transform, the loop bodies) still inline.
NO_INLINE_FLAGS = ["-fno-inline-functions", "-fno-inline-small-functions"]
#: level -> compiler flags, for x86-64 builds with GCC/Clang. Keep in step with
#: ``fastopt_isa_level()`` in src_cython/_jit.pyx, which checks the same features.
_AVX2_FLAGS = ["-mavx", "-mavx2", "-mfma", "-mbmi", "-mbmi2"]
ISA_LEVELS = {
    "avx2": _AVX2_FLAGS,
    "avx512": _AVX2_FLAGS + ["-mavx512f", "-mavx512bw", "-mavx512cd", "-mavx512dq",
                             "-mavx512vl"],
}
#: modules built once only, at the baseline: thread control and the CPU check, and the
#: random-number twin the tests compare (no kernel of a level uses its functions)
BASELINE_ONLY = {"_jit", "rng"}
#: the template of the update kernels' wrappers (see generate_update_wrappers)
UPDATES_TEMPLATE = os.path.join("src_cython", "_updates.pxi.in")


def _x86_64():
    import platform

    return platform.machine().lower() in ("x86_64", "amd64")


def _levels_wanted():
    wanted = os.environ.get("FASTOPT_ISA_LEVELS")
    levels = ["baseline", *ISA_LEVELS] if wanted is None else \
        [w.strip() for w in wanted.split(",") if w.strip()]
    unknown = set(levels) - {"baseline", *ISA_LEVELS}
    if unknown or "baseline" not in levels:
        raise SystemExit(f"FASTOPT_ISA_LEVELS: got {wanted!r}; a comma-separated list of "
                         f"baseline (required), {', '.join(ISA_LEVELS)}")
    return levels if _x86_64() else ["baseline"]


def _level_of(ext):
    """The instruction-set level an extension is built for, from its name (cythonize
    returns new Extension objects, so the name is what survives)."""
    parts = ext.name.split(".")
    return parts[2] if len(parts) == 4 and parts[2] in ISA_LEVELS else "baseline"


def _kernel_spec():
    """``fastopt/kernel_spec.py`` alone, by its path: importing the ``fastopt`` package
    would import the whole of it (the spec itself imports only NumPy)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_fastopt_kernel_spec",
                                                  os.path.join("fastopt", "kernel_spec.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while it executes
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def generate_update_wrappers(out_dir="src_cython"):
    """Render the update kernels' Python wrappers from the kernel specification.

    ``UPDATES_TEMPLATE`` (Cython's Tempita) becomes ``<out_dir>/_updates_<family>.pxi``
    for each family of ``fastopt.kernel_spec.SPECS`` with update kernels; the family's
    .pyx includes it. Rendered on every build, a file written only when its text
    changes: a change of the spec or the template recompiles the modules it touches,
    and nothing else (cythonize follows the include's modification time). Returns the
    paths.
    """
    from Cython import Tempita

    kernel_spec = _kernel_spec()
    with open(UPDATES_TEMPLATE, encoding="utf-8") as f:
        template = Tempita.Template(f.read(), name=UPDATES_TEMPLATE)
    families = {}
    for spec in kernel_spec.SPECS:
        if spec.update:
            families.setdefault(spec.family, []).append(spec)
    paths = []
    for family, specs in families.items():
        text = template.substitute(specs=specs, transform=kernel_spec.TRANSFORM)
        path = os.path.join(out_dir, f"_updates_{family}.pxi")
        paths.append(path)
        try:
            with open(path, encoding="utf-8") as f:
                if f.read() == text:
                    continue
        except FileNotFoundError:
            pass
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    return paths


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
    generate_update_wrappers()
    built = []
    for level in _levels_wanted():
        package = "fastopt._cy" if level == "baseline" else f"fastopt._cy.{level}"
        exts = []
        for source in sources:
            module = os.path.splitext(os.path.basename(source))[0]
            if level != "baseline" and module in BASELINE_ONLY:
                continue
            ext = Extension(f"{package}.{module}", [source], include_dirs=[numpy.get_include()],
                            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")])
            exts.append(ext)
        # one C file per level (its module name differs), so each level compiles apart
        built += cythonize(exts, language_level=3, include_path=["src_cython"],
                           build_dir=os.path.join("build", "cython", level), quiet=True,
                           compiler_directives={"boundscheck": False, "wraparound": False,
                                                "cdivision": True, "initializedcheck": False})
    return built


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

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:  # three levels of ten modules: compile them side by side
            self.parallel = os.cpu_count() or 1

    def build_extensions(self):
        msvc = self.compiler.compiler_type == "msvc"
        if msvc:
            flags, omp, omp_link = ["/O2", "/fp:precise"], ["/openmp"], []
        else:
            flags, omp, omp_link = list(BASE_FLAGS), [OPENMP_FLAG], [OPENMP_FLAG]
        if not msvc and _compiler_accepts(self.compiler, [UNSWITCH_FLAG], check_omp=False):
            flags.append(UNSWITCH_FLAG)
        if not msvc and _compiler_accepts(self.compiler, NO_INLINE_FLAGS, check_omp=False):
            flags += NO_INLINE_FLAGS
        flags += shlex.split(os.environ.get("FASTOPT_CFLAGS", ""))
        if not _compiler_accepts(self.compiler, omp, omp_link):
            print("fastopt: the compiler has no OpenMP; the cython kernels will run on one thread",
                  file=sys.stderr)
            omp, omp_link = [], []
        isa = {level: extra for level, extra in ISA_LEVELS.items()
               if not msvc and _compiler_accepts(self.compiler, extra, check_omp=False)}
        skipped = {_level_of(ext) for ext in self.extensions} - {"baseline", *isa}
        if skipped:
            print(f"fastopt: the compiler does not take the flags of {sorted(skipped)}; "
                  "building those levels is skipped", file=sys.stderr)
            self.extensions = [ext for ext in self.extensions if _level_of(ext) not in skipped]
        for ext in self.extensions:
            ext.extra_compile_args = flags + isa.get(_level_of(ext), []) + omp
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


if __name__ == "__main__":  # setuptools runs it so; a test loads the functions above
    setup(ext_modules=cython_extensions(), cmdclass={"build_ext": OptionalBuildExt})
