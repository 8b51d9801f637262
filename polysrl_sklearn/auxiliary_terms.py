"""Auxiliary pretraining terms that are not the paper's: an anti-collapse penalty and property heads.

* :func:`variance_covariance_penalty` -- ``--decorrelation``: VICReg's variance and covariance
  terms on the batch's mean vectors, against the collapse of the features into few directions.
* :func:`multitask_l1` and :func:`add_multitask_term` -- ``--multitask-weight`` with
  ``--property-table``: L1 heads that predict DFT properties from the mean vector, so that the
  representation keeps the chemistry that those properties need.
* :func:`add_element_statistics_term` -- ``--element-statistics``: a linear head that
  reconstructs the composition's 132 Magpie statistics (standardised) from the mean vector, so
  that the representation keeps the chemistry of its own input
  (:mod:`polysrl_sklearn.element_probes` measures how much it keeps).

Examples
--------
>>> import torch
>>> from polysrl_sklearn.auxiliary_terms import multitask_l1
>>> predicted = torch.tensor([[1.0, 0.0], [2.0, 5.0]])
>>> targets = torch.tensor([[1.5, float("nan")], [2.0, 4.0]])   # NaN: unknown
>>> float(multitask_l1(predicted, targets))   # column 0: (0.5 + 0) / 2; column 1: 1 / 1
1.25
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from .network import PolySRLNetwork

def variance_covariance_penalty(vectors: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """VICReg's anti-collapse terms on a batch of vectors (Bardes et al., 2022).

    Mean hinge ``relu(1 - std_d)`` over dimensions plus the sum of squared
    off-diagonal covariances divided by the width.
    """
    n, width = vectors.shape
    centred = vectors - vectors.mean(dim=0)
    std = torch.sqrt(centred.pow(2).sum(dim=0) / max(n - 1, 1) + eps)
    covariance = centred.T @ centred / max(n - 1, 1)
    off_diagonal = covariance.pow(2).sum() - torch.diagonal(covariance).pow(2).sum()
    return torch.relu(1.0 - std).mean() + off_diagonal / width


def multitask_l1(predicted: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Sum over property columns of each column's mean absolute error over its known rows.

    ``predicted`` and ``targets`` are (n,) for one property or (n, n_properties);
    NaN targets are unknown, and a column with no known row adds 0.
    """
    known = torch.isfinite(targets)
    errors = torch.where(known, (predicted - torch.nan_to_num(targets)).abs(), torch.zeros_like(predicted))
    if targets.dim() == 1:
        return errors.sum() / known.sum().clamp(min=1)
    return (errors.sum(dim=0) / known.sum(dim=0).clamp(min=1)).sum()


def add_multitask_term(network: PolySRLNetwork, loss: torch.Tensor, parts: dict, mean: torch.Tensor,
                       targets: torch.Tensor) -> torch.Tensor:
    """``loss`` plus ``multitask_weight`` times the property heads' :func:`multitask_l1` on ``mean``.

    The unweighted term is recorded in ``parts["multitask"]`` (detached).
    """
    predicted = network.property_head(mean).float()
    auxiliary = multitask_l1(predicted.squeeze(-1) if targets.dim() == 1 else predicted, targets)
    parts["multitask"] = auxiliary.detach()
    return loss + network.config.multitask_weight * auxiliary


def add_element_statistics_term(network: PolySRLNetwork, loss: torch.Tensor, parts: dict, mean: torch.Tensor,
                                statistics: torch.Tensor) -> torch.Tensor:
    """``loss`` plus ``element_statistics`` times the reconstruction's mean absolute error on ``mean``.

    The reconstruction is the linear ``statistics_head`` of ``mean`` or, with
    ``element_statistics_head="coordinates"``, the first 132 coordinates of ``mean`` themselves.

    ``statistics`` are the batch formulas' standardised Magpie statistics, (n, 132)
    (:func:`polysrl_sklearn.element_probes.standardised_element_statistics`); the error is averaged
    over formulas and statistics, so the weight does not depend on their number. The unweighted
    term is recorded in ``parts["element_statistics"]`` (detached).
    """
    if network.config.element_statistics_head == "coordinates":
        reconstruction = mean[:, :statistics.shape[1]]
    else:
        reconstruction = network.statistics_head(mean)
    term = (reconstruction.float() - statistics).abs().mean()
    parts["element_statistics"] = term.detach()
    return loss + network.config.element_statistics * term
