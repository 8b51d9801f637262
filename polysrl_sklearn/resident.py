"""A corpus kept on the training device: a batch is an index gather, not Python collation.

:class:`ResidentFormulas` holds the stoichiometry graphs of every corpus formula
and :class:`ResidentGraphs` the crystal graphs of every corpus structure as flat
tensors on one device (CSR layout: per-item pointers into node and edge
arrays, edges stored with item-local atom indices). :meth:`gather` builds the
disjoint-union batch of any list of items with a few tensor operations
(``repeat_interleave``, one stable ``argsort``), so a training step does no
per-item Python work and, on a GPU, no host-to-device copy of graph data.

The batches are identical, element for element and in the same order, to
those of :func:`~polysrl_sklearn.stoichiometry_graph.build_stoichiometry_batch`
and :meth:`CrystalGraphSet.collate <polysrl_sklearn.crystal_graph.CrystalGraphSet.collate>`,
so switching to resident batches does not change a seeded result.
"""

from __future__ import annotations

import numpy as np
import torch

from .composition import ParsedComposition
from .crystal_graph import CrystalBatch, CrystalGraphSet
from .stoichiometry_graph import StoichiometryBatch, _pair_template


def index_ranges(starts: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Concatenation of ``arange(starts[i], starts[i] + lengths[i])`` over ``i`` (no Python loop)."""
    offsets = torch.cumsum(lengths, 0) - lengths
    total = int(lengths.sum())
    return torch.repeat_interleave(starts - offsets, lengths, output_size=total) + torch.arange(
        total, device=starts.device)


def _as_index(ids: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    if isinstance(ids, np.ndarray):
        ids = torch.from_numpy(np.ascontiguousarray(ids, dtype=np.int64))
    return ids.to(device=device, dtype=torch.int64)


class ResidentFormulas:
    """Stoichiometry graphs of many compositions, on one device.

    Parameters
    ----------
    parsed : list of (elements, fractions)
        Parsed compositions (:func:`~polysrl_sklearn.composition.parse_composition`).
    device : str or torch.device
    """

    def __init__(self, parsed: list[ParsedComposition], device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        sizes = np.fromiter((len(e) for e, _ in parsed), dtype=np.int64, count=len(parsed))
        edge_counts = sizes * (sizes - 1)
        local = [_pair_template(int(n)) for n in sizes]
        to = {"device": self.device}
        self.sizes = torch.from_numpy(sizes).to(**to)
        self.node_ptr = torch.from_numpy(np.concatenate([[0], np.cumsum(sizes)])).to(**to)
        self.edge_counts = torch.from_numpy(edge_counts).to(**to)
        self.edge_ptr = torch.from_numpy(np.concatenate([[0], np.cumsum(edge_counts)])).to(**to)
        element = np.concatenate([e for e, _ in parsed]) if parsed else np.zeros(0, np.int64)
        fraction = np.concatenate([f for _, f in parsed]) if parsed else np.zeros(0, np.float32)
        self.element = torch.from_numpy(element).to(**to)
        self.fraction = torch.from_numpy(fraction).to(**to)
        pairs = np.concatenate(local, axis=1) if local else np.zeros((2, 0), np.int64)
        self.local_edges = torch.from_numpy(pairs.astype(np.int64)).to(**to)

    def __len__(self) -> int:
        return len(self.sizes)

    def gather(self, ids: np.ndarray | torch.Tensor) -> StoichiometryBatch:
        """The batch of compositions ``ids``, as ``build_stoichiometry_batch`` would build it."""
        ids = _as_index(ids, self.device)
        n = len(ids)
        sizes = self.sizes[ids]
        nodes = index_ranges(self.node_ptr[ids], sizes)
        position = torch.arange(n, device=self.device)
        batch = torch.repeat_interleave(position, sizes, output_size=len(nodes))
        counts = self.edge_counts[ids]
        edges = index_ranges(self.edge_ptr[ids], counts)
        owner = torch.repeat_interleave(position, counts, output_size=len(edges))
        # build_stoichiometry_batch orders edges by graph size, then by position in the batch
        order = torch.argsort(sizes[owner] * max(n, 1) + owner, stable=True)
        edges, owner = edges[order], owner[order]
        offsets = torch.cumsum(sizes, 0) - sizes
        edge_index = self.local_edges[:, edges] + offsets[owner]
        fraction = self.fraction[nodes]
        return StoichiometryBatch(self.element[nodes], fraction, edge_index, fraction[edge_index[0]], batch, n)


class ResidentGraphs:
    """Crystal graphs of many structures, on one device.

    Parameters
    ----------
    graphs : CrystalGraphSet
    device : str or torch.device
    """

    def __init__(self, graphs: CrystalGraphSet, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        to = {"device": self.device}
        self.num_nodes = torch.from_numpy(graphs.num_nodes.astype(np.int64)).to(**to)
        self.node_ptr = torch.from_numpy(graphs.node_ptr).to(**to)
        self.edge_ptr = torch.from_numpy(graphs.edge_ptr.astype(np.int64)).to(**to)
        self.src = torch.from_numpy(graphs.src.astype(np.int32)).to(**to)
        self.dst = torch.from_numpy(graphs.dst.astype(np.int32)).to(**to)
        self.distance = torch.from_numpy(graphs.distance.astype(np.float32)).to(**to)
        self.species = None if graphs.species is None else torch.from_numpy(graphs.species).to(**to)

    def __len__(self) -> int:
        return len(self.num_nodes)

    def gather(self, ids: np.ndarray | torch.Tensor) -> CrystalBatch:
        """The batch of structures ``ids``, as :meth:`CrystalGraphSet.collate` would build it."""
        ids = _as_index(ids, self.device)
        n = len(ids)
        n_nodes = self.num_nodes[ids]
        counts = self.edge_ptr[ids + 1] - self.edge_ptr[ids]
        edges = index_ranges(self.edge_ptr[ids], counts)
        position = torch.arange(n, device=self.device)
        shift = (torch.cumsum(n_nodes, 0) - n_nodes)[torch.repeat_interleave(position, counts,
                                                                             output_size=len(edges))]
        edge_index = torch.stack([self.src[edges].long() + shift, self.dst[edges].long() + shift])
        total_nodes = int(n_nodes.sum())
        batch = torch.repeat_interleave(position, n_nodes, output_size=total_nodes)
        species = None
        if self.species is not None:
            species = self.species[index_ranges(self.node_ptr[ids], n_nodes)].long()
        return CrystalBatch(edge_index, self.distance[edges], batch, n, species)
