"""The default thread policy against fixed counts, on a quiet and on a busy machine.

    python benchmarks/thread_policy.py          # quiet: nothing else should run
    python benchmarks/thread_policy.py busy     # one busy-loop process per core, for 10 min at most
    python benchmarks/thread_policy.py [busy] train   # `fastopt train`: default vs --threads 1

Times (ms, median of 5 interleaved rounds, with min-max) of a 784-1000x3-10 training
step at batch 256 (batch norm, Adam, float32), the book's network at batch 100 and Adam
over 1e7 parameters, each at 1 thread, at the machine's core count and at the default
policy (``fastopt.set_num_threads("auto")``). The policy should be as fast as the better
of the fixed counts: parallel on a quiet machine for large work, one thread for small
work and whenever other processes hold the cores.
"""
import os, subprocess, sys, time, statistics as st
import fastopt as fo
import numpy as np
from fastopt import book, optim
from fastopt._threads import max_threads as fastopt_cores
busy = "busy" in sys.argv[1:]


def busy_processes():
    """One busy-loop process per core (each ends by itself after 10 minutes)."""
    code = "import time\ne = time.time() + 600\nwhile time.time() < e: pass"
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(os.cpu_count())]
    time.sleep(1)
    return procs


if "train" in sys.argv[1:]:  # whole `fastopt train` runs in fresh processes, interleaved
    import tempfile
    procs = busy_processes() if busy else []
    walls = {"auto": [], "1": []}
    try:
        with tempfile.TemporaryDirectory() as out:
            for _ in range(5):
                for threads in walls:
                    t0 = time.perf_counter()
                    subprocess.run([sys.executable, "-m", "fastopt.cli", "train", "--threads", threads,
                                    "--progress", "off", "--out", out], check=True,
                                   stdout=subprocess.DEVNULL)
                    walls[threads].append(time.perf_counter() - t0)
    finally:
        for pr in procs:
            pr.kill()
    med = {k: st.median(v) for k, v in walls.items()}
    print("busy" if busy else "quiet", "fastopt train wall s:",
          {k: f"{med[k]:.2f} [{min(v):.2f}-{max(v):.2f}]" for k, v in walls.items()},
          f"default/1 thread: {med['auto'] / med['1']:.2f}")
    sys.exit()
rng = np.random.default_rng(0)
net = book.MultiLayerNetExtend(784, [1000] * 3, 10, use_batchnorm=True, seed=0, dtype=np.float32)
opt = optim.Adam(net.params, lr=1e-3)
x = rng.random((256, 784), dtype=np.float32); t = rng.integers(0, 10, 256)
small = book.MultiLayerNetExtend(784, [100] * 5, 10, use_batchnorm=True, seed=0, dtype=np.float32)
sopt = optim.Adam(small.params, lr=1e-3)
xs, ts = x[:100], t[:100]
p = np.zeros(10**7, np.float32); g = np.ones(10**7, np.float32)
aopt = optim.Adam([p], lr=1e-3)
np.random.seed(0)
script_net, script_opt = book.MultiLayerNet(784, [100] * 4, 10), book.Adam()
xb, tb = x[:128], t[:128]
def script_step():  # the book scripts' float64 step: gradient, update, loss
    script_opt.update(script_net.params, script_net.gradient(xb, tb)); script_net.loss(xb, tb)
def big_step():
    net.gradient(x, t); opt.step()
def small_step():
    small.gradient(xs, ts); sopt.step()
def adam():
    aopt.step([g])
cases = {"784-1000x3-10 b256 step": (big_step, 10), "book net b100 step": (small_step, 100),
         "book script f64 b128 step": (script_step, 50), "Adam 1e7": (adam, 10)}
for fn, n in cases.values():
    for _ in range(3): fn()
procs = busy_processes() if busy else []
CORES = str(max(2, fastopt_cores()))
res = {(c, m): [] for c in cases for m in ("1", CORES, "auto")}
try:
    for r in range(5):
        for mode in ("1", CORES, "auto"):
            fo.set_num_threads(int(mode) if mode != "auto" else "auto")
            for c, (fn, n) in cases.items():
                t0 = time.perf_counter()
                for _ in range(n): fn()
                res[c, mode].append((time.perf_counter() - t0) / n * 1e3)
finally:
    for pr in procs: pr.kill()
print("busy" if busy else "quiet", os.getloadavg())
for c in cases:
    med = {m: st.median(res[c, m]) for m in ("1", CORES, "auto")}
    print(f"{c:26s} " + "  ".join(f"{m:>4} {med[m]:8.3f} ms [{min(res[c, m]):.3f}-{max(res[c, m]):.3f}]"
                                  for m in med)
          + f"   auto/1: {med['auto'] / med['1']:.2f}  1/{CORES}: {med['1'] / med[CORES]:.2f}")
