"""Batched, vectorised construction of fully connected stoichiometry graphs.

Each composition becomes a complete directed graph over its elements (no
self-loops; the GCN layer adds them). The weight of edge ``j -> i`` is the
atomic fraction of the source element ``j``, so message passing sees the
stoichiometry, not only the set of elements.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from .composition import ParsedComposition


@dataclass
class StoichiometryBatch:
    """Tensors describing a batch of stoichiometry graphs.

    Attributes
    ----------
    element : LongTensor (n_nodes,)
        Element row of each node.
    fraction : FloatTensor (n_nodes,)
        Atomic fraction of each node's element within its composition.
    edge_index : LongTensor (2, n_edges)
        Source and target node of each edge.
    edge_weight : FloatTensor (n_edges,)
        Fraction of the source node.
    batch : LongTensor (n_nodes,)
        Composition of each node.
    num_graphs : int
        Number of compositions.
    """

    element: torch.Tensor
    fraction: torch.Tensor
    edge_index: torch.Tensor
    edge_weight: torch.Tensor
    batch: torch.Tensor
    num_graphs: int

    def to(self, device: torch.device | str) -> "StoichiometryBatch":
        """Return the batch on ``device``."""
        return StoichiometryBatch(
            self.element.to(device),
            self.fraction.to(device),
            self.edge_index.to(device),
            self.edge_weight.to(device),
            self.batch.to(device),
            self.num_graphs,
        )


@lru_cache(maxsize=64)
def _pair_template(n: int) -> np.ndarray:
    """All ordered pairs (src, dst) with src != dst among ``n`` nodes."""
    src, dst = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    keep = src != dst
    return np.stack([src[keep], dst[keep]])


def build_stoichiometry_batch(parsed: list[ParsedComposition]) -> StoichiometryBatch:
    """Assemble parsed compositions into one batch of complete graphs.

    Parameters
    ----------
    parsed : list of (elements, fractions)
        Output of :func:`polysrl_sklearn.composition.parse_composition`.

    Returns
    -------
    StoichiometryBatch
    """
    sizes = np.fromiter((len(e) for e, _ in parsed), dtype=np.int64, count=len(parsed))
    # no compositions (a rank's empty share of a small batch): an empty batch, as ResidentFormulas gives
    element = np.concatenate([e for e, _ in parsed]) if parsed else np.zeros(0, np.int64)
    fraction = np.concatenate([f for _, f in parsed]) if parsed else np.zeros(0, np.float32)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    batch = np.repeat(np.arange(len(parsed)), sizes)
    edge_blocks = []
    for n in np.unique(sizes):
        if n < 2:
            continue
        template = _pair_template(int(n))  # (2, n*(n-1))
        starts = offsets[sizes == n]  # graphs with n nodes
        edge_blocks.append(
            (template[:, None, :] + starts[None, :, None]).reshape(2, -1)
        )
    edge_index = (
        np.concatenate(edge_blocks, axis=1) if edge_blocks else np.zeros((2, 0), np.int64)
    )
    return StoichiometryBatch(
        element=torch.from_numpy(element),
        fraction=torch.from_numpy(fraction),
        edge_index=torch.from_numpy(edge_index),
        edge_weight=torch.from_numpy(fraction[edge_index[0]]),
        batch=torch.from_numpy(batch),
        num_graphs=len(parsed),
    )
