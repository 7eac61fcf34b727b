"""``fastopt run <experiment>``: the command-line face of :mod:`fastopt.experiments`."""
from . import Settings, available, run


def register(subparsers):
    p = subparsers.add_parser("run", help="run one of the chapter's experiments (--list shows them)")
    p.add_argument("experiment", nargs="?", help="experiment name (see --list)")
    p.add_argument("--list", action="store_true", help="list the experiments and exit")
    p.add_argument("--quick", action="store_true", help="small settings that finish in seconds")
    p.add_argument("--seed", type=int, default=0, help="seeds every random choice")
    p.add_argument("--out", default="fastopt-out", help="folder for <experiment>.json and .png")
    p.add_argument("--data", choices=("digits", "mnist"), default="digits",
                   help="scikit-learn's bundled 8x8 digits, or MNIST from --mnist-dir")
    p.add_argument("--mnist-dir", help="folder with the four MNIST IDX files")
    p.add_argument("--progress", choices=("auto", "on", "off"), default="auto",
                   help="progress bars (auto: only on a terminal)")
    from ..cli import add_threads_option

    add_threads_option(p)
    p.set_defaults(run=_cmd_run)


def _cmd_run(args):
    if not args.list and not args.experiment:
        raise ValueError("name an experiment to run, e.g. fastopt run batchnorm "
                         "(fastopt run --list shows them)")
    if args.list:
        width = max(map(len, available()), default=0)
        for name, summary in available().items():
            print(f"{name:<{width}}  {summary}")
        return 0
    settings = Settings(quick=args.quick, seed=args.seed, out=args.out, data=args.data,
                        mnist_dir=args.mnist_dir,
                        progress=None if args.progress == "auto" else args.progress == "on")
    run(args.experiment, settings)
    return 0
