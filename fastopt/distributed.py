"""Data-parallel training on MPI (through mpi4py), around the flat buffers.

The conventions are Horovod's and torch DDP's::

    from fastopt import distributed as dist

    ctx = dist.init()                                 # hvd.init(): the communicator
    net = ...; opt = fastopt.optim.Adam(net.params, lr=1e-3)
    dist.prepare_network(net, ctx)                    # per-rank dropout keys (+ sync_batchnorm=True)
    opt = dist.DistributedOptimizer(opt, net.params, context=ctx, network=net)
    #   checks that every rank built the same model, broadcasts parameters,
    #   network buffers and optimizer state from rank 0
    lo, hi = dist.shard_bounds(len(batch), ctx.rank, ctx.size)
    net.gradient(x[lo:hi], t[lo:hi]); opt.step(weight=(hi - lo) / len(batch))

or, all of it, :class:`DistributedTrainer` (``fastopt train --distributed``).

What a step costs: the gradients of a :class:`fastopt.nn.Sequential` live in one
flat buffer per dtype, so averaging them is one in-place ``Allreduce`` per dtype
(no allocation, no per-tensor calls). Every rank then runs the same optimizer
kernel on the same averaged gradient, so parameters stay identical without a
broadcast.

Determinism: ``reduction="allreduce"`` (default) uses ``MPI_Allreduce``; MPICH and
Open MPI choose its algorithm from the communicator size and the message size
only, so a fixed rank count gives a fixed summation order and bit-identical
runs (pin it with ``MPIR_CVAR_ALLREDUCE_INTRA_ALGORITHM=recursive_doubling`` on
MPICH, or ``OMPI_MCA_coll_tuned_use_dynamic_rules=1
OMPI_MCA_coll_tuned_allreduce_algorithm=<n>`` on Open MPI; avoid hardware
offload such as SHARP/HCOLL, whose order may vary). ``reduction="ordered"`` makes it
independent of the MPI library: ``Gather`` to rank 0 into a preallocated buffer, a
sum in rank order, ``Bcast``. Metrics (losses, accuracy counts) always use the
ordered form. Parameters are compared across ranks (a CRC of the flat buffers)
at every evaluation, so a library that hands ranks different bits is caught.

Failures: every collective runs under a watchdog; a rank that waits longer than
``timeout`` seconds (a peer died or hangs) prints which collective of which
step it was waiting in and exits, and the launcher ends the others.
"""
import functools
import hashlib
import json
import math
import os
import sys
import threading
import time
import warnings
import zlib

import numpy as np

from .nn.batchnorm import BatchNorm
from .optim.flat import FlatParams
from .train import Trainer

INSTALL_HINT = ('distributed training needs mpi4py and an MPI library: '
                'pip install "fastopt[mpi]" (mpi4py and the MPICH wheel)')
REDUCTIONS = ("allreduce", "ordered")
DEFAULT_TIMEOUT = 300.0


class DistributedError(RuntimeError):
    """A distributed run cannot go on (raised on every rank where it says so)."""


class ConfigurationError(DistributedError, ValueError):
    """Ranks disagree (model, data, settings) or the setup cannot work; raised on every rank."""


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return MPI


def shard_bounds(n, rank, size):
    """``(lo, hi)``: rank *rank*'s contiguous slice of *n* items split over *size* ranks.

    The slices tile ``range(n)`` in rank order and differ in length by at most
    one (``n = size·b`` gives every rank exactly ``b``).
    """
    return rank * n // size, (rank + 1) * n // size


class _Watchdog:
    """Ends the process when one collective has waited longer than *timeout* seconds.

    The hot path only writes two attributes; a daemon thread (which runs while
    mpi4py waits in MPI with the GIL released) checks them.
    """

    def __init__(self, rank, timeout):
        self.rank, self.timeout = rank, timeout
        self.since, self.what = None, ""
        self._thread = threading.Thread(target=self._run, name="fastopt-mpi-watchdog", daemon=True)
        self._thread.start()

    def _run(self):
        while True:
            time.sleep(min(1.0, self.timeout / 4))
            since = self.since
            if since is not None and time.monotonic() - since > self.timeout:
                sys.stderr.write(
                    f"fastopt.distributed: rank {self.rank}: no reply from the other ranks for "
                    f"{self.timeout:g} s in {self.what}: a rank died or hangs; exiting (the "
                    f"launcher stops the others). Raise the limit with FASTOPT_MPI_TIMEOUT.\n")
                sys.stderr.flush()
                os._exit(70)


class Context:
    """The communicator and the collectives fastopt uses (Horovod's ``hvd``, DDP's process group).

    Parameters
    ----------
    comm : mpi4py.MPI.Comm, optional
        Default ``MPI.COMM_WORLD``.
    reduction : {"allreduce", "ordered"}, optional
        How gradients are summed (see the module's notes on determinism);
        default ``FASTOPT_MPI_REDUCTION`` or ``"allreduce"``.
    timeout : float, optional
        Seconds a collective may wait before the watchdog ends the process;
        default ``FASTOPT_MPI_TIMEOUT`` or 300.

    Attributes
    ----------
    rank, size : int
    comm_seconds : float
        Wall time spent in gradient reductions so far (the benchmark reads it).
    step : int
        Gradient reductions done (named in the watchdog's message).
    """

    def __init__(self, comm=None, *, reduction=None, timeout=None):
        MPI = _mpi()
        if reduction is None:
            reduction = os.environ.get("FASTOPT_MPI_REDUCTION", "allreduce")
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
        if timeout is None:
            timeout = float(os.environ.get("FASTOPT_MPI_TIMEOUT", DEFAULT_TIMEOUT))
        if not (timeout > 0):
            raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
        self.MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.reduction = reduction
        self.watchdog = _Watchdog(self.rank, float(timeout))
        self.comm_seconds, self.step = 0.0, 0
        self._gather = {}

    @property
    def timeout(self):
        """Seconds a collective may wait before the watchdog ends the process (settable)."""
        return self.watchdog.timeout

    @timeout.setter
    def timeout(self, seconds):
        if not (seconds > 0):
            raise ValueError(f"timeout must be > 0 seconds, got {seconds!r}")
        self.watchdog.timeout = float(seconds)

    def __repr__(self):
        return (f"Context(rank {self.rank} of {self.size}, reduction={self.reduction!r}, "
                f"timeout={self.timeout:g} s)")

    # ---------------------------------------------------------------- collectives
    def _enter(self, what):
        wd = self.watchdog
        wd.what, wd.since = what, time.monotonic()

    def _exit(self):
        self.watchdog.since = None

    def sum_(self, buf, *, ordered=None):
        """Sum the 1-D contiguous *buf* over ranks, in place (every rank gets the same bits)."""
        ordered = self.reduction == "ordered" if ordered is None else ordered
        if self.size == 1:
            return buf
        self._enter(f"the reduction of step {self.step} ({buf.size} x {buf.dtype})")
        try:
            if ordered:
                self._ordered_sum(buf)
            else:
                self.comm.Allreduce(self.MPI.IN_PLACE, buf, op=self.MPI.SUM)
        finally:
            self._exit()
        return buf

    def _ordered_sum(self, buf):
        """Gather to rank 0 (a preallocated buffer), sum in rank order, Bcast."""
        key = (buf.dtype.str, buf.size)
        rows = self._gather.get(key)
        if rows is None and self.rank == 0:
            rows = self._gather[key] = np.empty((self.size, buf.size), buf.dtype)
        self.comm.Gather(buf, rows, root=0)
        if self.rank == 0:
            np.copyto(buf, rows[0])
            for r in range(1, self.size):
                np.add(buf, rows[r], out=buf)
        self.comm.Bcast(buf, root=0)

    def allgather_rows(self, vec, what="a statistics exchange"):
        """``(size, len(vec))`` array: every rank's *vec*, in rank order, on every rank."""
        vec = np.ascontiguousarray(vec, dtype=np.float64)
        out = np.empty((self.size, vec.size))
        if self.size == 1:
            out[0] = vec
            return out
        self._enter(what)
        try:
            self.comm.Allgather(vec, out)
        finally:
            self._exit()
        return out

    def ordered_total(self, vec, what="a metric reduction"):
        """Sum of *vec* over ranks in rank order (float64; the same bits on every rank)."""
        rows = self.allgather_rows(vec, what)
        total = rows[0].copy()
        for r in range(1, self.size):
            total += rows[r]
        return total

    def bcast_(self, buf, root=0, what="a broadcast"):
        """Broadcast *buf* (any contiguous array) from *root*, in place."""
        if self.size > 1:
            self._enter(what)
            try:
                self.comm.Bcast(buf, root=root)
            finally:
                self._exit()
        return buf

    def bcast_obj(self, obj, root=0, what="a broadcast"):
        if self.size == 1:
            return obj
        self._enter(what)
        try:
            return self.comm.bcast(obj, root=root)
        finally:
            self._exit()

    def allgather_obj(self, obj, what="a start-up check"):
        if self.size == 1:
            return [obj]
        self._enter(what)
        try:
            return self.comm.allgather(obj)
        finally:
            self._exit()

    def barrier(self, what="a barrier"):
        if self.size > 1:
            self._enter(what)
            try:
                self.comm.Barrier()
            finally:
                self._exit()

    def check_same(self, what, description):
        """Raise :class:`ConfigurationError` on every rank unless all ranks pass equal *description*s."""
        text = description if isinstance(description, str) else json.dumps(description, sort_keys=True,
                                                                              default=str)
        digest = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
        everyone = self.allgather_obj((digest, text), f"the start-up check of {what}")
        digests = [d for d, _ in everyone]
        if len(set(digests)) > 1:
            bad = [r for r, d in enumerate(digests) if d != digests[0]]
            diff = "; ".join(f"rank {r}: {everyone[r][1][:300]}" for r in [0] + bad[:3])
            raise ConfigurationError(
                f"rank {self.rank}: the ranks disagree on {what} (checksum {digests[0]} on rank 0, "
                f"different on rank(s) {bad}): {diff}")


_DEFAULT = None


def init(comm=None, **options):
    """The process's :class:`Context` (created on first call; Horovod's ``hvd.init()``)."""
    global _DEFAULT
    if comm is not None or options or _DEFAULT is None:
        ctx = Context(comm, **options)
        if comm is None and not options:
            _DEFAULT = ctx
        return ctx
    return _DEFAULT


# -------------------------------------------------------------------- model state
def _flat_buffers(params):
    """The flat buffers behind *params* (a FlatParams), or its arrays, in a fixed order."""
    if isinstance(params, FlatParams):
        return [params.buffers[dt] for dt in sorted(params.buffers, key=str)]
    return [params[k] for k in params]


def _grad_buffers(params, grads=None):
    if isinstance(params, FlatParams) and (grads is None or grads is params.grads):
        return [params.grad_buffers[dt] for dt in sorted(params.grad_buffers, key=str)]
    grads = params.grads if grads is None else grads
    out = []
    for k in params:
        g = grads[k]
        if not (isinstance(g, np.ndarray) and g.flags.c_contiguous and g.flags.writeable):
            raise TypeError(f"grads[{k!r}] must be a writeable C-contiguous array to be reduced in place")
        out.append(g.reshape(-1))
    return out


def _buffers(network):
    buffers = getattr(network, "buffers", None)
    return buffers() if callable(buffers) else {}


def model_description(network=None, optimizer=None, params=None):
    """What must agree across ranks: parameter and buffer names, shapes, dtypes, layers, optimizer."""
    params = network.params if params is None else params
    desc = {"params": [(k, list(np.shape(v)), str(np.asarray(v).dtype)) for k, v in params.items()]}
    if network is not None:
        desc["buffers"] = [(k, list(np.shape(v)), str(v.dtype)) for k, v in _buffers(network).items()]
        desc["network"] = repr(network)
    if optimizer is not None:
        general = _as_general(optimizer, params)
        sd = general.state_dict()
        desc["optimizer"] = [type(general).__name__, sd["options"],
                             [g["hyperparameters"] for g in sd["param_groups"]]]
    return desc


def _as_general(optimizer, params):
    """The fastopt.optim optimizer that updates *params*: *optimizer* bound to them (a
    fastopt.optim optimizer is its own, a fastopt.book one binds its general one)."""
    bind = getattr(optimizer, "bind", None)
    if bind is None:
        raise TypeError(f"cannot use a {type(optimizer).__name__} here: use a fastopt.optim or "
                        "fastopt.book optimizer")
    return bind(params)


def broadcast_parameters(params, context, root=0):
    """Copy rank *root*'s parameters to every rank, in place (one Bcast per flat buffer)."""
    for buf in _flat_buffers(params):
        context.bcast_(buf, root, "the broadcast of the parameters")


def broadcast_buffers(network, context, root=0):
    """Copy rank *root*'s network buffers (running statistics, dropout counters) to every rank."""
    for name, arr in _buffers(network).items():
        context.bcast_(arr, root, f"the broadcast of buffer {name}")


def broadcast_optimizer_state(optimizer, context, params=None, root=0):
    """Load rank *root*'s optimizer state (step counts, moments, schedules) on every rank."""
    general = _as_general(optimizer, params if params is not None else optimizer.params())
    state = context.bcast_obj(general.state_dict() if context.rank == root else None, root,
                              "the broadcast of the optimizer state")
    if context.rank != root:
        general.load_state_dict(state)


def average_buffers(network, context):
    """Make the floating-point network buffers (BN running statistics) the mean over ranks.

    With per-rank batch norm each rank's running statistics follow its own
    shards; their mean is the running average of the per-rank batch means (the
    global batch mean) and of the per-rank variances (within-shard variance,
    which leaves out the spread between shard means). The running averages
    are linear, so averaging now or at every step gives the same numbers; the
    training itself never reads them.
    """
    for arr in _buffers(network).values():
        if arr.dtype.kind == "f" and context.size > 1:
            total = context.ordered_total(arr.reshape(-1), "the averaging of the BN statistics")
            arr.reshape(-1)[...] = total / context.size


def params_crc(params):
    """CRC-32 of the parameters' bytes (equal on every rank while they agree)."""
    crc = 0
    for buf in _flat_buffers(params):
        crc = zlib.crc32(np.ascontiguousarray(buf).view(np.uint8), crc)
    return crc


# -------------------------------------------------------------------- network preparation
def prepare_network(network, context, *, sync_batchnorm=False):
    """Key each Dropout layer by rank, and optionally synchronise batch norm.

    Dropout: the mask key becomes ``hash(seed, rank)`` (kept reproducible: a
    fixed seed and rank count give the same masks every run, on every backend);
    without this every rank would drop the same positions of its shard.
    Batch norm: per rank by default (each rank normalises with its shard's
    statistics, as DDP without SyncBatchNorm); ``sync_batchnorm=True`` swaps
    each :class:`fastopt.nn.BatchNorm` for a :class:`SyncBatchNorm` (statistics
    of the global batch: one collective per BN layer forward, one backward).
    Returns *network*.
    """
    from .nn.dropout import Dropout, _seed64

    for layer in list(_layer_list(network)):
        if isinstance(layer, Dropout):
            base = getattr(layer, "_base_seed", None)
            if base is None:
                base = layer._base_seed = int(layer.seed)
            layer.seed = _seed64((base, context.rank))
        elif sync_batchnorm and type(layer) is BatchNorm:
            _replace_layer(network, layer, SyncBatchNorm.convert(layer, context))
    if sync_batchnorm and hasattr(network, "stages"):
        from .nn.fused import FusedHidden, stages

        layers = _layer_list(network)
        fused = any(isinstance(s, FusedHidden) for s in network.stages)
        network.stages = stages(layers) if fused else list(layers)
    return network


def _layer_list(network):
    """The network's layers in order (a Sequential's list, or the book net's ordered dict)."""
    layers = getattr(network, "_layer_list", None)
    if layers is None:
        layers = getattr(network, "layers", None) or []
    return list(layers.values()) if isinstance(layers, dict) else layers


def _replace_layer(network, old, new):
    """Put *new* wherever the network keeps *old* (its layer list and any layers-by-name dict)."""
    for attr in ("_layer_list", "layers"):
        container = getattr(network, attr, None)
        if isinstance(container, dict):
            for key, value in list(container.items()):
                if value is old:
                    container[key] = new
        elif isinstance(container, list):
            for i, value in enumerate(container):
                if value is old:
                    container[i] = new


class SyncBatchNorm(BatchNorm):
    """Batch norm over the global batch (all ranks' shards), like torch's SyncBatchNorm.

    Forward (training): every rank sends (count, mean, M2) of its shard
    (float64), and all combine them in rank order (Chan's pairwise formula),
    so all ranks hold the same statistics bit for bit. Backward: the
    rank-weighted sums Σdout and Σdout·x̂ are exchanged the same way. The
    layer's own dγ, dβ are this rank's share; the gradient average of
    :class:`DistributedOptimizer` (weights n_rank/N) completes them.
    Evaluation mode is the plain layer's. Runs in NumPy (not fused).
    """

    context = None

    @classmethod
    def convert(cls, bn, context):
        new = cls.__new__(cls)
        new.__dict__.update(bn.__dict__)
        new.context = context
        return new

    def _axes(self, view):
        return ((0,), (slice(None),)) if view.ndim == 2 else ((0, 2), (slice(None), None))

    def forward(self, x, train=True):
        if not train:
            return super().forward(x, train)
        view = self._layout(x) if x.shape[0] else None
        d = self.gamma.shape[0]
        if view is None:  # an empty shard still takes part in the exchange
            count, mean_l, m2_l = 0, np.zeros(d), np.zeros(d)
        else:
            axes, b = self._axes(view)
            v = view.astype(np.float64, copy=False)
            count = view.shape[0] * (view.shape[2] if view.ndim == 3 else 1)
            mean_l = v.mean(axis=axes)
            m2_l = np.sum((v - mean_l[b]) ** 2, axis=axes)
        rows = self.context.allgather_rows(np.concatenate(([count], mean_l, m2_l)),
                                           "a SyncBatchNorm forward")
        n, mean, m2 = 0.0, np.zeros(d), np.zeros(d)
        for row in rows:  # rank order: the same bits on every rank
            nb = row[0]
            if nb == 0:
                continue
            total = n + nb
            delta = row[1:1 + d] - mean
            mean = mean + delta * (nb / total)
            m2 = m2 + row[1 + d:] + delta * delta * (n * nb / total)
            n = total
        if n == 0:
            raise ValueError("SyncBatchNorm needs a non-empty global batch in training mode")
        var = m2 / n
        inv_std = 1.0 / np.sqrt(var + self.eps)
        self._update_running(mean, var, int(n))
        if view is None:
            self._cache = ("empty", int(n))
            return np.empty(x.shape, x.dtype)
        axes, b = self._axes(view)
        xhat = (v - mean[b]) * inv_std[b]
        out = self.gamma.astype(np.float64)[b] * xhat + self.beta.astype(np.float64)[b]
        self._cache = (xhat, inv_std, x.shape, count, n)
        return out.astype(view.dtype).reshape(x.shape)

    def backward(self, dout):
        if self._cache is None:
            self._need_forward("the normalised input")
        d_ = self.gamma.shape[0]
        if isinstance(self._cache[0], str):
            if self._cache[0] == "eval":
                return super().backward(dout)
            # an empty shard still takes part in the exchange
            self.context.ordered_total(np.zeros(2 * d_), "a SyncBatchNorm backward")
            self.dgamma[...] = 0
            self.dbeta[...] = 0
            return np.empty(dout.shape, dout.dtype)
        xhat, inv_std, shape, count, n = self._cache
        if dout.shape != shape:
            raise ValueError(f"dout has shape {dout.shape}, the forward output had {shape}")
        axes, b = self._axes(xhat)
        dd = np.asarray(dout, dtype=np.float64).reshape(xhat.shape)
        s1 = dd.sum(axis=axes)
        s2 = np.sum(dd * xhat, axis=axes)
        self.dbeta[...] = s1
        self.dgamma[...] = s2
        w = count / n
        tot = self.context.ordered_total(np.concatenate((w * s1, w * s2)), "a SyncBatchNorm backward")
        S1, S2 = tot[:d_], tot[d_:]
        dx = (self.gamma.astype(np.float64) * inv_std)[b] * (dd - (S1[b] + xhat * S2[b]) / count)
        return dx.astype(dout.dtype).reshape(shape)

    def __repr__(self):
        return "Sync" + super().__repr__()





# -------------------------------------------------------------------- optimizer wrapper
class DistributedOptimizer:
    """Average the gradients over ranks before each step (Horovod's ``DistributedOptimizer``).

    Parameters
    ----------
    optimizer : fastopt.optim.Optimizer or a fastopt.book optimizer
    params : FlatParams or mapping, optional
        The parameters (default ``network.params``, else ``optimizer.params()``).
        A :class:`FlatParams` is reduced with one in-place collective per dtype;
        a plain mapping with one per array.
    context : Context, optional
        Default :func:`init`.
    network : object, optional
        Its buffers are broadcast at the start and its structure checked.
    broadcast : bool, default True
        At construction: check that every rank built the same model and
        optimizer (a checksum; :class:`ConfigurationError` on every rank if
        not), then broadcast parameters, network buffers and optimizer state
        from rank 0.

    ``step(grads=None, *, weight=None)`` scales this rank's gradients by
    *weight* (default ``1/size``; pass ``n_rank/N`` for unequal shards), sums
    them over ranks in place, and steps the wrapped optimizer. Other attributes
    are the wrapped optimizer's.
    """

    def __init__(self, optimizer, params=None, *, context=None, network=None, broadcast=True):
        self.optimizer = optimizer
        self.context = init() if context is None else context
        if params is None:
            params = network.params if network is not None else optimizer.params()
        self.params, self.network = params, network
        _as_general(optimizer, params)  # bound: step(grads) updates these params
        self._buffers = _grad_buffers(params)
        if broadcast:
            self.context.check_same("the model and optimizer",
                                    model_description(network, optimizer, params))
            broadcast_parameters(params, self.context)
            if network is not None:
                broadcast_buffers(network, self.context)
            broadcast_optimizer_state(optimizer, self.context, params)

    def reduce_gradients(self, grads=None, *, weight=None):
        """Replace the gradients by the weighted sum over ranks (in place); returns the buffers."""
        ctx = self.context
        w = 1.0 / ctx.size if weight is None else weight
        buffers = self._buffers if grads is None or grads is getattr(self.params, "grads", None) \
            else _grad_buffers(self.params, grads)
        start = time.perf_counter()
        for buf in buffers:
            if w != 1.0:
                np.multiply(buf, buf.dtype.type(w), out=buf)
            ctx.sum_(buf)
        ctx.comm_seconds += time.perf_counter() - start
        ctx.step += 1
        return buffers

    def step(self, grads=None, *, weight=None):
        self.reduce_gradients(grads, weight=weight)
        return self.optimizer.step(grads)

    def update(self, params, grads, *, weight=None):
        """The book's ``update(params, grads)`` form."""
        self.reduce_gradients(grads, weight=weight)
        return self.optimizer.update(params, grads)

    def __getattr__(self, name):
        return getattr(self.optimizer, name)

    def __repr__(self):
        return f"DistributedOptimizer({self.optimizer!r}, {self.context!r})"


# -------------------------------------------------------------------- trainer
class DistributedTrainer(Trainer):
    """:class:`fastopt.train.Trainer` over MPI ranks (``Trainer(..., distributed=...)``).

    Every rank runs this with the same arguments. ``batch_size`` is per rank;
    the global batch is ``batch_size × size``: each step, every rank takes its
    :func:`shard_bounds` slice of the global batch that one process with the same
    seed would draw, so without batch norm and dropout the run equals one
    process with the global batch up to rounding. Losses are the global batch's
    (rank-weighted, summed in rank order), accuracies count every rank's shard
    of the evaluation sets, the progress bar and checkpoint writing happen on
    rank 0 only, and a checkpoint (the single-process layout plus a
    ``distributed`` record) resumes on any number of ranks (what changes is
    said in a warning and kept in :attr:`resume_changes`).

    Parameters
    ----------
    distributed : Context or True, optional
        The context (default :func:`init`).
    sync_batchnorm : bool, default False
        Batch norm over the global batch (:class:`SyncBatchNorm`) instead of per rank.
    batch_size : int
        Per-rank batch.
    Other parameters are the :class:`Trainer`'s. ``seed=None`` draws one seed on
    rank 0 and shares it.
    """

    def __init__(self, network, optimizer, x_train, t_train, x_val=None, t_val=None, *,
                 distributed=True, sync_batchnorm=False, batch_size=100, seed=None, progress=None,
                 **options):
        ctx = distributed if isinstance(distributed, Context) else init()
        self.context = ctx
        n = len(x_train)
        if n < ctx.size:
            raise ConfigurationError(f"rank {ctx.rank}: {ctx.size} ranks but only {n} training "
                                     "samples: every rank needs at least one (use fewer ranks)")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        if seed is None:
            seed = ctx.bcast_obj(int(np.random.SeedSequence().entropy) if ctx.rank == 0 else None)
        self.per_rank_batch = batch_size
        error = None
        try:
            super().__init__(network, optimizer, x_train, t_train, x_val, t_val,
                             batch_size=batch_size * ctx.size, seed=seed,
                             progress=False if ctx.rank != 0 else progress, **options)
        except Exception as exc:  # every rank learns of it: none is left waiting in a collective
            error = exc
        errors = ctx.allgather_obj(None if error is None else f"{type(error).__name__}: {error}",
                                   "the start-up check of the trainer")
        if any(errors):
            if error is not None and len(set(errors)) == 1:
                raise error  # the same on every rank
            failed = "; ".join(f"rank {r}: {e}" for r, e in enumerate(errors) if e)
            raise ConfigurationError(f"rank {ctx.rank}: the trainer could not start on every rank "
                                     f"({failed})")
        ctx.check_same("the training settings", {
            "train": [n, str(np.asarray(x_train).dtype), list(np.shape(x_train)[1:])],
            "val": None if x_val is None else [len(x_val), list(np.shape(x_val)[1:])],
            "seed": int(seed) if np.ndim(seed) == 0 else repr(seed), "batch": batch_size,
            "epochs": self.epochs, "sampling": self.sampling, "sync_batchnorm": sync_batchnorm})
        prepare_network(network, ctx, sync_batchnorm=sync_batchnorm)
        self.sync_batchnorm = sync_batchnorm
        self.dist_optimizer = DistributedOptimizer(optimizer, network.params, context=ctx,
                                                   network=network)
        self.resume_changes = []
        self._loss_buf = np.zeros(1)

    @property
    def rank(self):
        return self.context.rank

    @property
    def size(self):
        return self.context.size

    def fit(self):
        """:meth:`Trainer.fit` on every rank. An error raised on this rank alone would leave the
        others waiting in a collective: it is printed, and the run aborted (``MPI_Abort``)."""
        try:
            return super().fit()
        except ConfigurationError:
            raise  # raised on every rank alike
        except BaseException as exc:
            if self.size > 1:
                import traceback

                sys.stderr.write(f"fastopt.distributed: rank {self.rank}: {type(exc).__name__}: {exc}; "
                                 "aborting every rank\n" + "".join(traceback.format_exc()))
                sys.stderr.flush()
                self.context.comm.Abort(1)
            raise

    def _distributed_record(self):
        return {"ranks": self.size, "per_rank_batch": self.per_rank_batch,
                "global_batch": self.batch_size, "reduction": self.context.reduction,
                "sync_batchnorm": self.sync_batchnorm}

    def _checkpoint_extra(self):
        return {"distributed": self._distributed_record()}

    def train_step(self, x, t):
        """One step on this rank's shard of the global batch (x, t). Returns the global batch loss."""
        m = len(x)
        lo, hi = shard_bounds(m, self.rank, self.size)
        net = self.network
        if hi > lo:
            net.gradient(x[lo:hi], t[lo:hi])
            local = float(net.last_loss)
        else:
            self._idle_step()
            local = 0.0
        weight = (hi - lo) / m
        self.dist_optimizer.step(net.grads, weight=weight)
        self._loss_buf[0] = local * weight
        loss = float(self.context.ordered_total(self._loss_buf, "the loss reduction")[0])
        self.history["loss"].append(loss)
        self.iteration += 1
        return loss

    def _idle_step(self):
        """A rank whose shard of a (short, last) batch is empty: take part in every exchange."""
        from .nn.dropout import Dropout

        layers = _layer_list(self.network)
        for layer in layers:
            if isinstance(layer, Dropout):
                layer.next_stream()  # keep the counters in step with the other ranks
            elif isinstance(layer, SyncBatchNorm):
                layer.forward(np.empty((0, layer.gamma.shape[0]), layer.gamma.dtype), True)
        for layer in reversed(layers):
            if isinstance(layer, SyncBatchNorm):
                layer.backward(np.empty((0, layer.gamma.shape[0]), layer.gamma.dtype))
        self.network.params.zero_grad()

    # ---------------------------------------------------------------- evaluation
    def sync_buffers(self):
        """Average the BN running statistics over ranks (before evaluating or saving)."""
        if not self.sync_batchnorm:
            average_buffers(self.network, self.context)

    def check_consistent(self):
        """Raise :class:`DistributedError` on every rank if the ranks' parameters differ."""
        crcs = self.context.allgather_obj(params_crc(self.network.params), "the parameter check")
        if len(set(crcs)) > 1:
            raise DistributedError(f"rank {self.rank}: parameters differ across ranks after "
                                   f"{self.iteration} steps (CRC per rank {crcs}): the MPI reduction "
                                   "did not give every rank the same bits; use reduction='ordered'")

    def _evaluate(self):
        self.check_consistent()
        self.sync_buffers()
        net = self.network
        plain = net.accuracy
        ctx = self.context

        def sharded_accuracy(x, t, *args, **kwargs):
            m = len(x)
            lo, hi = shard_bounds(m, ctx.rank, ctx.size)
            correct = round(plain(x[lo:hi], t[lo:hi], *args, **kwargs) * (hi - lo)) if hi > lo else 0
            total = ctx.ordered_total(np.array([correct], np.float64), "the accuracy reduction")
            return float(total[0]) / m if m else 0.0

        net.accuracy = sharded_accuracy
        try:
            super()._evaluate()
        finally:
            del net.accuracy

    # ---------------------------------------------------------------- checkpoints
    def save(self, path):
        """Rank 0 writes the checkpoint (after averaging the BN statistics); every rank calls this."""
        self.sync_buffers()
        return self._on_rank_0(functools.partial(super().save, path), "the checkpoint write",
                               f"write {path}")

    def _on_rank_0(self, work, what, doing):
        """``work()`` on rank 0 alone; its result there (None elsewhere).

        An error on rank 0 is told to every rank (collective *what*): rank 0
        raises it as it is, the others a :class:`DistributedError` saying rank 0
        could not *doing*.
        """
        result, error = None, None
        if self.rank == 0:
            try:
                result = work()
            except Exception as exc:
                error = exc
        message = self.context.bcast_obj(None if error is None else f"{type(error).__name__}: {error}",
                                         what=what)
        if error is not None:
            raise error
        if message is not None:
            raise DistributedError(f"rank {self.rank}: rank 0 could not {doing}: {message}")
        return result

    def load(self, path):
        """Rank 0 reads *path*; parameters, state, buffers and trainer state go to every rank.

        The checkpoint may come from any number of ranks (or one process). What
        changes with the rank count is listed in :attr:`resume_changes` and
        warned about on rank 0.
        """
        from .optim.checkpoint_io import read_tree

        load = super().load

        def read():
            load(path)
            extra = read_tree(path).get("extra", {})
            return extra.get("distributed") if isinstance(extra, dict) else None

        saved = self._on_rank_0(read, "the checkpoint read", f"load {path}")
        ctx = self.context
        broadcast_parameters(self.network.params, ctx)
        broadcast_buffers(self.network, ctx)
        broadcast_optimizer_state(self.optimizer, ctx, self.network.params)
        state = ctx.bcast_obj({"rng": self.rng.bit_generator.state, "epoch": self.epoch,
                               "iteration": self.iteration, "history": self.history,
                               "stopped_early": self.stopped_early, "saved": saved}
                              if self.rank == 0 else None, what="the trainer state broadcast")
        self.rng.bit_generator.state = state["rng"]
        self.epoch, self.iteration = state["epoch"], state["iteration"]
        self.history = {k: list(v) for k, v in state["history"].items()}
        self.stopped_early = state["stopped_early"]
        self.resume_changes = self._changes(state["saved"])
        if self.resume_changes and self.rank == 0:
            warnings.warn("resuming " + path.__str__() + ": " + "; ".join(self.resume_changes),
                          stacklevel=2)
        return self

    def _changes(self, saved):
        now = self._distributed_record()
        if saved is None:
            saved = {"ranks": 1, "per_rank_batch": None, "global_batch": None}
            changes = ["the checkpoint was written by one process (no rank record)"]
        else:
            changes = []
        if saved["ranks"] != now["ranks"]:
            changes.append(f"{saved['ranks']} rank(s) then, {now['ranks']} now: each rank's shard "
                           "of every batch and its dropout key change, so the run goes on differently "
                           f"from an uninterrupted {saved['ranks']}-rank run; per-rank batch-norm "
                           "statistics cover other samples")
        if saved.get("global_batch") is not None and saved["global_batch"] != now["global_batch"]:
            n = len(self.x_train)
            changes.append(f"global batch {saved['global_batch']} -> {now['global_batch']} "
                           f"({now['per_rank_batch']} per rank), steps per epoch "
                           f"{max(math.ceil(n / saved['global_batch']), 1)} -> {self.iter_per_epoch}; "
                           "the learning rate is not rescaled")
        return changes
