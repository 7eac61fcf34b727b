"""The ``fastopt`` command.

``fastopt info``   versions, backends, threads
``fastopt paths``  the book's optimizer paths on f(x, y) = x²/20 + y² (§6.1.7)
"""
import argparse
import json
import sys

from . import _config


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


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fastopt", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="show versions, backends and threads")
    info.add_argument("--json", action="store_true", help="print as JSON")
    info.set_defaults(run=_cmd_info)
    paths = sub.add_parser("paths", help="the book's optimizer paths on x^2/20 + y^2")
    paths.add_argument("--steps", type=int, default=30, help="updates per optimizer (default 30)")
    paths.add_argument("--backend", default=None, help="numba, numpy or cython")
    paths.add_argument("--json", metavar="PATH", help="write every point to a JSON file")
    paths.add_argument("--plot", metavar="PNG", help="draw the paths (needs matplotlib)")
    paths.set_defaults(run=_cmd_paths)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, TypeError, ImportError) as exc:
        print(f"fastopt {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
