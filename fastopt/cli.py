"""The ``fastopt`` command: ``fastopt --help`` lists the subcommands, ``fastopt CMD --help``
the options of each, with their defaults."""
import argparse
import importlib
import json
import math
import sys

from . import _config, kernel_spec


def _cmd_info(args):
    if args.json:
        print(json.dumps(_config.config(), indent=2))
    else:
        _config.show_config()
    return 0


def _cmd_paths(args):
    from .demo import OPTIMIZER_PATHS, optimizer_paths

    result = optimizer_paths(steps=args.steps, backend=args.backend)
    print(f"f(x, y) = x^2/20 + y^2 from {tuple(result['start'])}, {args.steps} updates "
          f"(backend: {result['backend']}); minimum at (0, 0)")
    print(f"{'optimizer':<10} {'settings':<26} {'x':>10} {'y':>10} {'f(x, y)':>11}")
    for name, entry in result["paths"].items():
        x, y = entry["path"][-1]
        settings = ", ".join(f"{k}={v}" for k, v in OPTIMIZER_PATHS[name][1].items())
        print(f"{name:<10} {settings:<26} {x:>10.5f} {y:>10.5f} {entry['f'][-1]:>11.3e}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)
        print(f"wrote {args.json}")
    if args.plot:
        from .demo import plot_paths

        plot_paths(result, args.plot)
        print(f"wrote {args.plot}")
    return 0


OPTIMIZER_CHOICES = tuple(kernel_spec.OPTIMIZER_CHOICES)


def _check_train_args(args):
    """Refuse ``fastopt train`` options out of range (ValueError naming the option).

    Returns the hidden layer widths parsed from ``--hidden``.
    """
    def check(option, value, ok, expected):
        if not ok(value):
            raise ValueError(f"{option} must be {expected}, got {value!r}")

    check("--epochs", args.epochs, lambda v: v >= 1, "an integer >= 1")
    check("--batch-size", args.batch_size, lambda v: v >= 1, "an integer >= 1")
    check("--seed", args.seed, lambda v: v >= 0, "an integer >= 0")
    check("--lr", args.lr, lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0")
    check("--weight-decay", args.weight_decay, lambda v: math.isfinite(v) and v >= 0,
          "a finite number >= 0")
    check("--dropout", args.dropout, lambda v: 0 <= v < 1, "a ratio in [0, 1)")
    try:
        hidden = [int(h) for h in args.hidden.split(",") if h.strip()]
    except ValueError:
        hidden = None
    check("--hidden", args.hidden, lambda v: hidden and min(hidden) >= 1,
          "comma-separated layer widths >= 1, e.g. 256,128")
    return hidden


def _cmd_train(args):
    import os
    import time

    import numpy as np

    from . import data, optim
    from .book import MultiLayerNetExtend
    from .train import Trainer

    hidden = _check_train_args(args)
    if args.data == "mnist":
        if not args.mnist_dir:
            raise ValueError("--data mnist needs --mnist-dir DIR (the four IDX files)")
        (x, t), (xt, tt) = data.load_mnist(args.mnist_dir)
    else:
        (x, t), (xt, tt) = data.load_digits(seed=args.seed)
    dtype = np.dtype(args.dtype)
    x, xt = x.astype(dtype, copy=False), xt.astype(dtype, copy=False)
    net = MultiLayerNetExtend(x.shape[1], hidden, 10, weight_decay_lambda=args.weight_decay,
                              use_dropout=args.dropout > 0, dropout_ration=args.dropout,
                              use_batchnorm=not args.no_batchnorm, seed=args.seed, dtype=dtype,
                              dropout_seed=args.seed)
    opt = getattr(optim, kernel_spec.OPTIMIZER_CHOICES[args.optimizer])(net.params, lr=args.lr)
    trainer_class, options, say, ranks = Trainer, {}, print, ""
    if args.distributed:  # every rank runs this; rank 0 alone prints and writes files
        from . import distributed

        ctx = distributed.init()  # ImportError naming what to install, without mpi4py
        trainer_class, ranks = distributed.DistributedTrainer, f" per rank x {ctx.size} ranks"
        options = {"distributed": ctx, "sync_batchnorm": args.sync_batchnorm}
        say = print if ctx.rank == 0 else (lambda *a, **k: None)
    os.makedirs(args.out, exist_ok=True)  # on every rank: each checks where rank 0 writes
    checkpoint = os.path.join(args.out, "checkpoint.npz")
    say(f"training {net!r}\n  on {args.data}: {len(x)} train / {len(xt)} test samples, "
        f"{type(opt).__name__}(lr={args.lr}), batch {args.batch_size}{ranks}, {args.epochs} epochs, "
        f"{dtype}")
    trainer = trainer_class(net, opt, x, t, xt, tt, epochs=args.epochs, batch_size=args.batch_size,
                            seed=args.seed, checkpoint=checkpoint, **options,
                            progress=None if args.progress == "auto" else args.progress == "on")
    start = time.perf_counter()
    history = trainer.fit()
    seconds = time.perf_counter() - start
    say(f"test accuracy {history['val_acc'][-1]:.4f} (train {history['train_acc'][-1]:.4f}) "
        f"after {trainer.epoch} epochs, {trainer.iteration} steps, {seconds:.2f} s")
    if say is not print:
        return 0
    print(f"wrote {checkpoint}")
    with open(os.path.join(args.out, "history.json"), "w") as fh:
        json.dump(history, fh)
    try:
        from .plots import plot_history

        png = os.path.join(args.out, "loss.png")
        plot_history(history, png, title=f"{type(opt).__name__} on {args.data}")
        print(f"wrote {png}")
    except ImportError as exc:
        print(f"no loss curve: {exc}")
    return 0


# Modules that add their own subcommand: each has ``register(subparsers)``.
SUBCOMMAND_MODULES = ("fastopt.experiments._cli", "fastopt.bench._cli")

DESCRIPTION = """\
The training techniques of "Deep Learning from Scratch", chapter 6, fast on the CPU.

  fastopt info       versions, backends and threads
  fastopt train      train the book's network (batch norm, Adam) on real digits
  fastopt paths      the book's optimizer paths on f(x, y) = x²/20 + y² (section 6.1.7)
  fastopt run NAME   one of the chapter's experiments, with its figure (--list shows them)
  fastopt bench      time the kernels and a training step against NumPy, the book's code
                     and PyTorch on this machine

'fastopt COMMAND --help' shows the options of a command and their defaults.
"""


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Descriptions as written; every option with a value shows its default."""

    def _get_help_string(self, action):
        help_text = action.help or ""
        if (action.default is None or action.default is False or action.default == argparse.SUPPRESS
                or "%(default)" in help_text
                or "default" in help_text or not action.option_strings):
            return help_text
        return help_text + " (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose subcommands share the same help formatter."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def _version():
    from . import __version__

    return f"fastopt {__version__}"


def build_parser():
    """The ``fastopt`` argument parser with every subcommand registered."""
    parser = _Parser(prog="fastopt", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=_version(),
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)
    info = sub.add_parser("info", help="show versions, backends and threads")
    info.add_argument("--json", action="store_true", help="print as JSON")
    info.set_defaults(run=_cmd_info)
    tr = sub.add_parser("train", help="train the book's network on digits (or MNIST)")
    tr.add_argument("--data", choices=("digits", "mnist"), default="digits",
                    help="scikit-learn's bundled 8x8 digits, or MNIST from --mnist-dir")
    tr.add_argument("--mnist-dir", help="folder with the four MNIST IDX files")
    # defaults: >= 0.9777 test accuracy on digits for seeds 0-4 in about 0.4 s of training
    tr.add_argument("--hidden", default="256,128", help="hidden layer widths, comma-separated")
    tr.add_argument("--optimizer", choices=OPTIMIZER_CHOICES, default="adam", help="optimizer")
    tr.add_argument("--lr", type=float, default=2e-3, help="learning rate")
    tr.add_argument("--epochs", type=int, default=15, help="passes over the training set")
    tr.add_argument("--batch-size", type=int, default=32, help="samples per step")
    tr.add_argument("--weight-decay", type=float, default=0.0, help="the book's λ of ½λ‖W‖²")
    tr.add_argument("--dropout", type=float, default=0.0, help="dropout ratio (0: none)")
    tr.add_argument("--no-batchnorm", action="store_true",
                    help="no batch normalisation layers (they are on by default)")
    tr.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                    help="dtype of data, parameters and gradients")
    tr.add_argument("--seed", type=int, default=0,
                    help="seeds the weights, the batch order and the dropout masks")
    tr.add_argument("--progress", choices=("auto", "on", "off"), default="auto",
                    help="progress bar (auto: only on a terminal)")
    tr.add_argument("--out", default="fastopt-out", help="folder for checkpoint, history, plot")
    tr.add_argument("--distributed", action="store_true",
                    help="data-parallel over MPI ranks (mpiexec -n N fastopt train --distributed; "
                         "needs fastopt[mpi]); --batch-size is then per rank")
    tr.add_argument("--sync-batchnorm", action="store_true",
                    help="with --distributed: batch norm over the global batch, not per rank")
    add_threads_option(tr)
    tr.set_defaults(run=_cmd_train)
    paths = sub.add_parser("paths", help="the book's optimizer paths on x^2/20 + y^2")
    paths.add_argument("--steps", type=int, default=30, help="updates per optimizer")
    paths.add_argument("--backend", default=None,
                       help="numba, numpy or cython (default: the current backend)")
    paths.add_argument("--json", metavar="PATH", help="write every point to a JSON file")
    paths.add_argument("--plot", metavar="PNG", help="draw the paths (needs matplotlib)")
    paths.set_defaults(run=_cmd_paths)
    for module in SUBCOMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return parser


def add_threads_option(parser):
    """``--threads N|auto`` on a subcommand (applied by :func:`main` before it runs)."""
    parser.add_argument("--threads", default="auto", metavar="N|auto",
                        help="threads for the kernels and the BLAS (auto: one for small work, "
                             "the idle cores for large work; see the README's Threads)")


def _apply_threads(args):
    from . import _threads

    _threads.apply_environment()  # FASTOPT_NUM_THREADS: refused here with one line if bad
    threads = getattr(args, "threads", "auto")
    if args.command != "bench" and threads == "auto":
        _threads.policy.threads_for(0)  # start the thread pools now, not inside a timed run
    elif args.command != "bench":
        n = _threads.parse_thread_count(threads, "--threads")
        if n != "auto":
            if n > _threads.max_threads():
                raise ValueError(f"--threads must be at most {_threads.max_threads()} here, got {n}")
            _threads.set_num_threads(n)


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _apply_threads(args)
        return args.run(args)
    except (ValueError, TypeError, ImportError, OSError) as exc:
        print(f"fastopt {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
