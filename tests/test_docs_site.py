"""The documentation site's moving parts (fast; the full build runs in CI with -W):
pages generated from the project, the offline check, the figure conventions."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen():
    return _load("fastopt_docs", DOCS / "_ext" / "fastopt_docs.py")


@pytest.fixture(scope="module")
def offline():
    return _load("check_offline", DOCS / "check_offline.py")


def test_every_experiment_has_a_gallery_figure():
    from fastopt import experiments

    missing = [n for n in experiments.available()
               if not (DOCS / "_static" / "gallery" / f"{n}.png").exists()]
    assert not missing, f"run: python docs/make_gallery.py {' '.join(missing)}"


def test_readme_sections_become_guide_pages(gen):
    intro, sections = gen.readme_sections("# t\nintro\n## A b\nx\n### sub\ny\n## C (§1)\nz\n")
    assert intro.strip().endswith("intro")
    assert [h for h, _ in sections] == ["A b", "C (§1)"]
    assert gen._slug("Techniques the chapter names: `fastopt.techniques`") == \
        "techniques-the-chapter-names-fastopttechniques"


def test_public_names_cover_all_and_skip_submodules(gen):
    import fastopt
    import fastopt.optim

    assert "Adam" in gen.public_names(fastopt.optim) and "SGD" in gen.public_names(fastopt.optim)
    names = gen.public_names(fastopt)
    assert "set_backend" in names and "optim" not in names and "__version__" not in names


def test_parameter_lists_are_normalised(gen):
    lines = ["Adam.", "", "lr : float, default 1e-3", "custom : int", "    Own words.", "",
             "Parameters", "----------", "params : dict", "    The arrays.", "Attributes",
             "----------", "a_, b_,", "c_", "    Views."]
    gen.normalise_parameters(lines)
    at = lines.index("Parameters")
    assert lines[at + 2] == "lr : float, default 1e-3"
    assert lines[at + 3] == "    " + gen.PARAMETER_GLOSSARY["lr"]     # described, not only named
    assert lines[at + 4:at + 6] == ["custom : int", "    Own words."]  # own words are kept
    assert "params : dict" in lines and "a_, b_, c_" in lines
    assert lines[lines.index("Attributes") - 1] == ""                 # blank line before a header


def test_every_optimizer_parameter_is_described(gen):
    """What the API pages show for each optimizer: every argument with a description."""
    import inspect

    import fastopt.book
    import fastopt.optim

    classes = list(fastopt.optim.OPTIMIZERS) + [getattr(fastopt.book, n) for n in
                                                ("SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam")]
    for cls in classes:
        lines = inspect.cleandoc(cls.__doc__).splitlines()
        gen.normalise_parameters(lines, cls)
        at = lines.index("Parameters")
        described = {}
        for k in range(at + 2, len(lines)):
            if gen._is_header(lines, k):
                break
            m = gen._PARAM.match(lines[k])
            if m:
                nxt = lines[k + 1] if k + 1 < len(lines) else ""
                for name in m.group(1).split(","):
                    described[name.strip()] = nxt.startswith(" ")
        args = [p.name for p in inspect.signature(cls).parameters.values()
                if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
        assert all(described.get(a) for a in args), (cls, [a for a in args if not described.get(a)])


def test_benchmark_page_from_the_committed_run(gen, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setattr(gen, "GEN", str(tmp_path))
    gen.write_benchmarks()
    text = (tmp_path / "benchmarks.rst").read_text(encoding="utf-8")
    assert "History" in text and "fastopt-bench-2core.json" in text and "train-step" in text
    assert (tmp_path / "bench" / "history.png").exists()
    newest = text.split("Newest run: ", 1)[1].split()[0]  # its chart is shown in full
    assert (tmp_path / "bench" / newest.replace(".json", ".png")).exists()


def test_offline_check_flags_network_loads(offline, tmp_path):
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "local.js").write_text("")
    (tmp_path / "index.html").write_text(
        '<link rel="stylesheet" href="_static/missing.css"><script src="_static/local.js"></script>'
        '<a href="https://example.org">a plain link is fine</a>')
    (tmp_path / "page.html").write_text(
        '<script src="https://cdn.example.org/jquery.js"></script>'
        '<link rel="stylesheet" href="//fonts.example.org/css">')
    (tmp_path / "_static" / "x.css").write_text("@import url(https://fonts.example.org/a.css);")
    found = "\n".join(offline.problems(str(tmp_path)))
    assert "cdn.example.org" in found and "fonts.example.org/css" in found
    assert "fonts.example.org/a.css" in found and "missing.css" in found
    assert "local.js" not in found and "example.org\"" not in found


def test_plots_leave_the_callers_backend_alone(tmp_path):
    pytest.importorskip("matplotlib")
    code = (
        "import matplotlib\n"
        "matplotlib.use('svg')\n"
        "from fastopt import experiments, plots\n"
        "plots.plot_history({'loss': [3, 2, 1] * 5, 'train_acc': [0.5, 0.7], 'val_acc': [0.4, 0.6]},"
        " 'h.png', title='t')\n"
        "experiments.run('optimizer-paths', experiments.Settings(quick=True, out='out'), echo=lambda s: None)\n"
        "import matplotlib.pyplot as plt\n"
        "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend()\n"
        "assert plt.get_fignums() == [], plt.get_fignums()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "h.png").exists() and (tmp_path / "out" / "optimizer-paths.png").exists()


def test_version_and_help(capsys):
    from fastopt import __version__
    from fastopt.cli import build_parser, main

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"fastopt {__version__}"
    parser = build_parser()
    text = parser.format_help()
    commands = list(parser._subparsers._group_actions[0].choices)
    assert {"info", "train", "paths", "run", "bench"} <= set(commands)
    assert all(f"fastopt {c}" in text for c in commands)    # the description lists each one
    assert "``" not in text and ":func:" not in text        # plain text, no reST
    for name, sub in parser._subparsers._group_actions[0].choices.items():
        help_text = sub.format_help()
        assert "issue" not in help_text.lower(), name
        for action in sub._actions:
            if action.option_strings and action.default not in (None, False) and action.help != "==SUPPRESS==" \
                    and action.dest != "help":
                assert action.help, (name, action.dest)
                assert "default" in sub._get_formatter()._get_help_string(action), (name, action.dest)


def test_no_internal_references_in_user_facing_text():
    hits = [str(p.relative_to(ROOT)) for p in (ROOT / "fastopt").rglob("*.py")
            if "issue " in p.read_text(encoding="utf-8").lower()]
    assert not hits, hits


def test_project_files():
    assert "MIT License" in (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "## [Unreleased]" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert (ROOT / "fastopt" / "py.typed").exists()


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path):
    """The whole site, warnings as errors (~20-40 s): a docstring that breaks the
    reference shows up in a local test run, not only in CI (whose own step builds it)."""
    import os

    if os.environ.get("CI") == "true":
        pytest.skip(".ci/run builds the docs in a step of its own")
    for module in ("sphinx", "numpydoc", "myst_parser"):
        pytest.importorskip(module, reason='the docs extra: pip install -e ".[docs]"')
    import shutil

    # a copy of docs/, so a build running in the checkout at the same time is not disturbed
    src = tmp_path / "docs"
    shutil.copytree(DOCS, src, ignore=shutil.ignore_patterns("_build", "generated"))
    env = dict(os.environ, FASTOPT_DOCS_ROOT=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q",
                           "-b", "html", str(src), str(tmp_path / "html")],
                          capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-6000:]
    offline = _load("check_offline_build", DOCS / "check_offline.py")
    assert offline.problems(str(tmp_path / "html")) == []
