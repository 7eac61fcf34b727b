"""Sphinx configuration of fastopt's documentation (``pip install -e ".[docs]"``).

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html``. The pages
built from the project (user guide from README.md, API pages, gallery, benchmarks,
command line) are written by ``_ext/fastopt_docs.py`` at the start of every build.
Everything the pages load is local (the alabaster theme has no web fonts; MathJax
comes from the ``sphinx-mathjax-offline`` package): they render without internet.
"""
import os
import sys

sys.path.insert(0, os.path.abspath("_ext"))
sys.path.insert(0, os.path.abspath(".."))

import fastopt  # noqa: E402

project = "fastopt"
author = "the fastopt developers"
copyright = "2026, the fastopt developers"
release = version = fastopt.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx-mathjax-offline",     # MathJax from the package, not from a CDN
    "fastopt_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "generated/intro.md", "bench-history/README.md"]
templates_path = ["_templates"]

autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"          # numpydoc's Parameters sections carry the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

myst_heading_anchors = 3
suppress_warnings = ["myst.header"]

html_theme = "alabaster"
html_title = f"fastopt {release}"
html_static_path = ["_static"]
html_css_files = ["fastopt.css"]
html_theme_options = {
    "description": "Deep Learning from Scratch, chapter 6, fast on the CPU",
    "page_width": "1180px",
    "sidebar_width": "230px",
    "fixed_sidebar": False,
    "github_button": False,
    "font_family": "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif",
    "head_font_family": "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif",
    "code_font_family": "'DejaVu Sans Mono', Menlo, Consolas, monospace",
}
html_sidebars = {"**": ["about.html", "navigation.html", "searchbox.html"]}
html_show_sourcelink = False
