"""Draw the gallery's figures again: ``python docs/make_gallery.py [NAME ...]``.

Runs ``fastopt run NAME --quick`` for every experiment (or the ones named) in a
scratch folder and copies each ``NAME.png`` to ``docs/_static/gallery/``, where the
documentation build finds it. The PNGs are committed, so building the docs runs no
experiment; run this after changing an experiment or its figure.
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEST = os.path.join(HERE, "_static", "gallery")


def main(names=None):
    from fastopt import experiments

    names = names or list(experiments.available())
    os.makedirs(DEST, exist_ok=True)
    with tempfile.TemporaryDirectory() as out:
        for name in names:
            cmd = [sys.executable, "-m", "fastopt.cli", "run", name, "--quick", "--out", out,
                   "--progress", "off"]
            print("+", " ".join(cmd[2:]), flush=True)
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            shutil.copyfile(os.path.join(out, f"{name}.png"), os.path.join(DEST, f"{name}.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
