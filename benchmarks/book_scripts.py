"""Run the book's own ch06 scripts with the book's ``common/`` and with ``fastopt.book``.

    python benchmarks/book_scripts.py PATH/TO/deep-learning-from-scratch [--threads 1|default]
        [--rounds N] [--json out.json] [script.py ...]

PATH is your checkout of the book's repository (oreilly-japan/deep-learning-from-scratch);
nothing of it is copied into fastopt. The tool makes two copies of it in a temporary
folder: the book's as it is, and one whose ``common/optimizer.py``,
``multi_layer_net.py``, ``multi_layer_net_extend.py`` and ``trainer.py`` are replaced by
``from fastopt.book import *``. The MNIST download cannot work offline, so both read an
MNIST-shaped stand-in that the book's ``dataset/mnist.py`` loads from ``mnist.pkl``:
scikit-learn's 8x8 digits upscaled to 28x28 with noise, 60,000 + 10,000 uint8 images.
Each script runs unchanged (``np.random.seed(0)`` first, ``plt.show`` a no-op), the two
versions interleaved per round, in fresh processes. Reported per script: the median
wall time of each, their ratio, the book's time inside ``np.dot`` (the BLAS products that
fastopt must run too: ``book / dot`` bounds any speed-up that keeps the book's bits) and
whether the two printed the same lines.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

SCRIPTS = ["optimizer_compare_naive.py", "optimizer_compare_mnist.py", "weight_init_compare.py",
           "batch_norm_test.py", "batch_norm_gradient_check.py", "overfit_weight_decay.py",
           "overfit_dropout.py", "hyperparameter_optimization.py"]
REPLACED = ("optimizer", "multi_layer_net", "multi_layer_net_extend", "trainer")

RUNNER = r'''
import contextlib, io, json, os, runpy, sys, time
root, script, out_path = sys.argv[1:4]
os.chdir(os.path.join(root, "ch06")); sys.path.insert(0, os.path.join(root, "ch06"))
import numpy as np
import matplotlib; matplotlib.use("Agg")
import matplotlib.pyplot as plt
plt.show = lambda *a, **k: None
dot_time = [0.0]
if os.environ.get("BOOK_DOT_TIMER"):
    _dot = np.dot
    def timed_dot(*a, **k):
        t = time.perf_counter()
        try:
            return _dot(*a, **k)
        finally:
            dot_time[0] += time.perf_counter() - t
    np.dot = timed_dot
np.random.seed(0)
out = io.StringIO()
t0 = time.perf_counter()
with contextlib.redirect_stdout(out):
    runpy.run_path(script, run_name="__main__")
seconds = time.perf_counter() - t0
with open(out_path, "w") as f:
    json.dump({"s": seconds, "dot_s": dot_time[0], "stdout": out.getvalue()}, f)
'''


def make_standin(path):
    """The MNIST-shaped stand-in the book's loader reads (``dataset/mnist.pkl``)."""
    import pickle

    import numpy as np
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(0)
    images = np.pad(np.kron(digits.images, np.ones((3, 3))), ((0, 0), (2, 2), (2, 2))) * (255 / 16)

    def draw(n):
        idx = rng.integers(0, len(images), n)
        x = np.clip(images[idx] + rng.normal(0, 20, (n, 28, 28)), 0, 255).astype(np.uint8)
        return x.reshape(n, 784), digits.target[idx].astype(np.uint8)

    (tr, trl), (te, tel) = draw(60_000), draw(10_000)
    with open(path, "wb") as f:
        pickle.dump({"train_img": tr, "train_label": trl, "test_img": te, "test_label": tel}, f, -1)


def prepare(book_repo, workdir):
    """(book copy, fastopt copy) of the repository's ch06, common and dataset folders."""
    roots = {}
    for name in ("book", "fastopt"):
        root = os.path.join(workdir, name)
        for part in ("ch06", "common", "dataset"):
            shutil.copytree(os.path.join(book_repo, part), os.path.join(root, part))
        roots[name] = root
    for module in REPLACED:
        with open(os.path.join(roots["fastopt"], "common", f"{module}.py"), "w") as f:
            f.write("from fastopt.book import *  # noqa: F401,F403 (fastopt's drop-in)\n")
    pkl = os.path.join(roots["book"], "dataset", "mnist.pkl")
    make_standin(pkl)
    shutil.copy(pkl, os.path.join(roots["fastopt"], "dataset", "mnist.pkl"))
    return roots


def run_once(root, script, threads, workdir, dot_timer):
    env = dict(os.environ)
    if threads != "default":
        env.update(OPENBLAS_NUM_THREADS=threads, OMP_NUM_THREADS=threads,
                   NUMBA_NUM_THREADS=threads, FASTOPT_NUM_THREADS=threads)
    if dot_timer:
        env["BOOK_DOT_TIMER"] = "1"
    out = os.path.join(workdir, "result.json")
    subprocess.run([sys.executable, "-c", RUNNER, root, script, out], env=env, check=True)
    with open(out) as f:
        return json.load(f)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("book_repo")
    parser.add_argument("scripts", nargs="*", default=SCRIPTS)
    parser.add_argument("--threads", default="1", help="1 (default) or 'default' (leave them)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--json", help="write the table as JSON")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        roots = prepare(args.book_repo, workdir)
        for script in args.scripts:
            times = {"book": [], "fastopt": []}
            dots, printed = [], {}
            for _ in range(args.rounds):
                for name in ("book", "fastopt"):
                    res = run_once(roots[name], script, args.threads, workdir, name == "book")
                    times[name].append(res["s"])
                    printed[name] = res["stdout"]
                    if name == "book":
                        dots.append(res["dot_s"])
            book, fast = statistics.median(times["book"]), statistics.median(times["fastopt"])
            row = {"script": script, "book_s": book, "fastopt_s": fast, "ratio": book / fast,
                   "book_dot_s": statistics.median(dots), "dot_bound": book / statistics.median(dots)
                   if statistics.median(dots) else None,
                   "same_output": printed["book"] == printed["fastopt"],
                   "rounds": times}
            rows.append(row)
            bound = f"{row['dot_bound']:.2f}x" if row["dot_bound"] else "-"
            print(f"{script:<34} book {book:8.2f} s  fastopt {fast:8.2f} s  {book / fast:5.2f}x  "
                  f"(book in np.dot {row['book_dot_s']:.1f} s: bound {bound})  "
                  f"same output: {row['same_output']}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
