"""Data-parallel pretraining over several processes (``torchrun``) with DistributedDataParallel.

``torchrun --nproc_per_node=N -m polysrl_sklearn.cli pretrain ...`` starts N
processes (*ranks*); :func:`init_from_environment` joins them into one process
group (gloo on CPUs, NCCL on GPUs, each rank on ``cuda:LOCAL_RANK``) and
:func:`~polysrl_sklearn.pretraining.pretrain` then trains one network
data-parallel over them. One optimiser step is still one *global* batch of
``batch_size`` formulas, the batch a single process would train on:

* **Sharding.** Every rank draws the same sequence of global batches (the same
  seeded :class:`~polysrl_sklearn.sampler.PolymorphBatchSampler`); rank ``r``
  encodes the ``r``-th contiguous share of a batch's formulas (sizes differ by
  at most one) together with their sampled polymorphs (:func:`shard_batch`), so
  a formula's polymorphs never leave the rank that encodes the formula.
* **Gathering.** The contrastive losses compare every formula of the global
  batch with every other. Each rank gathers all ranks' mean, variance and
  structure vectors (:func:`gather_rows`, differentiable) and computes the loss
  of the whole global batch; every rank computes the same loss from the same
  rows (the sampling noise too: every rank's torch RNG is seeded alike).
* **Scaling.** The backward pass of :func:`gather_rows` returns the gradient
  of the rank's own rows multiplied by the world size ``W``: the rank's
  encoder gradient is then ``W`` times its share of the full gradient,
  parameters used on the gathered rows (the loss's ``c`` and ``d``, a
  projection of cached vectors, a property head) get the full gradient on every
  rank, and DistributedDataParallel's average over the ranks (sum / ``W``) is
  exactly the single-process gradient of the global batch. No communication is
  needed in the backward pass beyond DDP's one gradient all-reduce.
* **Rank 0** writes checkpoints and exports and computes what is computed once:
  a frozen structure encoder's vectors (:func:`main_then_broadcast` sends them
  to the other ranks), the checkpoint it resumes from (read by rank 0 and sent
  to every rank, so no shared file system is needed to resume), CHGNet vectors.
  The sampler state and the RNG states in a checkpoint are global, so a run
  may be resumed with any number of ranks.

Outside a process group nothing of this is used and a run is the same, bit
for bit, as before this module existed.

Examples
--------
Five formulas (ids 10..14; formula 11 has three polymorphs) over two ranks:

>>> import numpy as np
>>> from polysrl_sklearn.sampler import PolymorphBatch
>>> from polysrl_sklearn.ddp import local_batch, shard_batch
>>> batch = PolymorphBatch(formulas=np.array([10, 11, 12, 13, 14]),
...                        structures=np.array([0, 1, 2, 3, 4, 5, 6]), owner=np.array([0, 1, 1, 1, 2, 3, 4]))
>>> shard = shard_batch(batch, world_size=2, rank=1)
>>> shard.formula_counts, shard.structure_counts
((3, 2), (5, 2))
>>> local_batch(batch, shard)
PolymorphBatch(formulas=array([13, 14]), structures=array([5, 6]), owner=array([0, 1]))
"""

from __future__ import annotations

import contextlib
import datetime
import inspect
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from .sampler import PolymorphBatch
from .training_data import ResidentBatch, TrainingData

if TYPE_CHECKING:
    from .corpus import StructureCorpus
    from .network import PolySRLNetwork

#: Environment variables that torchrun (and ``python -m torch.distributed.run``) sets for every process.
TORCHRUN_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE")
#: Environment variable: seconds a collective may wait for the other ranks (default :data:`DEFAULT_TIMEOUT_S`).
TIMEOUT_VARIABLE = "POLYSRL_DDP_TIMEOUT"
#: Rank 0 may build the corpus graphs or CHGNet vectors while the others wait: an hour by default.
DEFAULT_TIMEOUT_S = 3600

T = TypeVar("T")


@dataclass(frozen=True)
class DistributedContext:
    """This process's place in the process group that trains data-parallel.

    Attributes
    ----------
    rank : int
        Global rank, ``0 .. world_size - 1``; rank 0 writes checkpoints and exports.
    world_size : int
        Number of processes (ranks).
    local_rank : int
        Rank on this node; a GPU rank trains on ``cuda:local_rank``.
    device : torch.device
        The device this rank trains on (and where its collectives' tensors live).
    backend : {"gloo", "nccl"}
    """

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0."""
        return self.rank == 0

    def training_device(self, device: str | torch.device = "auto") -> torch.device:
        """The device this rank trains on, checked against a requested ``device``.

        ``"auto"`` and the rank's own device (``"cpu"``; ``"cuda"`` or
        ``"cuda:LOCAL_RANK"``) give :attr:`device`; anything else raises a
        ValueError, since the process group's backend was chosen for that device.
        """
        if str(device) == "auto":
            return self.device
        requested = torch.device(device)
        if requested.type != self.device.type or (requested.index is not None and requested != self.device):
            raise ValueError(f"rank {self.rank} trains on {self.device} (process group backend {self.backend!r}); "
                             f"device={str(device)!r} asks for another device: under torchrun pass 'auto', "
                             "'cpu' or 'cuda' (each GPU rank uses cuda:LOCAL_RANK)")
        return self.device

    def barrier(self) -> None:
        """Wait until every rank reaches this point."""
        dist.barrier()


def launched_by_torchrun(environ: dict[str, str] | None = None) -> bool:
    """Whether the environment is a torchrun worker's (``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` set)."""
    environ = os.environ if environ is None else environ
    return all(name in environ for name in TORCHRUN_VARIABLES)


def rank_device(device: str | torch.device, local_rank: int) -> torch.device:
    """The device of the rank with ``local_rank`` on its node, for a requested ``device``.

    ``"auto"``: ``cuda:local_rank`` when CUDA is available, else the CPU;
    ``"cpu"``: the CPU; ``"cuda"`` (or ``"cuda:local_rank"``): ``cuda:local_rank``.
    Raises a ValueError for another GPU index, another device type, or a
    local rank without its own GPU.
    """
    if str(device) == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    requested = torch.device(device)
    if requested.type == "cpu":
        return requested
    if requested.type != "cuda":
        raise ValueError(f"distributed pretraining runs on 'cpu' (gloo) or 'cuda' (NCCL), not {str(device)!r}")
    if requested.index is not None and requested.index != local_rank:
        raise ValueError(f"device={str(device)!r}: every GPU rank trains on cuda:LOCAL_RANK (cuda:{local_rank} "
                         "here); pass --device cuda or auto, and choose the GPUs with CUDA_VISIBLE_DEVICES")
    if not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r}, but CUDA is not available; use --device cpu (gloo)")
    if local_rank >= torch.cuda.device_count():
        raise ValueError(f"LOCAL_RANK={local_rank}, but only {torch.cuda.device_count()} CUDA device(s) are "
                         f"visible: start at most {torch.cuda.device_count()} processes per node "
                         "(--nproc_per_node)")
    return torch.device("cuda", local_rank)


def _timeout(seconds: float | None) -> datetime.timedelta:
    if seconds is None:
        raw = os.environ.get(TIMEOUT_VARIABLE, str(DEFAULT_TIMEOUT_S))
        try:
            seconds = float(raw)
        except ValueError:
            raise ValueError(f"{TIMEOUT_VARIABLE}={raw!r} is not a number of seconds") from None
    if seconds <= 0:
        raise ValueError(f"the collective timeout must be positive, got {seconds} s")
    return datetime.timedelta(seconds=seconds)


_CURRENT: DistributedContext | None = None


def current_context() -> DistributedContext | None:
    """The context made by :func:`init_process_group` in this process (None before, or after :func:`teardown`)."""
    return _CURRENT


def init_process_group(rank: int, world_size: int, device: str | torch.device = "auto", *,
                       local_rank: int | None = None, init_method: str = "env://",
                       timeout: float | None = None) -> DistributedContext:
    """Join the default process group: gloo for CPU ranks, NCCL for GPU ranks.

    Parameters
    ----------
    rank, world_size : int
    device : str or torch.device
        ``"auto"``, ``"cpu"`` or ``"cuda"``; see :func:`rank_device`.
    local_rank : int, optional
        Rank on this node (default: ``rank``, one node).
    init_method : str
        Where the ranks meet: ``"env://"`` (torchrun's ``MASTER_ADDR`` and
        ``MASTER_PORT``), ``"tcp://host:port"`` or ``"file:///path"``.
    timeout : float, optional
        Seconds a collective waits for the other ranks (default:
        ``$POLYSRL_DDP_TIMEOUT``, else one hour: rank 0 may build the corpus
        graphs while the others wait).

    Returns
    -------
    DistributedContext

    Raises
    ------
    RuntimeError
        If torch was built without distributed support or a default process
        group already exists.
    ValueError
        For a rank outside ``0 .. world_size - 1`` or an unusable device.
    """
    global _CURRENT
    if not dist.is_available():
        raise RuntimeError("this torch build has no torch.distributed; distributed pretraining needs it")
    if dist.is_initialized():
        raise RuntimeError("a default torch.distributed process group already exists in this process")
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in 0..{world_size - 1} (world size {world_size})")
    local_rank = rank if local_rank is None else int(local_rank)
    training = rank_device(device, local_rank)
    backend = "nccl" if training.type == "cuda" else "gloo"
    options: dict[str, Any] = {}
    if training.type == "cuda":
        torch.cuda.set_device(training)
        options["device_id"] = training  # binds the rank to its GPU (barriers and object collectives use it)
    dist.init_process_group(backend, init_method=init_method, rank=rank, world_size=world_size,
                            timeout=_timeout(timeout), **options)
    _CURRENT = DistributedContext(rank, world_size, local_rank, training, backend)
    return _CURRENT


def init_from_environment(device: str | torch.device = "auto", timeout: float | None = None,
                          environ: dict[str, str] | None = None) -> DistributedContext | None:
    """Join the process group that torchrun describes in the environment; None outside torchrun.

    Reads ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` (and, through
    ``env://``, ``MASTER_ADDR`` and ``MASTER_PORT``). A torchrun with one
    process also makes a (one-rank) process group.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"``, ``"cpu"`` or ``"cuda"``; see :func:`rank_device`.
    timeout : float, optional
        See :func:`init_process_group`.
    environ : dict, optional
        Instead of ``os.environ``.
    """
    environ = os.environ if environ is None else environ
    if not launched_by_torchrun(environ):
        return None
    try:
        rank, local_rank, world_size = (int(environ[name]) for name in TORCHRUN_VARIABLES)
    except ValueError:
        raise ValueError("RANK, LOCAL_RANK and WORLD_SIZE must be integers, got "
                         + ", ".join(f"{name}={environ[name]!r}" for name in TORCHRUN_VARIABLES)) from None
    return init_process_group(rank, world_size, device, local_rank=local_rank, timeout=timeout)


def teardown() -> None:
    """Leave and destroy the default process group made by :func:`init_process_group` (no-op without one)."""
    global _CURRENT
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    _CURRENT = None


@contextlib.contextmanager
def distributed_from_environment(device: str | torch.device = "auto",
                                 timeout: float | None = None) -> Iterator[DistributedContext | None]:
    """:func:`init_from_environment` for the duration of a ``with`` block, then :func:`teardown`.

    Yields None (and does nothing) outside torchrun.
    """
    context = init_from_environment(device, timeout)
    try:
        yield context
    finally:
        if context is not None:
            teardown()


@contextlib.contextmanager
def main_first(context: DistributedContext | None) -> Iterator[None]:
    """Run a ``with`` block on rank 0 first, then on the first rank of every node, then on the others.

    For work whose result is cached on disk (the corpus graphs): rank 0 writes
    the cache once, the other ranks read it if they share its file system;
    otherwise the first rank of each node builds that node's copy before its
    other ranks read it. Every rank runs the block. Without a process group the
    block simply runs.
    """
    if context is None:
        yield
        return
    if not context.is_main:
        context.barrier()  # rank 0 done
        if context.local_rank != 0:
            context.barrier()  # the first rank of every node done
    yield
    if context.is_main:
        context.barrier()
    if context.local_rank == 0:
        context.barrier()


def main_then_broadcast(context: DistributedContext | None, compute: Callable[[], T]) -> T:
    """``compute()`` on rank 0 only; every rank returns its result (or raises its exception).

    Arrays and tensors travel as one tensor broadcast (an ndarray comes back
    as an ndarray, a tensor on ``context.device``); anything else is pickled.
    An exception raised by ``compute`` on rank 0 is raised on every rank, so
    that the others do not wait for a result that never comes. Without a
    process group this is ``compute()``.
    """
    if context is None:
        return compute()
    header: Any = None
    value: Any = None
    if context.is_main:
        try:
            value = compute()
        except Exception as exc:  # sent to the other ranks, then raised here too
            header = ("error", exc)
        else:
            if isinstance(value, np.ndarray):
                header = ("ndarray", tuple(value.shape), str(value.dtype))
            elif isinstance(value, torch.Tensor):
                header = ("tensor", tuple(value.shape), value.dtype)
            else:
                header = ("object", value)
    box = [header]
    dist.broadcast_object_list(box, src=0)
    header = box[0]
    kind = header[0]
    if kind == "error":
        raise header[1]
    if kind == "object":
        return header[1]
    shape = header[1]
    dtype = torch.from_numpy(np.empty(0, dtype=header[2])).dtype if kind == "ndarray" else header[2]
    if context.is_main:
        tensor = (torch.from_numpy(np.ascontiguousarray(value)) if kind == "ndarray" else value.detach())
        tensor = tensor.to(context.device).contiguous()
    else:
        tensor = torch.empty(shape, dtype=dtype, device=context.device)
    dist.broadcast(tensor, src=0)
    if kind == "ndarray":
        return value if context.is_main else tensor.cpu().numpy()
    return tensor


# ---------------------------------------------------------------------------------------------------------
# Sharding a global batch


@dataclass(frozen=True)
class BatchShard:
    """Where every rank's share lies in one global batch (formula and structure positions).

    Rank ``r`` holds formulas ``formula_bounds[r]:formula_bounds[r + 1]`` of the
    batch and structures ``structure_bounds[r]:structure_bounds[r + 1]``
    (their sampled polymorphs, which follow their formulas in the batch).

    Attributes
    ----------
    rank : int
        The rank this shard belongs to.
    formula_bounds, structure_bounds : tuple of int
        ``world_size + 1`` increasing positions each.
    """

    rank: int
    formula_bounds: tuple[int, ...]
    structure_bounds: tuple[int, ...]

    @property
    def world_size(self) -> int:
        """Number of ranks."""
        return len(self.formula_bounds) - 1

    @property
    def formula_counts(self) -> tuple[int, ...]:
        """Formulas of each rank."""
        return tuple(int(b - a) for a, b in zip(self.formula_bounds[:-1], self.formula_bounds[1:]))

    @property
    def structure_counts(self) -> tuple[int, ...]:
        """Structures of each rank."""
        return tuple(int(b - a) for a, b in zip(self.structure_bounds[:-1], self.structure_bounds[1:]))

    @property
    def formulas(self) -> slice:
        """This rank's formula positions in the batch."""
        return slice(self.formula_bounds[self.rank], self.formula_bounds[self.rank + 1])

    @property
    def structures(self) -> slice:
        """This rank's structure positions in the batch."""
        return slice(self.structure_bounds[self.rank], self.structure_bounds[self.rank + 1])


def shard_batch(batch: Any, world_size: int, rank: int) -> BatchShard:
    """Split a global batch's formulas, with their polymorphs, into ``world_size`` contiguous shares.

    Rank ``r`` gets ``n // world_size`` formulas, one more for the first
    ``n % world_size`` ranks (a rank may get none when the batch has fewer
    formulas than there are ranks), and all the sampled structures of its
    formulas.

    Parameters
    ----------
    batch : PolymorphBatch or ResidentBatch
        Its ``owner`` must be non-decreasing (structures grouped by formula in
        batch order, as :class:`~polysrl_sklearn.sampler.PolymorphBatchSampler` makes them).
    world_size : int
    rank : int

    Returns
    -------
    BatchShard
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in 0..{world_size - 1} (world size {world_size})")
    owner = np.asarray(batch.owner)
    n = len(batch.formulas)
    if len(owner) and (np.any(np.diff(owner) < 0) or owner[0] < 0 or owner[-1] >= n):
        raise ValueError("shard_batch needs the structures grouped by formula in batch order "
                         "(owner non-decreasing, in 0..n_formulas-1), as PolymorphBatchSampler makes them")
    base, extra = divmod(n, world_size)
    counts = [base + (r < extra) for r in range(world_size)]
    formula_bounds = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    structure_bounds = np.searchsorted(owner, formula_bounds, side="left")
    return BatchShard(rank, tuple(int(b) for b in formula_bounds), tuple(int(b) for b in structure_bounds))


def local_batch(batch: PolymorphBatch, shard: BatchShard) -> PolymorphBatch:
    """The part of ``batch`` that ``shard`` gives its rank (owner positions relative to it)."""
    f, s = shard.formulas, shard.structures
    return PolymorphBatch(batch.formulas[f], batch.structures[s], batch.owner[s] - f.start)


# ---------------------------------------------------------------------------------------------------------
# Gathering with gradients


class _GatherRows(torch.autograd.Function):
    """All ranks' rows in rank order; backward: this rank's rows of the gradient, times the world size."""

    @staticmethod
    def forward(ctx, local: torch.Tensor, counts: tuple[int, ...], rank: int) -> torch.Tensor:
        ctx.counts, ctx.rank = counts, rank
        width = max(counts)
        padded = local.new_zeros((width, *local.shape[1:]))
        padded[: len(local)] = local
        parts = [torch.empty_like(padded) for _ in counts]
        dist.all_gather(parts, padded.contiguous())
        return torch.cat([part[:count] for part, count in zip(parts, counts)])

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        start = sum(ctx.counts[: ctx.rank])
        # every rank computed the same loss from the same gathered rows, so every rank holds the same
        # gradient of them: this rank's rows are its own, scaled so that DDP's average is the full gradient
        return grad[start:start + ctx.counts[ctx.rank]] * len(ctx.counts), None, None


def gather_rows(local: torch.Tensor, counts: Sequence[int], rank: int) -> torch.Tensor:
    """Concatenate every rank's rows, in rank order, differentiably (the global batch's rows).

    Parameters
    ----------
    local : Tensor
        This rank's rows, ``counts[rank]`` of them.
    counts : sequence of int
        Rows of every rank (known on every rank without communication: each
        rank knows the global batch).
    rank : int
        This rank.

    Returns
    -------
    Tensor
        ``sum(counts)`` rows: rank 0's, then rank 1's, ...

    Notes
    -----
    The backward pass assumes what :func:`~polysrl_sklearn.pretraining.pretrain`
    guarantees: every rank computes the *same* loss from the gathered rows. It
    then returns this rank's rows of the gradient times the world size ``W``,
    without communication, and DistributedDataParallel's gradient average
    (sum over ranks / ``W``) equals the single-process gradient (see the module
    notes). (On a GPU without deterministic kernels the ranks' copies of the
    loss may differ in their last bits; the average is then the gradient up to
    that rounding.)
    """
    counts = tuple(int(c) for c in counts)
    if len(local) != counts[rank]:
        raise ValueError(f"rank {rank} has {len(local)} rows, but counts say {counts[rank]}")
    return _GatherRows.apply(local, counts, rank)


# ---------------------------------------------------------------------------------------------------------
# Training data and the wrapped loss


@dataclass
class ShardedBatch(ResidentBatch):
    """A global batch on the device, with this rank's share of it.

    Attributes
    ----------
    shard : BatchShard
        Every rank's share.
    local : ResidentBatch
        This rank's formulas and structures (owner positions relative to them).
    """

    shard: BatchShard
    local: ResidentBatch


class ShardedTrainingData(TrainingData):
    """:class:`~polysrl_sklearn.training_data.TrainingData` of one rank: encode its share, gather the rest.

    The stoichiometry encoder runs on the rank's formulas of each batch and the
    (live) structure encoder on their polymorphs; :meth:`formula_gaussians`,
    :meth:`structure_vectors` and :meth:`encode_compositions` return the rows
    of the *global* batch, gathered from every rank (:func:`gather_rows`).
    Cached structure vectors are indexed for the global batch on every rank
    (no encoder runs, so there is nothing to share out). The objectives use
    them as they use a single process's data.

    Parameters
    ----------
    corpus : StructureCorpus
    context : DistributedContext
    with_graphs : bool
        As for :class:`~polysrl_sklearn.training_data.TrainingData`.
    """

    def __init__(self, corpus: StructureCorpus, context: DistributedContext, with_graphs: bool = True) -> None:
        super().__init__(corpus, context.device, with_graphs)
        self.context = context

    def resident(self, steps: Sequence[Any]) -> list[ShardedBatch]:
        """Global sampler steps on the device (one copy, as in the base class), each with this rank's share."""
        sharded = []
        for step in super().resident(steps):
            shard = shard_batch(step, self.context.world_size, self.context.rank)
            f, s = shard.formulas, shard.structures
            local = ResidentBatch(step.formulas[f], step.structures[s], step.owner[s] - f.start,
                                  step.formulas_on_device[f], step.structures_on_device[s],
                                  step.owner_on_device[s] - f.start)
            sharded.append(ShardedBatch(step.formulas, step.structures, step.owner, step.formulas_on_device,
                                        step.structures_on_device, step.owner_on_device, shard, local))
        return sharded

    def _sharded(self, step: Any) -> ShardedBatch:
        step = self._on_device(step)
        if not isinstance(step, ShardedBatch):
            raise TypeError("ShardedTrainingData needs the sampler's global batches (or its own resident() "
                            f"batches), got a {type(step).__name__}")
        return step

    def _gather(self, local: torch.Tensor, counts: tuple[int, ...]) -> torch.Tensor:
        return gather_rows(local, counts, self.context.rank)

    def formula_gaussians(self, network: PolySRLNetwork, step: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance of the global batch's formulas; this rank encodes its share."""
        step = self._sharded(step)
        mean, variance = network.stoichiometry(self.stoichiometry(step.local))
        counts = step.shard.formula_counts
        return self._gather(mean, counts), self._gather(variance, counts)

    def structure_vectors(self, network: PolySRLNetwork, step: Any) -> torch.Tensor:
        """Structure-side vectors of the global batch's structures; a live encoder runs on this rank's share."""
        step = self._sharded(step)
        if self.cached is not None:
            return super().structure_vectors(network, step)
        return self._gather(super().structure_vectors(network, step.local), step.shard.structure_counts)

    def encode_compositions(self, network: PolySRLNetwork, compositions: Sequence[Any],
                            step: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """The stoichiometry encoder on one composition per formula of the global batch; this rank encodes its share."""
        step = self._sharded(step)
        mean, variance = super().encode_compositions(network, list(compositions)[step.shard.formulas], step.local)
        counts = step.shard.formula_counts
        return self._gather(mean, counts), self._gather(variance, counts)


class _LossStep(nn.Module):
    """The module that DistributedDataParallel wraps: one objective's ``batch_loss`` of the network."""

    def __init__(self, network: PolySRLNetwork, batch_loss: Callable) -> None:
        super().__init__()
        self.network = network
        self.batch_loss = batch_loss

    def forward(self, data: TrainingData, step: Any, rng: np.random.Generator):
        loss, parts, variance = self.batch_loss(self.network, data, step, rng)
        # only the loss leads back to the parameters; the variance is for logging
        return loss, parts, variance.detach()


def wrap_for_training(network: PolySRLNetwork, batch_loss: Callable,
                      context: DistributedContext) -> nn.parallel.DistributedDataParallel:
    """DistributedDataParallel over ``batch_loss(network, data, step, rng)``.

    Call the result as ``wrapped(data, step, rng)``; it returns ``(loss,
    parts, variance)`` like ``batch_loss``, and the backward pass of ``loss``
    leaves every rank's parameters with the average gradient. Only parameters
    that require a gradient at wrapping time are synchronised, so wrap again
    after freezing or unfreezing a part (a frozen structure encoder).
    Parameters an objective does not use (the loss's ``c`` and ``d`` under
    ``infomax``, a variance head that only logs) are found in the first step
    (``static_graph``) and keep no gradient, as in a single process. The
    parameters are broadcast from rank 0 when wrapping.
    """
    ddp_class = nn.parallel.DistributedDataParallel
    # the buffers (element tables, distance basis) are constants: no broadcast at every forward
    no_buffer_sync = ({"forward_sync_buffers": False} if "forward_sync_buffers" in inspect.signature(ddp_class).parameters
                      else {"broadcast_buffers": False})
    return ddp_class(_LossStep(network, batch_loss), device_ids=None, static_graph=True, **no_buffer_sync)
