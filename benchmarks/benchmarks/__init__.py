"""asv benchmarks for fastopt (run from ``benchmarks/``; see ``benchmarks/README.md``).

With ``asv run --python=same`` asv neither builds nor installs fastopt: it
imports whatever the current interpreter finds. When fastopt is not installed
at all, fall back to the checkout this directory belongs to (``../..``), so the
suite also runs from a plain clone. An installed fastopt (``pip install -e .``,
or the wheel asv installs into its own environments) always takes precedence.
"""
import importlib.util
import os
import sys

if importlib.util.find_spec("fastopt") is None:
    _REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if os.path.isfile(os.path.join(_REPO_ROOT, "fastopt", "__init__.py")):
        sys.path.insert(0, _REPO_ROOT)
