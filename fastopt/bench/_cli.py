"""``fastopt bench``: the command-line face of :mod:`fastopt.bench`."""
from __future__ import annotations

import argparse
import sys
from typing import Any


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--threads takes comma-separated integers, got {text!r}") from None
    if not values:
        raise ValueError("--threads needs at least one thread count")
    return values


def _str_list(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def register(subparsers: Any) -> None:
    """Add the ``bench`` subcommand to *subparsers* (an ``argparse`` subparsers object)."""
    p = subparsers.add_parser(
        "bench", help="time the kernels and a training step against the streaming bound, "
                      "NumPy, the book's code and PyTorch",
        description="Measure the streaming bound, then time every optimizer kernel, batch norm,\n"
                    "dropout and a whole training step of the book's network for each fastopt\n"
                    "backend and each peer (float32). Prints a table per thread count and how\n"
                    "far each performance goal is met.")
    p.add_argument("--quick", action="store_true",
                   help="fewer cases (no 1e7 buffers), one round: about 20 s")
    p.add_argument("--threads", default=None, metavar="N[,N...]",
                   help="thread counts to run, e.g. 1,2 (default: the current count, "
                        "fastopt.get_num_threads())")
    p.add_argument("--cases", default=None, metavar="ID[,ID...]",
                   help="only these cases (see --list)")
    p.add_argument("--impls", default=None, metavar="NAME[,NAME...]",
                   help="only these implementations (numba, numpy, book-numpy, torch-fused, ...)")
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds (full: 3, quick: 1)")
    p.add_argument("--repeat", type=int, default=None, help="samples per round (full: 5)")
    p.add_argument("--startup", choices=("auto", "on", "off"), default="auto",
                   help="time import and the first step in fresh processes, Numba cache warm and "
                        "cold (auto: in a full run of every case)")
    p.add_argument("--json", metavar="PATH", help="write the results (samples included) as JSON")
    p.add_argument("--png", metavar="PATH", help="write a chart (needs matplotlib)")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(run=_cmd_bench)


def _cmd_bench(args: argparse.Namespace) -> int:
    from . import cases, report, runner

    if args.list:
        for case in cases.CASES:
            sizes = ", ".join(s.label for s in case.sizes)
            bpe = f"{case.bytes_per_elem} B/elem" if case.bytes_per_elem else "-"
            print(f"{case.id:<14} {bpe:<10} [{sizes}]  {case.title}; "
                  f"peers: {', '.join(case.peers) or '-'}")
        return 0
    thread_counts = _int_list(args.threads) if args.threads else None
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    data = runner.run(quick=args.quick, thread_counts=thread_counts,
                      case_ids=_str_list(args.cases) if args.cases else None,
                      impls=_str_list(args.impls) if args.impls else None,
                      rounds=args.rounds, repeat=args.repeat,
                      startup=None if args.startup == "auto" else args.startup == "on",
                      progress=progress)
    report.finalize(data)
    print(report.format_report(data))
    if args.json:
        report.write_json(data, args.json)
        print(f"wrote {args.json}")
    if args.png:
        report.plot(data, args.png)
        print(f"wrote {args.png}")
    return 0
