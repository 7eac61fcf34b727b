"""Cold start: ``import fastopt``, and import + the first step, in a fresh process.

``timeraw_`` benchmarks: asv runs the snippet in a new interpreter and times it
(interpreter start-up excluded). The snippets are ``fastopt.bench.startup``'s:

``timeraw_import``
    ``import fastopt`` (imports no Numba, so compiles nothing).
``timeraw_adam_step(cache)``
    import + the book's 10 arrays (109,810 float32 parameters) in a FlatParams
    + the first ``Adam.step()``. Issue 4's goal: <= 0.5 s with a warm cache.
``timeraw_train_step(cache)``
    import + the book's batch-norm/dropout network + the first
    ``gradient`` + ``Adam.step()``.

``cache="warm"``: Numba's on-disk cache holds the kernels (``setup`` runs the
snippet once in another process to make sure); ``cache="cold"``: the child
points ``NUMBA_CACHE_DIR`` at a new empty folder, so every kernel compiles.

``track_import_loads_numba`` is 1 if ``import fastopt`` imports Numba (it must not).
"""
import subprocess
import sys

from fastopt.bench import startup

#: The children import the fastopt this process imported (installed or the checkout).
_CHILD_ENV = {"PYTHONPATH": startup.child_env()["PYTHONPATH"]}


def _warm(name):
    startup.run_once(name, "warm")


class ImportTime:
    """``import fastopt`` in a fresh process."""

    repeat = 10
    timeout = 120
    env = _CHILD_ENV

    def timeraw_import(self):
        return startup.SNIPPETS["import"]

    def track_import_loads_numba(self):
        code = "import sys, fastopt; print(int('numba' in sys.modules))"
        return int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                  env=startup.child_env(), check=True).stdout.strip())

    track_import_loads_numba.unit = "bool"


class FirstStep:
    """Import + the first Adam step / training step in a fresh process, Numba cache warm or cold."""

    params = [["adam-step", "train-step"], ["warm", "cold"]]
    param_names = ["snippet", "cache"]
    # a cold train step compiles every kernel (tens of seconds): few samples
    repeat = (1, 3, 60.0)
    rounds = 1
    number = 1
    timeout = 900
    env = _CHILD_ENV

    def setup(self, snippet, cache):
        if cache == "warm":
            _warm(snippet)

    def timeraw_first(self, snippet, cache):
        stmt = startup.SNIPPETS[snippet]
        return (stmt, startup.COLD_SETUP) if cache == "cold" else stmt
