"""Checks of the repaired wheel, for .ci/wheel.

    python check_wheel.py WHEEL                 what the wheel holds
    python check_wheel.py --first-run FASTOPT OUT
                                                time a new user's first ``fastopt train``
                                                and check the default backend imports no Numba
"""
import platform
import subprocess
import sys
import time
import zipfile


def check_contents(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tag = wheel.rsplit("-", 1)[-1]
    assert "manylinux" in tag, f"{wheel}: not a manylinux wheel"
    assert any(n.startswith("fastopt.libs/libgomp") for n in names), "libgomp is not vendored"
    levels = ["baseline"] + [lvl for lvl in ("avx2", "avx512")
                             if any(n.startswith(f"fastopt/_cy/{lvl}/adaptive") for n in names)]
    if platform.machine() == "x86_64":
        assert levels == ["baseline", "avx2", "avx512"], f"instruction-set builds: {levels}"
    print(f"{wheel.rsplit('/', 1)[-1]}: libgomp vendored; instruction-set builds: {levels}")


def first_run(fastopt, out):
    start = time.perf_counter()
    subprocess.run([fastopt, "train", "--out", out], check=True)
    print(f"first fastopt train after installing the wheel: "
          f"{time.perf_counter() - start:.2f} s wall")
    probe = ("import sys, fastopt; from fastopt.cli import main; "
             "main(['train', '--epochs', '1', '--progress', 'off', '--out', sys.argv[1]]); "
             "print(fastopt.get_backend(), 'numba' in sys.modules)")
    backend, numba_imported = subprocess.run(
        [sys.executable, "-c", probe, out + "-probe"], check=True, capture_output=True,
        text=True).stdout.split()[-2:]
    print(f"default backend {backend}; numba imported: {numba_imported}")
    if backend == "cython":
        assert numba_imported == "False", "training on the cython backend imported Numba"


if __name__ == "__main__":
    if sys.argv[1] == "--first-run":
        first_run(*sys.argv[2:4])
    else:
        check_contents(sys.argv[1])
