"""Pretraining objectives sharing one stoichiometry encoder (paper Section 5.1, Appendix D).

* ``polysrl`` -- soft contrastive matching of the stoichiometry Gaussian to
  its polymorphs (J samples), plus beta * KL.
* ``polysrl_nosample`` -- the same loss with the mean only (ablation: no
  probabilistic sampling).
* ``infomax`` -- 3D-Infomax style NT-Xent between the stoichiometry mean and
  crystal vectors (positives: the formula's own polymorphs).
* ``graphcl`` -- NT-Xent between two random augmentations of each
  stoichiometry graph (element dropping, fraction jitter); no structures.
* ``supervised`` -- L1 regression of a DFT property from the stoichiometry
  mean (e.g. MP band gap); see :func:`supervised_loss`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from .composition import ParsedComposition
from .stoichiometry_graph import build_stoichiometry_batch

OBJECTIVES = ("polysrl", "polysrl_nosample", "infomax", "graphcl", "supervised")
STRUCTURE_OBJECTIVES = ("polysrl", "polysrl_nosample", "infomax")
TEMPERATURE = 0.1


def check_objective(objective: str) -> str:
    """Return ``objective`` or raise a ValueError listing the valid ones."""
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; choose one of {OBJECTIVES}")
    return objective


def nt_xent(anchors: torch.Tensor, candidates: torch.Tensor, target: torch.Tensor,
            temperature: float = TEMPERATURE) -> torch.Tensor:
    """Cross-entropy of cosine-similarity logits: row ``i`` of ``anchors`` should pick ``candidates[target[i]]``."""
    logits = F.normalize(anchors, dim=-1) @ F.normalize(candidates, dim=-1).T / temperature
    return F.cross_entropy(logits, target)


def augment(parsed: ParsedComposition, rng: np.random.Generator, drop_probability: float = 0.2,
            jitter: float = 0.2) -> ParsedComposition:
    """A random view of one composition: drop elements, jitter fractions, renormalise.

    At least one element is always kept.
    """
    elements, fractions = parsed
    keep = rng.random(len(elements)) >= drop_probability
    if not keep.any():
        keep[rng.integers(len(elements))] = True
    noisy = fractions[keep] * np.exp(jitter * rng.standard_normal(int(keep.sum())))
    return elements[keep], (noisy / noisy.sum()).astype(np.float32)


def graphcl_loss(network, parsed: list[ParsedComposition], rng: np.random.Generator,
                 device: torch.device) -> torch.Tensor:
    """Symmetric NT-Xent between two augmented views of each composition."""
    views = [build_stoichiometry_batch([augment(p, rng) for p in parsed]).to(device) for _ in range(2)]
    a, _ = network.stoichiometry(views[0])
    b, _ = network.stoichiometry(views[1])
    target = torch.arange(len(parsed), device=device)
    return 0.5 * (nt_xent(a, b, target) + nt_xent(b, a, target))


def infomax_loss(mean: torch.Tensor, structure_vectors: torch.Tensor, owner: torch.Tensor) -> torch.Tensor:
    """NT-Xent: each crystal vector should pick its own formula's mean among the batch."""
    return nt_xent(structure_vectors, mean, owner)


def supervised_loss(network, stoich, targets: torch.Tensor) -> torch.Tensor:
    """Mean absolute error of the property head on the stoichiometry mean."""
    mean, _ = network.stoichiometry(stoich)
    return (network.property_head(mean).squeeze(-1) - targets).abs().mean()
