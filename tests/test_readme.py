"""Every ```python block of README.md runs as written, each as its own script.

A block runs as ``python block.py`` in an empty folder (so blocks that write files,
checkpoints or figures leave nothing behind, and ``if __name__ == "__main__":``
works as in a user's script). Blocks must be self-contained and quick: define what
they use, use small sizes. A block may be excluded only where running it is truly
impossible here (it needs data the user has, e.g. MNIST files, or hardware); mark it
with ``<!-- no-run -->`` on the line just before the fence and say why in the README
text around it.
"""
import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
NO_RUN = "<!-- no-run -->"
FENCE = re.compile(r"^```python\s*$")


def python_blocks(text):
    """``[(line number, heading, code, runnable)]`` of the ```python blocks of *text*."""
    blocks = []
    lines = text.splitlines()
    heading, i = "README", 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#") and not line.startswith("#!"):
            heading = line.lstrip("#").strip()
        if FENCE.match(line):
            start = i
            previous = next((ln.strip() for ln in reversed(lines[:start]) if ln.strip()), "")
            i += 1
            body = []
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            blocks.append((start + 1, heading, "\n".join(body) + "\n", previous != NO_RUN))
        elif line.startswith("```"):          # skip other fenced blocks whole
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                i += 1
        i += 1
    return blocks


BLOCKS = python_blocks(README.read_text(encoding="utf-8"))


def test_readme_has_python_blocks():
    assert len([b for b in BLOCKS if b[3]]) >= 5


def imported_modules(code):
    """Top-level packages a block imports (``import torch.nn`` -> ``torch``)."""
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_imported_modules():
    assert imported_modules("import torch.nn as tn\nfrom fastopt import optim\nimport os, sys\n") \
        == {"torch", "fastopt", "os", "sys"}


def test_block_parser():
    text = ("# A\n```python\nx = 1\n```\n## B\n```bash\necho hi\n```\n"
            "<!-- no-run -->\n```python\nimport mnist_files\n```\n")
    assert python_blocks(text) == [(2, "A", "x = 1\n", True), (10, "B", "import mnist_files\n", False)]


@pytest.mark.parametrize("lineno, heading, code, runnable", BLOCKS,
                         ids=[f"line{b[0]}-{re.sub(r'[^A-Za-z0-9]+', '-', b[1]).strip('-')[:30]}"
                              for b in BLOCKS])
def test_readme_block_runs(lineno, heading, code, runnable, tmp_path):
    if not runnable:
        pytest.skip(f"README.md line {lineno} is marked {NO_RUN}")
    missing = sorted(m for m in imported_modules(code) if importlib.util.find_spec(m) is None)
    if missing:  # e.g. the torch route without torch: the suite skips what is not installed
        pytest.skip(f"README.md line {lineno} needs {', '.join(missing)}, not installed here")
    script = tmp_path / f"readme_line{lineno}.py"
    script.write_text(code, encoding="utf-8")
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env["PYTHONPATH"] = str(ROOT)          # the checkout under test, as the suite imports it
    env.setdefault("MPLBACKEND", "Agg")    # a block that shows a figure does not wait for a window
    proc = subprocess.run([sys.executable, script.name], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (
        f"README.md line {lineno} ({heading}) failed:\n{code}\n--- stderr ---\n{proc.stderr[-4000:]}")
