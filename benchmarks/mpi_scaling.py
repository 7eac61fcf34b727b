"""Data parallelism on one machine: ``mpiexec -n 2`` x 1 thread against 1 process x 2 threads.

    python benchmarks/mpi_scaling.py [--steps 15] [--json out.json]

Two networks, float32, Adam, the same global batch in every configuration:

``mlp``       784 -> 1000 x 3 -> 10 (ReLU), batch 512: compute dominates (about 2.8 M
              parameters, 11 MB of gradients)
``book-net``  the book's 784 -> 100 x 5 -> 10 with BatchNorm + ReLU + Dropout, batch
              100 (fastopt.bench's training-step case; per-rank batch norm)

For each: seconds per step (the fastest of 3 blocks of ``--steps`` steps) (gradient + averaging + optimizer step) of one process
at 1 and 2 threads, and of 2 ranks x 1 thread (each rank half the batch), with the
ranks' time inside the gradient Allreduce (including any wait for the slower rank)
and a bare Allreduce of the same buffer. Needs ``fastopt[mpi]``. Figures from a
shared 2-core machine are indicative only.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

THREAD_ENV = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
NETS = {"mlp": 512, "book-net": 100}
BLOCKS = 3  # timed blocks of --steps steps each; the fastest is reported (the machine is shared)


def build(name, seed=0):
    from fastopt import nn, optim
    from fastopt.bench.ours import make_train_net

    if name == "book-net":
        return make_train_net(seed)
    rng = np.random.default_rng(seed)
    sizes = [784, 1000, 1000, 1000, 10]
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        W = (rng.standard_normal((a, b)) * np.sqrt(2 / a)).astype(np.float32)
        layers.append(nn.Affine(W, np.zeros(b, np.float32)))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    net = nn.Sequential(layers)
    return net, optim.Adam(net.params, lr=1e-3)


def batch(n, seed=1):
    rng = np.random.default_rng(seed)
    return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n)


def run(name, steps, distributed):
    """Time *steps* training steps (after 3 warm-up steps) in this process / rank."""
    global_batch = NETS[name]
    net, opt = build(name)
    x, t = batch(global_batch)
    rank, size, ctx = 0, 1, None
    if distributed:
        from fastopt import distributed as dist

        ctx = dist.init()
        rank, size = ctx.rank, ctx.size
        dist.prepare_network(net, ctx)
        opt = dist.DistributedOptimizer(opt, net.params, context=ctx, network=net)
        lo, hi = dist.shard_bounds(global_batch, rank, size)
        x, t = x[lo:hi], t[lo:hi]
    for _ in range(3):
        net.gradient(x, t)
        opt.step()
    blocks = []  # (seconds per step, seconds in Allreduce per step) of each block; the best counts
    for _ in range(BLOCKS):
        if ctx is not None:
            ctx.barrier()
            ctx.comm_seconds = 0.0
        start = time.perf_counter()
        for _ in range(steps):
            net.gradient(x, t)
            opt.step()
        if ctx is not None:
            ctx.barrier()
        blocks.append(((time.perf_counter() - start) / steps,
                       ctx.comm_seconds / steps if ctx is not None else 0.0))
    step, comm = min(blocks)
    out = {"net": name, "global_batch": global_batch, "step_s": step,
           "params": int(sum(b.size for b in net.params.buffers.values()))}
    if ctx is not None:
        out["allreduce_s"] = comm
        buf = next(iter(net.params.grad_buffers.values())).copy()
        ctx.barrier()
        start = time.perf_counter()
        for _ in range(steps):
            ctx.sum_(buf)
        out["bare_allreduce_s"] = (time.perf_counter() - start) / steps
        everyone = ctx.allgather_obj(out)
        out = {**everyone[0], "step_s": max(o["step_s"] for o in everyone),
               "allreduce_s": [o["allreduce_s"] for o in everyone],
               "bare_allreduce_s": max(o["bare_allreduce_s"] for o in everyone), "ranks": size}
    return out


def child(args):
    """One configuration, in its own process (or as a rank); prints one JSON line (rank 0)."""
    distributed = args.child == "mpi"
    if not distributed:
        from fastopt import set_num_threads

        set_num_threads(args.threads)
    results = [run(name, args.steps, distributed) for name in NETS]
    if not distributed:
        print(json.dumps(results))
    else:
        from fastopt import distributed as dist

        if dist.init().rank == 0:
            print(json.dumps(results))


def launch(kind, threads, steps):
    env = {**os.environ, **{k: str(threads) for k in THREAD_ENV}}
    cmd = [sys.executable, __file__, "--child", kind, "--threads", str(threads), "--steps", str(steps)]
    if kind == "mpi":
        mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
        cmd = [mpiexec if os.path.exists(mpiexec) else "mpiexec", "-n", "2", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("[")]
    return json.loads(lines[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--child", choices=("one", "mpi"), help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    configs = {"1 process x 1 thread": launch("one", 1, args.steps),
               "1 process x 2 threads": launch("one", 2, args.steps),
               "2 ranks x 1 thread": launch("mpi", 1, args.steps)}
    print(f"{'network':<10} {'configuration':<22} {'step ms':>9} {'Allreduce ms (rank 0, 1)':>26} "
          f"{'bare Allreduce ms':>18}")
    for i, name in enumerate(NETS):
        for label, results in configs.items():
            r = results[i]
            ar = ", ".join(f"{a * 1e3:.2f}" for a in r["allreduce_s"]) if "allreduce_s" in r else "-"
            bare = f"{r['bare_allreduce_s'] * 1e3:.2f}" if "bare_allreduce_s" in r else "-"
            print(f"{name:<10} {label:<22} {r['step_s'] * 1e3:>9.2f} {ar:>26} {bare:>18}")
        mb = configs["2 ranks x 1 thread"][i]["params"] * 4 / 1e6
        print(f"{'':<10} ({configs['1 process x 1 thread'][i]['params']} parameters, {mb:.1f} MB "
              f"of float32 gradients per rank per step, global batch {NETS[name]})")
    print("Indicative: a 2-core machine shared with other work.")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(configs, fh, indent=1)


if __name__ == "__main__":
    main()
