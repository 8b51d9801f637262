"""Pretraining steps replayed from a CUDA graph: one launch per step instead of about a thousand.

On a GPU a PolySRL pretraining step is bound by overhead, not arithmetic: the small
PyTorch Geometric layers (GCN, Set2Set's LSTM steps, the graph network's scatter
operations), the loss and their backward passes launch about a thousand small kernels,
each with its Python and launch cost. A CUDA graph (:class:`torch.cuda.CUDAGraph`)
records the whole step once -- forward, loss, backward, gradient clipping and the fused,
capturable Adam update -- and replays it with one launch.

A graph has fixed shapes and fixed memory, so every full batch of an epoch is padded to
the epoch's largest one (plus one), in buffers that are copied into before each replay:

* one *padding formula* (row ``n`` after the batch's ``n`` formulas) owns every padding
  node of the stoichiometry graphs and every padding structure;
* padding crystal atoms belong to padding structures and padding edges are self-loops of
  padding nodes or atoms, so no padding value reaches a real one. Both are spread
  round-robin over many padding rows (at least :data:`PADDING_ATOMS` atoms and
  :data:`PADDING_STRUCTURES` structures): thousands of padding edges summed into one row
  would serialise the scatter sums (a measured 3x slowdown on an H200);
* the loss reads the real rows only (``SoftContrastiveLoss(..., real_formulas=n)``): the
  padding formula's row and column of the pair matrix are dropped.

Padding changes no real value, but the step draws one more row of sampling noise than an
eager step, so a graphed run and an eager run with the same seed differ (each repeats
itself). Every epoch captures its graph anew: its batches' sizes and which parameters
train change between epochs, and the network moves to the CPU to be checkpointed. The
first steps of an epoch run eagerly on a side stream before the capture, as CUDA graphs
require; they are ordinary training steps of the epoch. The epoch's last, smaller batch
also runs eagerly.

Every lever of the soft contrastive loss works on padded batches: the terms that read
batch statistics (polymorph spread, variance matching, decorrelation, the multi-task head)
take them over the real formulas and structures only. Other objectives (InfoMax, GraphCL,
supervised), the mixture lever (its batches are built on the host) and data-parallel training
are refused by :func:`check_graphable`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from .auxiliary_terms import add_multitask_term
from .crystal_graph import CrystalBatch
from .stoichiometry_graph import StoichiometryBatch

if TYPE_CHECKING:
    from .network import PolySRLNetwork
    from .training_data import ResidentBatch, TrainingData

#: Objectives whose loss a CUDA graph can replay (the soft contrastive loss of the paper).
GRAPHABLE_OBJECTIVES: tuple[str, ...] = ("polysrl", "polysrl_nosample")
#: Padding rows added beyond the largest batch: stoichiometry nodes, crystal atoms, structures.
PADDING_NODES, PADDING_ATOMS, PADDING_STRUCTURES = 64, 1024, 64


def graphable_problems(objective: str, device: torch.device, distributed: bool,
                       variance_mixtures: float = 0.0, variance_anchor: float = 0.0,
                       element_statistics: float = 0.0) -> list[str]:
    """Why CUDA-graph steps cannot train ``objective`` on ``device`` (an empty list: they can)."""
    problems = []
    if element_statistics:
        problems.append("element_statistics' targets are not padded into the captured step (eager steps only)")
    if variance_mixtures:
        problems.append("variance_mixtures builds each batch's mixture graphs on the host (eager steps only)")
    if variance_anchor:
        problems.append("variance_anchor runs a second, frozen encoder in each step (eager steps only)")
    if device.type != "cuda":
        problems.append(f"it needs a CUDA device (got {device.type!r})")
    if distributed:
        problems.append("it does not run data-parallel (torchrun)")
    if objective not in GRAPHABLE_OBJECTIVES:
        problems.append(f"objective={objective!r} is not one of {GRAPHABLE_OBJECTIVES}")
    return problems


def check_graphable(network: PolySRLNetwork, device: torch.device, distributed: bool) -> None:
    """Raise ``ValueError`` unless ``network`` can be trained with CUDA-graph steps on ``device``."""
    config = network.config
    problems = graphable_problems(config.objective, device, distributed, config.variance_mixtures,
                                  config.variance_anchor, config.element_statistics)
    if problems:
        raise ValueError("cuda_graphs=True cannot be used: " + "; ".join(problems))


@dataclass(frozen=True)
class PaddedSizes:
    """Fixed sizes of an epoch's graphed batches: the largest full batch's, plus padding rows."""

    formulas: int
    stoichiometry_nodes: int
    stoichiometry_edges: int
    structures: int
    atoms: int
    crystal_edges: int

    @classmethod
    def of(cls, data: TrainingData, steps: Sequence[ResidentBatch], with_graphs: bool) -> PaddedSizes:
        """The sizes that hold every batch of ``steps`` with room for padding (host arithmetic only)."""
        formulas, graphs = data.formulas, data.graphs

        def largest(per_item: np.ndarray, attribute: str, padding: int) -> int:
            return int(max(per_item[getattr(s, attribute)].sum() for s in steps)) + padding

        return cls(
            formulas=max(len(s.formulas) for s in steps),
            stoichiometry_nodes=largest(formulas.sizes_host, "formulas", PADDING_NODES),
            stoichiometry_edges=largest(formulas.edge_counts_host, "formulas", 1),
            structures=max(len(s.structures) for s in steps) + PADDING_STRUCTURES,
            atoms=largest(graphs.num_nodes_host, "structures", PADDING_ATOMS) if with_graphs else 0,
            crystal_edges=largest(graphs.edge_counts_host, "structures", 1) if with_graphs else 0,
        )


def _fill(buffer: torch.Tensor, values: torch.Tensor, padding: float | int) -> None:
    """Copy ``values`` into the start of ``buffer`` (last dimension) and ``padding`` into the rest."""
    n = values.shape[-1]
    buffer[..., :n].copy_(values)
    buffer[..., n:].fill_(padding)


def _fill_spread(buffer: torch.Tensor, values: torch.Tensor, first: int, end: int) -> None:
    """Copy ``values`` into the start of ``buffer`` (last dimension); the rest cycles over ``first .. end - 1``."""
    n = values.shape[-1]
    buffer[..., :n].copy_(values)
    rest = buffer.shape[-1] - n
    if rest:
        buffer[..., n:].copy_(torch.arange(rest, device=buffer.device) % (end - first) + first)


class PaddedBatch:
    """Fixed device buffers of one padded batch, refilled before every replay.

    Parameters
    ----------
    sizes : PaddedSizes
    device : torch.device
    with_graphs : bool
        Hold crystal graphs (joint epochs); otherwise the structures' rows of a cache.
    species : bool
        Hold the atoms' atomic numbers (species-aware structure side).
    target_shape : tuple of int, default=()
        Shape of one formula's multi-task targets: () for one property, (k,) for k.
    """

    def __init__(self, sizes: PaddedSizes, device: torch.device, with_graphs: bool, species: bool,
                 target_shape: tuple[int, ...] = ()) -> None:
        long = {"dtype": torch.long, "device": device}
        real = {"dtype": torch.float32, "device": device}
        self.sizes = sizes
        self.element = torch.zeros(sizes.stoichiometry_nodes, **long)
        self.fraction = torch.zeros(sizes.stoichiometry_nodes, **real)
        self.node_batch = torch.zeros(sizes.stoichiometry_nodes, **long)
        self.stoichiometry_edges = torch.zeros(2, sizes.stoichiometry_edges, **long)
        self.edge_weight = torch.zeros(sizes.stoichiometry_edges, **real)
        self.owner = torch.zeros(sizes.structures, **long)
        self.structure_ids = torch.zeros(sizes.structures, **long)
        self.targets = torch.full((sizes.formulas, *target_shape), float("nan"), **real)
        self.with_graphs = with_graphs
        if with_graphs:
            self.crystal_edges = torch.zeros(2, sizes.crystal_edges, **long)
            self.distance = torch.zeros(sizes.crystal_edges, **real)
            self.atom_batch = torch.zeros(sizes.atoms, **long)
            self.species = torch.zeros(sizes.atoms, **long) if species else None

    def fill(self, data: TrainingData, step: ResidentBatch) -> None:
        """Copy the batch ``step`` (gathered on the device) into the buffers, padded. No host synchronisation."""
        n, m, sizes = len(step.formulas), len(step.structures), self.sizes
        stoichiometry = data.formulas.gather(step.formulas, step.formulas_on_device)
        nodes = stoichiometry.element.shape[0]  # shapes are known on the host: no synchronisation
        _fill(self.element, stoichiometry.element, 0)
        _fill(self.fraction, stoichiometry.fraction, 0.0)
        _fill(self.node_batch, stoichiometry.batch, n)
        _fill_spread(self.stoichiometry_edges, stoichiometry.edge_index, nodes, sizes.stoichiometry_nodes)
        _fill(self.edge_weight, stoichiometry.edge_weight, 0.0)
        _fill(self.owner, step.owner_on_device, n)
        _fill(self.structure_ids, step.structures_on_device, 0)
        if data.targets is not None:  # (formulas,) or (formulas, properties): padded along the formulas
            self.targets[:n].copy_(data.formula_targets(step))
            self.targets[n:].fill_(float("nan"))
        if self.with_graphs:
            crystals = data.graphs.gather(step.structures, step.structures_on_device)
            atoms = crystals.batch.shape[0]
            _fill_spread(self.crystal_edges, crystals.edge_index, atoms, sizes.atoms)
            _fill(self.distance, crystals.distance, 1.0)
            _fill_spread(self.atom_batch, crystals.batch, m, sizes.structures)
            if self.species is not None:
                _fill(self.species, crystals.species, 0)

    def stoichiometry(self) -> StoichiometryBatch:
        """The padded stoichiometry graphs: the batch's formulas, then the padding formula."""
        return StoichiometryBatch(self.element, self.fraction, self.stoichiometry_edges, self.edge_weight,
                                  self.node_batch, self.sizes.formulas + 1)

    def crystals(self) -> CrystalBatch:
        """The padded crystal graphs: the batch's structures, then the padding structures."""
        return CrystalBatch(self.crystal_edges, self.distance, self.atom_batch, self.sizes.structures,
                            self.species)


class GraphedEpoch:
    """The full batches of one epoch, trained by replaying one captured CUDA graph.

    Parameters
    ----------
    network : PolySRLNetwork
        On the CUDA device, in training mode.
    loss_module : SoftContrastiveLoss
        The network's loss (``objective_loss(network)``).
    data : TrainingData
        Serving either live crystal graphs (joint epoch) or cached structure vectors.
    optimizer : torch.optim.Adam
        Fused and capturable (``adam_for(..., capturable=True)``).
    grad_clip : float
    autocast_dtype : torch.dtype or None
        bf16 autocast of the encoders, or None for fp32/tf32.
    warmup_steps : int
        Eager steps on a side stream before the capture (at least 1).
    """

    def __init__(self, network: PolySRLNetwork, loss_module: torch.nn.Module, data: TrainingData,
                 optimizer: torch.optim.Optimizer, grad_clip: float, autocast_dtype: torch.dtype | None,
                 warmup_steps: int = 3) -> None:
        self.network, self.loss_module, self.data = network, loss_module, data
        self.optimizer, self.grad_clip = optimizer, grad_clip
        self.autocast_dtype = autocast_dtype
        self.warmup_steps = max(1, warmup_steps)
        self.parameters = [p for p in network.parameters() if p.requires_grad]

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        # cached casts would outlive the capture's memory pool
        return torch.autocast("cuda", dtype=self.autocast_dtype, cache_enabled=False)

    def _step(self, padded: PaddedBatch) -> tuple[torch.Tensor, dict, torch.Tensor]:
        """Forward, loss, backward, clipping and Adam on the padded buffers (captured once, then replayed)."""
        n = padded.sizes.formulas
        with self._autocast():
            mean, variance = self.network.stoichiometry(padded.stoichiometry())
            if self.data.cached is not None:
                structure_vectors = self.network.structure_projection(self.data.cached[padded.structure_ids])
            else:
                structure_vectors = self.network.structure(padded.crystals())
            loss, parts = self.loss_module(mean.float(), variance.float(), structure_vectors.float(), padded.owner,
                                           real_formulas=n)
            if self.network.config.multitask_weight > 0:
                loss = add_multitask_term(self.network, loss, parts, mean[:n], padded.targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.parameters, self.grad_clip)
        self.optimizer.step()
        return loss.detach(), parts, variance[:n].detach()

    def run(self, steps: Sequence[ResidentBatch]) -> Iterator[tuple[torch.Tensor, dict, torch.Tensor]]:
        """Train on ``steps`` (all of one size); yields each step's loss, loss parts and variances.

        The yielded tensors are the graph's outputs: read them (enqueue work on them)
        before asking for the next step, which overwrites them.
        """
        if not steps:
            return
        with_graphs = self.data.cached is None
        sizes = PaddedSizes.of(self.data, steps, with_graphs)
        species = with_graphs and getattr(self.network.structure, "species_aware", False)
        target_shape = () if self.data.targets is None else tuple(self.data.targets.shape[1:])
        padded = PaddedBatch(sizes, self.data.device, with_graphs, species, target_shape)
        warmup, rest = steps[:self.warmup_steps], steps[self.warmup_steps:]
        side = torch.cuda.Stream(self.data.device)
        side.wait_stream(torch.cuda.current_stream(self.data.device))
        outputs = []
        with torch.cuda.stream(side):
            for step in warmup:
                padded.fill(self.data, step)
                self.optimizer.zero_grad(set_to_none=True)
                loss, parts, variance = self._step(padded)
                outputs.append((loss.clone(), {k: v.clone() for k, v in parts.items()}, variance.clone()))
        torch.cuda.current_stream(self.data.device).wait_stream(side)
        yield from outputs
        if not rest:
            return
        graph = torch.cuda.CUDAGraph()
        self.optimizer.zero_grad(set_to_none=True)
        padded.fill(self.data, rest[0])
        with torch.cuda.graph(graph):
            captured = self._step(padded)
        for i, step in enumerate(rest):
            if i:
                padded.fill(self.data, step)
            graph.replay()
            yield captured
