"""The baselines' pretraining objectives: InfoMax, GraphCL and supervised (paper Section 5.1, Appendix D).

* :class:`InfoMaxLoss` -- 3D-Infomax style NT-Xent between the stoichiometry mean and the
  crystal vectors (positives: the formula's own polymorphs).
* :class:`GraphCLLoss` -- NT-Xent between two random augmentations of each stoichiometry graph
  (element dropping, fraction jitter); no structures.
* :class:`SupervisedLoss` -- L1 regression of a DFT property (e.g. the MP band gap) from the
  stoichiometry mean.

They are registered in :data:`polysrl_sklearn.objectives.OBJECTIVES` beside PolySRL's own
:class:`~polysrl_sklearn.soft_contrastive.SoftContrastiveLoss`.

Examples
--------
>>> import torch
>>> from polysrl_sklearn.baseline_objectives import nt_xent
>>> anchors = torch.eye(3)
>>> float(nt_xent(anchors, anchors, torch.arange(3))) < float(nt_xent(anchors, anchors, torch.tensor([1, 2, 0])))
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .composition import ParsedComposition
from .stoichiometry_graph import build_stoichiometry_batch

if TYPE_CHECKING:
    from .network import PolySRLNetwork
    from .training_data import TrainingData

#: Softmax temperature of the NT-Xent objectives' cosine-similarity logits.
TEMPERATURE = 0.1

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
    """Symmetric NT-Xent between two augmented views of each composition (see :class:`GraphCLLoss`)."""
    return GraphCLLoss()(network, parsed, rng, device)


def infomax_loss(mean: torch.Tensor, structure_vectors: torch.Tensor, owner: torch.Tensor) -> torch.Tensor:
    """NT-Xent: each crystal vector should pick its own formula's mean among the batch (see :class:`InfoMaxLoss`)."""
    return InfoMaxLoss()(mean, structure_vectors, owner)


def supervised_loss(network, stoich, targets: torch.Tensor) -> torch.Tensor:
    """Mean absolute error of the property head on the stoichiometry mean (see :class:`SupervisedLoss`)."""
    return SupervisedLoss()(network, stoich, targets)


class _NTXentLoss(nn.Module):
    """What the NT-Xent objectives share: the softmax temperature of their cosine-similarity logits."""

    def __init__(self, temperature: float = TEMPERATURE) -> None:
        super().__init__()
        self.temperature = temperature

    def extra_repr(self) -> str:
        return f"temperature={self.temperature:g}"


class InfoMaxLoss(_NTXentLoss):
    """3D-Infomax style NT-Xent: each crystal vector should pick its own formula's mean.

    Parameters
    ----------
    temperature : float
        Softmax temperature of the cosine-similarity logits.
    """

    def forward(self, mean: torch.Tensor, structure_vectors: torch.Tensor, owner: torch.Tensor) -> torch.Tensor:
        """NT-Xent of ``structure_vectors`` against the ``mean`` rows; ``owner`` gives the positives."""
        return nt_xent(structure_vectors, mean, owner, self.temperature)

    def batch_loss(self, network: PolySRLNetwork, data: TrainingData, step: Any,
                   rng: np.random.Generator) -> tuple[torch.Tensor, dict, torch.Tensor]:
        """Loss of one sampler step; also returns the batch's variances (for logging)."""
        mean, variance = data.formula_gaussians(network, step)
        structure_vectors = data.structure_vectors(network, step)
        return self(mean.float(), structure_vectors.float(), data.owner(step)), {}, variance


class GraphCLLoss(_NTXentLoss):
    """Symmetric NT-Xent between two augmented views of each stoichiometry graph (no structures).

    Parameters
    ----------
    temperature : float
        Softmax temperature of the cosine-similarity logits.
    """

    def forward(self, network: PolySRLNetwork, parsed: list[ParsedComposition], rng: np.random.Generator,
                device: torch.device) -> torch.Tensor:
        """Loss of two random views (see :func:`augment`) of the compositions ``parsed``."""
        views = [build_stoichiometry_batch([augment(p, rng) for p in parsed]).to(device) for _ in range(2)]
        a, b = (network.stoichiometry(view)[0].float() for view in views)
        return self.views_loss(a, b)

    def views_loss(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Symmetric NT-Xent of two views' mean vectors (row ``i`` of ``a`` and of ``b``: one composition)."""
        target = torch.arange(len(a), device=a.device)
        return 0.5 * (nt_xent(a, b, target, self.temperature) + nt_xent(b, a, target, self.temperature))

    def batch_loss(self, network: PolySRLNetwork, data: TrainingData, step: Any,
                   rng: np.random.Generator) -> tuple[torch.Tensor, dict, torch.Tensor]:
        """Loss of one sampler step; also returns the batch's variances (for logging)."""
        with torch.no_grad():
            _, variance = data.formula_gaussians(network, step)
        parsed = [data.parsed[f] for f in step.formulas]
        # both views of every formula of the batch are drawn (the same draws on every rank), then encoded
        views = [[augment(p, rng) for p in parsed] for _ in range(2)]
        a, b = (data.encode_compositions(network, view, step)[0].float() for view in views)
        return self.views_loss(a, b), {}, variance


class SupervisedLoss(nn.Module):
    """Mean absolute error of the network's property head on the stoichiometry mean."""

    def forward(self, network: PolySRLNetwork, stoich: Any, targets: torch.Tensor) -> torch.Tensor:
        """L1 loss of ``network.property_head(mean)`` against ``targets``."""
        mean, _ = network.stoichiometry(stoich)
        return self.head_loss(network, mean, targets)

    @staticmethod
    def head_loss(network: PolySRLNetwork, mean: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean absolute error of ``network.property_head`` on the mean vectors ``mean``."""
        return (network.property_head(mean).float().squeeze(-1) - targets).abs().mean()

    def batch_loss(self, network: PolySRLNetwork, data: TrainingData, step: Any,
                   rng: np.random.Generator) -> tuple[torch.Tensor, dict, torch.Tensor]:
        """Loss of one sampler step; also returns the batch's variances (for logging)."""
        mean, variance = data.formula_gaussians(network, step)
        return self.head_loss(network, mean, data.formula_targets(step)), {}, variance.detach()
