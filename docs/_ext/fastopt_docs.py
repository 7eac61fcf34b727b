"""Sphinx extension: writes the pages that are built from the project itself.

When the configuration is read it fills ``docs/generated/`` (git-ignored) with

* ``guide/*.md``  -- the user guide: one page per ``##`` section of README.md;
* ``api/*.rst``   -- one page per public module, an autosummary of every public name;
* ``gallery.rst`` -- every experiment of ``fastopt run``, its description and figure;
* ``benchmarks.rst`` -- the ``fastopt bench`` JSON results: history table and chart,
  and the newest run's full table with its chart;
* ``cli.rst``     -- the ``--help`` of ``fastopt`` and of each subcommand;
* ``changelog.md`` -- CHANGELOG.md.

Nothing is fetched and nothing is loaded from a CDN: the pages render offline.
"""
import contextlib
import glob
import importlib
import inspect
import io
import json
import os
import re
import shutil

from fastopt.optim._docs import MEANINGS

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # docs/
# the checkout whose README, CHANGELOG and benchmarks the pages show (a copy of docs/
# built elsewhere, as the tests do, names it in FASTOPT_DOCS_ROOT)
ROOT = os.environ.get("FASTOPT_DOCS_ROOT") or os.path.dirname(HERE)
GEN = os.path.join(HERE, "generated")

#: the public modules of the API reference, in the order of the index
API_MODULES = [
    ("fastopt", "Top level: backends, threads, flat parameters"),
    ("fastopt.optim", "Optimizers, schedules, clipping, checkpoints"),
    ("fastopt.optim.lr_scheduler", "torch.optim.lr_scheduler's schedulers over fastopt optimizers"),
    ("fastopt.nn", "Layers and networks"),
    ("fastopt.nn.init", "Weight initialisation"),
    ("fastopt.train", "Training loop"),
    ("fastopt.data", "Data sets"),
    ("fastopt.book", "The book's classes"),
    ("fastopt.search", "Hyperparameter search"),
    ("fastopt.techniques", "Techniques the chapter names"),
    ("fastopt.experiments", "The chapter's experiments"),
    ("fastopt.bench", "Benchmarks"),
    ("fastopt.plots", "Figures"),
    # modules added later are documented as soon as they exist
    ("fastopt.sklearn", "scikit-learn estimators"),
    ("fastopt.distributed", "Data-parallel training on MPI"),
]


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    old = None
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            old = fh.read()
    if old != text:  # unchanged files keep their time stamp: no needless rebuilds
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)


def _title(text, char="="):
    return f"{text}\n{char * len(text)}\n"


# --------------------------------------------------------------------------- API
def public_names(module):
    """The names a module exports: ``__all__``, else its own public classes and functions."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [k for k, v in vars(module).items()
                 if not k.startswith("_") and (inspect.isclass(v) or inspect.isfunction(v))
                 and (getattr(v, "__module__", "") or "").startswith(module.__name__)]
    out = []
    for name in names:
        obj = getattr(module, name, None)
        if name.startswith("__") or inspect.ismodule(obj) or obj is None:
            continue   # subpackages have their own pages; __version__ is shown in the index
        out.append(name)
    return out


def write_api():
    entries = []
    modules = {}
    for modname, _ in API_MODULES:
        try:
            modules[modname] = importlib.import_module(modname)
        except ImportError:
            pass
    for modname, blurb in API_MODULES:
        if modname not in modules:
            continue
        module = modules[modname]
        names = public_names(module)
        if modname == "fastopt":   # re-exports of a submodule are documented there
            elsewhere = {id(getattr(m, n)): f"{k}.{n}" for k, m in modules.items() if k != modname
                         for n in public_names(m)}
            again = [elsewhere[id(getattr(module, n))] for n in names
                     if id(getattr(module, n)) in elsewhere]
            names = [n for n in names if id(getattr(module, n)) not in elsewhere]
        lines = [_title(f"``{modname}``"), f".. automodule:: {modname}\n   :no-members:\n",
                 f".. currentmodule:: {modname}\n"]
        if modname == "fastopt":
            lines.append(f"``fastopt.__version__`` is ``{module.__version__!r}``. Also here: "
                         + ", ".join(f":obj:`~{full}`" for full in again) + ".\n")
        if names:
            lines.append(".. autosummary::\n   :toctree: ref\n   :nosignatures:\n")
            lines += [f"   {n}" for n in names]
        _write(os.path.join(GEN, "api", f"{modname}.rst"), "\n".join(lines) + "\n")
        entries.append((modname, blurb, len(names)))
    index = [_title("API reference"),
             "Every public name of fastopt, generated from its docstring. The optimizers'",
             "pages state each update rule and describe every parameter.\n",
             ".. toctree::\n   :maxdepth: 1\n   :hidden:\n"]
    index += [f"   {m}" for m, _, _ in entries]
    index += ["", ".. list-table::\n   :header-rows: 1\n", "   * - module\n     - what\n     - names"]
    index += [f"   * - :doc:`{m}`\n     - {b}\n     - {n}" for m, b, n in entries]
    _write(os.path.join(GEN, "api", "index.rst"), "\n".join(index) + "\n")


# ------------------------------------------------------------------------ guide
def _slug(heading):
    text = re.sub(r"[`*_()§.:]", "", heading).lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def readme_sections(text):
    """``(intro, [(heading, body), ...])`` of README.md split at its ``##`` headings."""
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    intro, rest = parts[0], parts[1:]
    return intro, [(rest[i].strip(), rest[i + 1]) for i in range(0, len(rest), 2)]


def write_guide():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as fh:
        intro, sections = readme_sections(fh.read())
    pages = []
    for heading, body in sections:
        slug = _slug(heading)
        # one level up: the section is the page's title, its ### are the page's sections
        body = re.sub(r"^(#{3,6}) ", lambda m: m.group(1)[1:] + " ", body, flags=re.M)
        _write(os.path.join(GEN, "guide", f"{slug}.md"), f"# {heading}\n{body}")
        pages.append(slug)
    intro = re.sub(r"^# .*\n", "", intro, count=1).strip()
    index = [_title("User guide"), "The README, one page per section.\n",
             ".. toctree::\n   :maxdepth: 2\n"]
    index += [f"   {p}" for p in pages]
    _write(os.path.join(GEN, "guide", "index.rst"), "\n".join(index) + "\n")
    _write(os.path.join(GEN, "intro.md"), intro + "\n")


# ---------------------------------------------------------------------- gallery
def write_gallery():
    from fastopt import experiments

    lines = [_title("Gallery: the chapter's experiments"),
             "Each experiment is one command, ``fastopt run <name>``, which writes the figure",
             "and every number in it (``<name>.json``) to ``--out``. The figures below come from",
             "``fastopt run <name> --quick`` on the bundled digits (``python docs/make_gallery.py``",
             "draws them again); the full runs use the book's settings and look alike with",
             "smoother curves.\n", ".. contents::\n   :local:\n"]
    for name, summary in experiments.available().items():
        exp = experiments.get(name)
        module = inspect.getmodule(exp.function)
        doc = inspect.cleandoc(module.__doc__ or "")
        lines += [_title(name, "-"), f"*{summary}*\n", ".. code-block:: bash\n",
                  f"   fastopt run {name}\n", doc + "\n" if doc else ""]
        png = os.path.join(HERE, "_static", "gallery", f"{name}.png")
        if os.path.exists(png):
            lines.append(f".. image:: /_static/gallery/{name}.png\n   :alt: {name}\n   :width: 100%\n")
    _write(os.path.join(GEN, "gallery.rst"), "\n".join(lines) + "\n")


# ------------------------------------------------------------------- benchmarks
def bench_files():
    """Every ``fastopt bench --json`` result of the project, oldest first."""
    files = sorted(glob.glob(os.path.join(ROOT, "benchmarks", "fastopt-bench-*.json"))
                   + glob.glob(os.path.join(HERE, "bench-history", "*.json")))
    runs = []
    for path in files:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        if isinstance(data, dict) and "runs" in data and "machine" in data:
            runs.append((path, data))
    runs.sort(key=lambda item: item[1].get("created", ""))
    return runs


def _fmt_time(seconds):
    if seconds is None:
        return ""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _find(run, case, size, impl):
    for rec in run["results"]:
        if rec["case"] == case and rec["size"] == size and rec["impl"] == impl:
            return rec
    return None


#: (label, case, size, implementation) of the history table and chart
HISTORY = [("train step (book net, batch 100)", "train-step", "batch-100", "numba"),
           ("Adam, book net", "adam", "book-net", "numba"),
           ("Adam 1e6", "adam", "1e6", "numba"),
           ("BatchNorm 128×100", "batchnorm", "128x100", "numba")]

IMPL_ORDER = ["bound", "numba", "cython", "numpy", "book-numpy", "torch-forloop", "torch-foreach",
              "torch-fused", "torch", "torch-aten", "torch-inplace"]


def _case_sizes(run):
    seen = []
    for rec in run["results"]:
        if (rec["case"], rec["size"]) not in seen:
            seen.append((rec["case"], rec["size"]))
    return seen


def _history_chart(runs, path):
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    from fastopt.plots import figure

    fig = figure(figsize=(9, 3.8))
    ax = fig.subplots()
    labels = [d.get("created", "")[:10] + "\n" + os.path.basename(p) for p, d in runs]
    for k, (label, case, size, impl) in enumerate(HISTORY):
        for threads, marker in ((1, "o"), (2, "s")):
            ys = []
            for _, d in runs:
                run = next((r for r in d["runs"] if r["threads"] == threads), None)
                rec = run and _find(run, case, size, impl)
                ys.append(rec["median_s"] * 1e6 if rec and rec.get("median_s") else float("nan"))
            if any(y == y for y in ys):
                ax.plot(range(len(runs)), ys, marker=marker, color=f"C{k}",
                        linestyle="-" if threads == 1 else "--", label=f"{label}, {threads} thr")
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(range(len(runs)), labels, fontsize=7)
    ax.set_xlim(-0.5, len(runs) - 0.5)
    ax.set_ylabel("median time (µs, log)")
    ax.set_title("fastopt (numba backend) over the recorded runs")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def write_benchmarks():
    runs = bench_files()
    lines = [_title("Benchmarks"),
             "Results of ``fastopt bench`` (float32; medians of interleaved rounds; threads set",
             "for fastopt, torch and the BLAS alike). Every JSON file written by",
             "``fastopt bench --json`` that is kept in ``benchmarks/fastopt-bench-*.json`` or",
             "``docs/bench-history/*.json`` is one run of the history below; add yours there and",
             "rebuild to compare machines or versions. The page is static: table and charts",
             "are drawn when the documentation is built.\n"]
    if not runs:
        lines.append("No results are recorded yet.")
        _write(os.path.join(GEN, "benchmarks.rst"), "\n".join(lines) + "\n")
        return
    os.makedirs(os.path.join(GEN, "bench"), exist_ok=True)
    # history
    lines += [_title("History", "-"), ".. list-table::\n   :header-rows: 1\n",
              "   * - run\n     - date\n     - machine\n     - fastopt\n     - threads"
              + "".join(f"\n     - {label}" for label, *_ in HISTORY)]
    for path, d in runs:
        m = d["machine"]
        for run in d["runs"]:
            cells = [os.path.basename(path), d.get("created", "")[:16].replace("T", " "),
                     f"{m.get('cpu', '?')}, {m.get('cpu_count', '?')} CPUs, Python {m.get('python', '?')}",
                     str(m.get("fastopt", "?")), str(run["threads"])]
            for _, case, size, impl in HISTORY:
                rec = _find(run, case, size, impl)
                cells.append(_fmt_time(rec.get("median_s")) if rec else "")
            lines.append("   * - " + "\n     - ".join(c or "–" for c in cells))
    lines.append("")
    try:
        _history_chart(runs, os.path.join(GEN, "bench", "history.png"))
        lines.append(".. image:: bench/history.png\n   :alt: benchmark history\n   :width: 100%\n")
    except ImportError:
        pass
    # the newest run in full
    path, d = runs[-1]
    m = d["machine"]
    lines += [_title(f"Newest run: {os.path.basename(path)}", "-"),
              f"{d.get('created', '')}; {m.get('cpu')}, {m.get('cpu_count')} CPUs; "
              f"Python {m.get('python')}, NumPy {m.get('numpy')}, Numba {m.get('numba')}, "
              f"torch {m.get('torch', '–')}; backends {', '.join(m.get('backends', []))}.\n"]
    png = os.path.splitext(path)[0] + ".png"
    if os.path.exists(png):
        shutil.copyfile(png, os.path.join(GEN, "bench", os.path.basename(png)))
        lines.append(f".. image:: bench/{os.path.basename(png)}\n   :alt: benchmark chart\n"
                     "   :width: 100%\n")
    for run in d["runs"]:
        impls = [i for i in IMPL_ORDER if any(r["impl"] == i for r in run["results"])]
        impls += sorted({r["impl"] for r in run["results"]} - set(impls))
        lines += [_title(f"{run['threads']} thread(s): median time per call", "~"),
                  "``×`` is how many times faster numba is than that implementation.\n",
                  ".. list-table::\n   :header-rows: 1\n   :class: bench-table\n",
                  "   * - case\n     - size" + "".join(f"\n     - {i}" for i in impls)]
        for case, size in _case_sizes(run):
            cells = [case, size]
            for impl in impls:
                rec = _find(run, case, size, impl)
                if not rec or not rec.get("median_s"):
                    cells.append("–")
                    continue
                text = _fmt_time(rec["median_s"])
                ratio = (rec.get("ratios") or {}).get("numba")
                if ratio and impl not in ("numba", "bound"):
                    text += f" ({ratio:.2f}×)"
                cells.append(text)
            lines.append("   * - " + "\n     - ".join(cells))
        goals = run.get("goals") or []
        if goals:
            lines += ["", ".. list-table:: goals\n   :header-rows: 1\n",
                      "   * - goal\n     - value\n     - target\n     - met"]
            for g in goals:
                value = g.get("value")
                fmt = (_fmt_time(value) if g.get("metric") == "time"
                       else "–" if value is None else f"{value:.3g}")
                target = _fmt_time(g["target"]) if g.get("metric") == "time" else f"{g['target']:g}"
                met = {True: "yes", False: "no", None: "–"}[g.get("met")]
                lines.append(f"   * - {g['label']}\n     - {fmt}\n     - {g['op']} {target}\n     - {met}")
        lines.append("")
    _write(os.path.join(GEN, "benchmarks.rst"), "\n".join(lines) + "\n")


# -------------------------------------------------------------------------- CLI
def write_cli():
    from fastopt import cli

    os.environ["COLUMNS"] = "88"
    parser = cli.build_parser()
    lines = [_title("Command line"), "``fastopt --help`` and the help of every subcommand.\n"]
    blocks = [("fastopt", parser)]
    for action in parser._subparsers._group_actions:       # the subcommands, in order
        blocks += [(f"fastopt {name}", p) for name, p in action.choices.items()]
    for title, p in blocks:
        text = p.format_help()
        lines += [_title(title, "-"), ".. code-block:: text\n",
                  "\n".join("   " + ln if ln else "" for ln in text.splitlines()) + "\n"]
    _write(os.path.join(GEN, "cli.rst"), "\n".join(lines) + "\n")


def write_changelog():
    with open(os.path.join(ROOT, "CHANGELOG.md"), encoding="utf-8") as fh:
        _write(os.path.join(GEN, "changelog.md"), fh.read())


def generate(app=None):
    shutil.rmtree(GEN, ignore_errors=True)     # no stale pages of names that went away
    os.makedirs(GEN, exist_ok=True)
    write_changelog()
    write_guide()
    write_api()
    write_gallery()
    write_benchmarks()
    write_cli()


def skip_foreign_member(app, what, name, obj, skip, options):
    """Leave out members a class inherits from another library (e.g. scikit-learn's
    ``set_*_request``): their docstrings refer to that library's glossary."""
    module = getattr(obj, "__module__", None) or ""
    if what == "class" and module and not module.startswith("fastopt"):
        return True
    return None


#: (object name, text, replacement): reST slips in docstrings of modules this build does
#: not own, mended for the page only (fix them at the source and drop the entry)
DOCSTRING_FIXES = [("fastopt.nn.init.fans", "*kernel)", r"\*kernel)"),
                   ("fastopt.distributed.Context.check_same", "*description*s", r"*description*\ s")]

#: What the optimizers' hyperparameters mean, for the entries of a Parameters section
#: that give only a type and a default (the book's classes, whose signatures are the
#: book's). fastopt.optim's shared meanings, plus the book's own names. A docstring's
#: own description always wins.
PARAMETER_GLOSSARY = {
    **MEANINGS,
    "beta1": "β₁: decay rate of the running average m of the gradients.",
    "beta2": "β₂: decay rate of the running average v of the squared gradients.",
    "decay_rate": "Decay rate ρ of the running average h of squared gradients.",
}

_PARAM = re.compile(r"^([A-Za-z_*][\w*]*(?:\s*,\s*[A-Za-z_*][\w*]*)*)\s+:\s*(.*)$")
_RULE = re.compile(r"^-{3,}$")


def _is_header(lines, i):
    return (i + 1 < len(lines) and lines[i].strip() and not lines[i].startswith(" ")
            and _RULE.match(lines[i + 1].strip()) is not None)


def _entry_end(lines, i):
    """Index after the parameter entry starting at *i* (its indented description)."""
    j = i + 1
    while j < len(lines) and (lines[j].startswith(" ") or not lines[j].strip()):
        if not lines[j].strip() and (j + 1 >= len(lines) or not lines[j + 1].startswith(" ")):
            break
        j += 1
    return j


def normalise_parameters(lines, obj=None):
    """Make a numpydoc docstring's parameter lists render as such (in place).

    * a blank line before every section header;
    * names continued over several lines (``a_, b_,`` / ``c_``) joined into one line;
    * ``name : type`` entries written before the ``Parameters`` header (e.g. a class's own
      hyperparameters above a shared block) moved into that section, which is created
      where there is none;
    * entries with a type but no description get the :data:`PARAMETER_GLOSSARY` text;
    * a class with no Parameters section at all whose every ``__init__`` parameter is in
      the glossary gets one from its signature (the book's optimizers).
    """
    i = 1
    while i < len(lines):
        if _is_header(lines, i) and lines[i - 1].strip():
            lines.insert(i, "")
        i += 1
    i = 0
    while i + 1 < len(lines):
        if (_PARAM.match(lines[i]) is None and lines[i].rstrip().endswith(",")
                and not lines[i].startswith(" ") and i + 1 < len(lines)
                and not lines[i + 1].startswith(" ") and lines[i + 1].strip()
                and any(_is_header(lines, k) and lines[k].strip() in ("Attributes", "Parameters")
                        for k in range(0, i))):
            lines[i] = lines[i].rstrip() + " " + lines.pop(i + 1).strip()
            continue
        i += 1
    first_header = next((k for k in range(len(lines)) if _is_header(lines, k)), len(lines))
    stray, keep, k = [], [], 0
    while k < first_header:
        if _PARAM.match(lines[k]) and k > 0:
            end = min(_entry_end(lines, k), first_header)
            stray += [ln for ln in lines[k:end] if ln.strip()]
            k = end
        else:
            keep.append(lines[k])
            k += 1
    params_at = next((k for k in range(len(lines)) if _is_header(lines, k)
                      and lines[k].strip() == "Parameters"), None)
    if stray:
        rest = lines[first_header:]
        if params_at is None:
            lines[:] = keep + ["", "Parameters", "----------"] + stray + [""] + rest
        else:
            at = params_at - first_header + 2
            lines[:] = keep + rest[:at] + stray + rest[at:]
    elif params_at is None and inspect.isclass(obj):
        try:
            sig = inspect.signature(obj)
        except (TypeError, ValueError):
            sig = None
        names = [q for q in (sig.parameters.values() if sig else [])
                 if q.kind not in (q.VAR_POSITIONAL, q.VAR_KEYWORD)]
        inherited = _inherited_parameters(obj, names)
        if inherited:
            lines[:] = lines + ["", "Parameters", "----------"] + inherited + [""]
        elif names and all(q.name in PARAMETER_GLOSSARY for q in names):
            entries = []
            for q in names:
                default = "" if q.default is q.empty else f", default {q.default!r}"
                kind = type(q.default).__name__ if q.default is not q.empty else "object"
                entries += [f"{q.name} : {kind}{default}", f"    {PARAMETER_GLOSSARY[q.name]}"]
            lines[:] = lines + ["", "Parameters", "----------"] + entries + [""]
    # descriptions for entries that only name a type
    in_params, out = False, []
    for k, line in enumerate(lines):
        out.append(line)
        if _is_header(lines, k):
            in_params = line.strip() == "Parameters"
            continue
        m = _PARAM.match(line) if in_params else None
        if m:
            nxt = lines[k + 1] if k + 1 < len(lines) else ""
            names = [n.strip() for n in m.group(1).split(",")]
            if not nxt.startswith(" ") and len(names) == 1 and names[0] in PARAMETER_GLOSSARY:
                out.append("    " + PARAMETER_GLOSSARY[names[0]])
    lines[:] = out


def _inherited_parameters(cls, names):
    """The Parameters entries of the nearest fastopt base class that documents every
    argument of *cls* (``AdamW``: "Takes the arguments of Adam"), with *cls*'s defaults."""
    for base in cls.__mro__[1:]:
        if not (base.__module__ or "").startswith("fastopt") or not base.__doc__:
            continue
        lines = inspect.cleandoc(base.__doc__).splitlines()
        normalise_parameters(lines, base)
        at = next((k for k in range(len(lines)) if _is_header(lines, k)
                   and lines[k].strip() == "Parameters"), None)
        if at is None:
            continue
        end = next((k for k in range(at + 2, len(lines)) if _is_header(lines, k)), len(lines))
        entries = [ln for ln in lines[at + 2:end] if ln.strip()]
        documented = {n.strip() for ln in entries if _PARAM.match(ln)
                      for n in _PARAM.match(ln).group(1).split(",")}
        if not all(q.name in documented for q in names):
            continue
        defaults = {q.name: q.default for q in names if q.default is not q.empty}
        out = []
        for ln in entries:
            m = _PARAM.match(ln)
            if m and m.group(1) in defaults and ", default " in ln:
                head, _, _ = ln.partition(", default ")
                ln = f"{head}, default {defaults[m.group(1)]!r}"
            out.append(ln)
        return out
    return []


def mend_docstring(app, what, name, obj, options, lines):
    for target, text, replacement in DOCSTRING_FIXES:
        if name == target:
            lines[:] = [ln.replace(text, replacement) for ln in lines]
    if name.startswith("fastopt") and what in ("class", "function", "method"):
        normalise_parameters(lines, obj if what == "class" else None)


def public_bases(app, name, obj, options, bases):
    """"Bases:" names public classes only (a private base is an implementation detail)."""
    def public(base):
        if not getattr(base, "__name__", "").startswith("_"):
            return [base]
        return [p for b in getattr(base, "__bases__", ()) for p in public(b)]

    bases[:] = list(dict.fromkeys(p for b in bases for p in public(b)))


def setup(app):
    app.connect("autodoc-process-bases", public_bases)
    app.connect("autodoc-process-docstring", mend_docstring, priority=100)
    app.connect("autodoc-skip-member", skip_foreign_member)
    # config-inited: before Sphinx lists the source files and autosummary reads them
    app.connect("config-inited", lambda app, config: generate(app))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
