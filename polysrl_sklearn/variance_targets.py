"""Variance targets: what the variance head of a Gaussian stoichiometry encoder is pulled towards.

The paper's loss gives the variance only the contrastive loss and the KL term; the study's
levers add explicit targets (docs/pretraining.md, "Representation study"):

* :func:`polymorph_nll` -- ``--polymorph-spread``: the likelihood of a formula's polymorph
  vectors under its Gaussian.
* :func:`variance_matching_loss` -- ``--variance-matching`` (with ``--variance-count``): each
  formula's mean log-variance against :func:`spread_log_variance_target`, the log of its
  polymorphs' spread in the structure space plus a level.
* :func:`mixture_matching_loss` -- ``--variance-mixtures``: a synthetic mixture of two formulas
  against the target of both parents' polymorphs together.
* :func:`anchor_offsets` -- ``--variance-anchor``: a frozen network's own centred log-variance,
  added to every target.

:class:`~polysrl_sklearn.soft_contrastive.SoftContrastiveLoss` adds them, with their weights.

Examples
--------
>>> import torch
>>> from polysrl_sklearn.variance_targets import spread_log_variance_target
>>> vectors = torch.tensor([[0.0, 0.0], [2.0, 0.0], [5.0, 5.0]])
>>> owner = torch.tensor([0, 0, 1])   # formula 0 has two polymorphs, formula 1 one
>>> target = spread_log_variance_target(vectors, owner, n=2)
>>> bool(target[0] > target[1])
True
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch_geometric.utils import scatter

if TYPE_CHECKING:
    from .training_data import TrainingData


def structures_per_formula(owner: torch.Tensor, n: int, dtype: torch.dtype) -> torch.Tensor:
    """How many structures of the batch each of its ``n`` formulas owns, as ``dtype``.

    ``index_add``, not ``bincount``: bincount waits for the device to size its output.
    """
    return torch.zeros(n, dtype=dtype, device=owner.device).index_add_(0, owner, torch.ones_like(owner, dtype=dtype))


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over the entries where ``mask`` is true (no host synchronisation)."""
    weights = mask.to(values.dtype)
    return (values * weights).sum() / weights.sum().clamp(min=1)


def polymorph_nll(mean: torch.Tensor, variance: torch.Tensor, structure_vectors: torch.Tensor,
                  owner: torch.Tensor, structure_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean negative log-likelihood per dimension of each structure vector under its owner's Gaussian.

    ``0.5 * mean_d((z_p - mu_a)^2 / var_a + log var_a)`` (constant dropped),
    averaged over structures (those of ``structure_mask`` only, when given: a
    padded batch). Its minimum over the variance is the squared distance of the
    polymorphs from the mean, so the variance learns the spread.
    """
    mu, var = mean[owner], variance[owner]
    terms = 0.5 * ((structure_vectors - mu).pow(2) / var + var.log())
    if structure_mask is None:
        return terms.mean()
    return _masked_mean(terms.mean(dim=-1), structure_mask)


#: Level of :func:`spread_log_variance_target` for a formula whose polymorphs coincide (or that has
#: one structure), as a fraction of the batch's mean per-dimension variance of the structure vectors.
SPREAD_LEVEL = 1e-2


def spread_log_variance_target(structure_vectors: torch.Tensor, owner: torch.Tensor, n: int,
                               level: float = SPREAD_LEVEL,
                               structure_mask: torch.Tensor | None = None,
                               count_weight: float = 0.0) -> torch.Tensor:
    """Log of each formula's polymorph spread in the structure space, plus a level (no gradient).

    The spread of formula ``a`` is the mean squared distance per dimension of its polymorph
    vectors in the batch from their centroid (0 for one structure). ``level`` times the
    batch's mean per-dimension variance of all structure vectors is added, so the target does
    not depend on the scale of the structure space and single-structure formulas aim at a
    finite level above the variance floor. With ``count_weight`` w > 0, each polymorph of
    ``a`` in the batch beyond the first adds w more levels, so that polymorphs whose structure
    vectors coincide still raise the target. With ``structure_mask`` (a padded
    batch) the batch's variance is taken over the masked structures only.

    Returns
    -------
    Tensor (n,)
        ``log(spread_a + level * scale * (1 + w * (n_a - 1)))``, detached, where ``n_a`` is
        the number of ``a``'s structures in the batch.
    """
    vectors = structure_vectors.detach()
    centroid = scatter(vectors, owner, dim=0, dim_size=n, reduce="mean")
    squared = (vectors - centroid[owner]).pow(2).mean(dim=-1)
    spread = scatter(squared, owner, dim=0, dim_size=n, reduce="mean")
    if structure_mask is None:
        scale = vectors.var(dim=0).mean() if vectors.shape[0] > 1 else torch.ones((), dtype=vectors.dtype)
    else:
        weights = structure_mask.to(vectors.dtype).unsqueeze(-1)
        count = weights.sum()
        centre = (vectors * weights).sum(dim=0) / count.clamp(min=1)
        unbiased = ((vectors - centre).pow(2) * weights).sum(dim=0).mean() / (count - 1).clamp(min=1)
        scale = torch.where(count > 1, unbiased, torch.ones_like(unbiased))
    levels = 1.0
    if count_weight > 0:
        levels = 1.0 + count_weight * (structures_per_formula(owner, n, vectors.dtype) - 1.0).clamp(min=0.0)
    return torch.log(spread + level * scale * levels)


def variance_matching_loss(variance: torch.Tensor, structure_vectors: torch.Tensor,
                           owner: torch.Tensor, real_formulas: int | None = None,
                           structure_mask: torch.Tensor | None = None, count_weight: float = 0.0,
                           offset: torch.Tensor | None = None) -> torch.Tensor:
    """Squared gap between each formula's mean log-variance and :func:`spread_log_variance_target`.

    The mean over dimensions of the log-variance is the log of the uncertainty column (the
    geometric mean of the variances), so the term sets the column's level and order and
    leaves how it is spread over dimensions to the contrastive loss. Unlike the likelihood of
    :func:`polymorph_nll`, its optimum for a single-structure formula is finite.
    In a padded batch only the first ``real_formulas`` rows and the structures
    of ``structure_mask`` count. ``count_weight``: see :func:`spread_log_variance_target`.
    ``offset`` (n,), optional, is added to each formula's target, e.g. the anchor of
    :func:`anchor_offsets` (no gradient).
    """
    target = spread_log_variance_target(structure_vectors, owner, variance.shape[0], structure_mask=structure_mask,
                                        count_weight=count_weight)
    if offset is not None:
        target = target + offset.detach()
    gaps = (variance.log().mean(dim=-1) - target).pow(2)
    return gaps.mean() if real_formulas is None else gaps[:real_formulas].mean()


def mixture_matching_loss(mixture_variance: torch.Tensor, structure_vectors: torch.Tensor, owner: torch.Tensor,
                          partner: torch.Tensor, count_weight: float = 0.0,
                          offset: torch.Tensor | None = None) -> torch.Tensor:
    """Squared gap between each mixture's mean log-variance and the variance target of its parents' polymorphs.

    Mixture ``i`` has host formula ``i`` of the batch and guest ``partner[i]`` (a permutation
    of the batch's formulas, :func:`polysrl_sklearn.mixtures.batch_mixtures`). Its target is
    :func:`spread_log_variance_target` of the host's and the guest's structures together: a
    composition between two compounds may take either's structures, so it aims at their joint
    spread, above either parent's (and, with ``count_weight``, at their joint count).
    ``offset`` (n,), optional, is added to each mixture's target (no gradient).
    """
    n = mixture_variance.shape[0]
    guest_of = torch.empty_like(partner)
    guest_of[partner] = torch.arange(n, device=partner.device)  # the mixture in which formula f is the guest
    vectors = torch.cat([structure_vectors, structure_vectors])
    owners = torch.cat([owner, guest_of[owner]])
    target = spread_log_variance_target(vectors, owners, n, count_weight=count_weight)
    if offset is not None:
        target = target + offset.detach()
    return (mixture_variance.log().mean(dim=-1) - target).pow(2).mean()


def anchor_offsets(anchor_variance: torch.Tensor, scale: float,
                   centre: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``variance_anchor`` lever's additions to the variance targets (no gradient).

    ``anchor_variance`` (n, F) are the variances of the batch's compositions under the
    network as it was when the stage started (a frozen copy). Each composition's
    addition is ``scale`` times its mean log-variance minus ``centre``: by default the
    batch's mean, so the anchor moves the targets' order, not their level. Returns the
    additions and the centre (to centre another set, e.g. the batch's mixtures, alike).
    """
    log_variance = anchor_variance.detach().float().log().mean(dim=-1)
    if centre is None:
        centre = log_variance.mean()
    return scale * (log_variance - centre), centre


def stage_start_variance(encoder: nn.Module | None, data: TrainingData, step: Any,
                         compositions: Sequence[Any] | None = None) -> torch.Tensor:
    """Variances of a step's formulas (or of ``compositions``) under the frozen stage-start encoder (no gradient).

    ``encoder`` is the stoichiometry encoder that :func:`polysrl_sklearn.pretraining.pretrain`
    hands to a loss that needs one (``--variance-anchor``, the ``error_variance`` objective);
    ``None`` raises a RuntimeError that says so.
    """
    if encoder is None:
        raise RuntimeError("this loss needs the frozen stage-start encoder (its set_anchor; "
                           "polysrl_sklearn.pretraining.pretrain hands it over)")
    frozen = SimpleNamespace(stoichiometry=encoder)
    with torch.no_grad():
        if compositions is None:
            return data.formula_gaussians(frozen, step)[1]
        return data.encode_compositions(frozen, compositions, step)[1]
