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


def index_ranges(starts: torch.Tensor, lengths: torch.Tensor, total: int | None = None) -> torch.Tensor:
    """Concatenation of ``arange(starts[i], starts[i] + lengths[i])`` over ``i`` (no Python loop).

    ``total`` (the sum of ``lengths``), when the caller knows it, spares a
    device-to-host synchronisation on a GPU.
    """
    offsets = torch.cumsum(lengths, 0) - lengths
    total = int(lengths.sum()) if total is None else int(total)
    return torch.repeat_interleave(starts - offsets, lengths, output_size=total) + torch.arange(
        total, device=starts.device)


def _as_index(ids: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    if isinstance(ids, np.ndarray):
        ids = torch.from_numpy(np.ascontiguousarray(ids, dtype=np.int64))
    return ids.to(device=device, dtype=torch.int64)


def _host(ids: np.ndarray | torch.Tensor) -> np.ndarray:
    return ids if isinstance(ids, np.ndarray) else ids.cpu().numpy()


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
        self.sizes_host, self.edge_counts_host = sizes, edge_counts
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

    def gather(self, ids: np.ndarray | torch.Tensor, on_device: torch.Tensor | None = None) -> StoichiometryBatch:
        """The batch of compositions ``ids``, as ``build_stoichiometry_batch`` would build it.

        ``ids`` on the host (NumPy) lets the batch sizes be summed there;
        ``on_device``, the same ids already on the device, spares their copy.
        No step of the gather waits for the device.
        """
        host = _host(ids)
        ids = _as_index(ids, self.device) if on_device is None else on_device
        n = len(host)
        sizes = self.sizes[ids]
        n_nodes = int(self.sizes_host[host].sum())
        nodes = index_ranges(self.node_ptr[ids], sizes, n_nodes)
        position = torch.arange(n, device=self.device)
        batch = torch.repeat_interleave(position, sizes, output_size=n_nodes)
        counts = self.edge_counts[ids]
        n_edges = int(self.edge_counts_host[host].sum())
        edges = index_ranges(self.edge_ptr[ids], counts, n_edges)
        owner = torch.repeat_interleave(position, counts, output_size=n_edges)
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
        self.num_nodes_host = graphs.num_nodes.astype(np.int64)
        self.edge_counts_host = np.diff(graphs.edge_ptr).astype(np.int64)
        self.num_nodes = torch.from_numpy(graphs.num_nodes.astype(np.int64)).to(**to)
        self.node_ptr = torch.from_numpy(graphs.node_ptr).to(**to)
        self.edge_ptr = torch.from_numpy(graphs.edge_ptr.astype(np.int64)).to(**to)
        self.src = torch.from_numpy(graphs.src.astype(np.int32)).to(**to)
        self.dst = torch.from_numpy(graphs.dst.astype(np.int32)).to(**to)
        self.distance = torch.from_numpy(graphs.distance.astype(np.float32)).to(**to)
        self.species = None if graphs.species is None else torch.from_numpy(graphs.species).to(**to)

    def __len__(self) -> int:
        return len(self.num_nodes)

    def gather(self, ids: np.ndarray | torch.Tensor, on_device: torch.Tensor | None = None) -> CrystalBatch:
        """The batch of structures ``ids``, as :meth:`CrystalGraphSet.collate` would build it.

        ``on_device`` as in :meth:`ResidentFormulas.gather`; no step waits for the device.
        """
        host = _host(ids)
        ids = _as_index(ids, self.device) if on_device is None else on_device
        n = len(host)
        n_nodes = self.num_nodes[ids]
        counts = self.edge_ptr[ids + 1] - self.edge_ptr[ids]
        n_edges = int(self.edge_counts_host[host].sum())
        total_nodes = int(self.num_nodes_host[host].sum())
        edges = index_ranges(self.edge_ptr[ids], counts, n_edges)
        position = torch.arange(n, device=self.device)
        shift = (torch.cumsum(n_nodes, 0) - n_nodes)[torch.repeat_interleave(position, counts,
                                                                             output_size=n_edges)]
        edge_index = torch.stack([self.src[edges].long() + shift, self.dst[edges].long() + shift])
        batch = torch.repeat_interleave(position, n_nodes, output_size=total_nodes)
        species = None
        if self.species is not None:
            species = self.species[index_ranges(self.node_ptr[ids], n_nodes, total_nodes)].long()
        return CrystalBatch(edge_index, self.distance[edges], batch, n, species)
