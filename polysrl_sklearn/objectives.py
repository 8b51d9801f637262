"""Pretraining objectives: one registry, name -> loss class (paper Section 4.3, Section 5.1, Appendix D).

Every objective trains the same stoichiometry encoder; they differ in what the
encoder is matched against. :data:`OBJECTIVES` is the one registry of them;
the featurizer, the ``polysrl`` command and the benchmark read it.

* ``polysrl`` -- :class:`SoftContrastiveLoss` on composition-structure pairs, J samples
  from each Gaussian, plus beta * KL.
* ``polysrl_nosample`` -- the same loss on the mean only (ablation, J=0).
* ``infomax`` -- :class:`InfoMaxLoss`, 3D-Infomax style NT-Xent between the stoichiometry
  mean and the crystal vectors (positives: the formula's own polymorphs).
* ``graphcl`` -- :class:`GraphCLLoss`, NT-Xent between two random augmentations of each
  stoichiometry graph (element dropping, fraction jitter); no structures.
* ``supervised`` -- :class:`SupervisedLoss`, L1 regression of a DFT property (e.g. the MP
  band gap) from the stoichiometry mean.

Soft contrastive loss
---------------------
For every stoichiometry ``a`` and every polymorph set ``P(a')`` in the batch,
the match probability is the average over the J samples of ``z~_a`` and the
polymorphs ``p`` of ``a'`` of ``sigmoid(-c * ||z~_a - z_p|| + d)``. (The paper
writes a sum over polymorphs, which can exceed one; the average keeps it a
probability.) Positives are ``a == a'``; every other pair is a negative. All
pairs are computed at once with ``torch.cdist`` and a scatter log-sum-exp;
there is no Python loop over pairs.

Examples
--------
>>> from polysrl_sklearn.objectives import OBJECTIVES, get_objective
>>> list(OBJECTIVES)
['polysrl', 'polysrl_nosample', 'infomax', 'graphcl', 'supervised']
>>> get_objective("infomax").loss.__name__
'InfoMaxLoss'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch_geometric.utils import scatter

from .composition import ParsedComposition
from .mixtures import batch_mixtures
from .recipes import DEFAULTS
from .stoichiometry_graph import build_stoichiometry_batch

if TYPE_CHECKING:
    from .network import PolySRLNetwork
    from .training_data import TrainingData

TEMPERATURE = 0.1


def _scatter_logsumexp(values: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    """Log-sum-exp of ``values[:, k]`` over columns grouped by ``index[k]``."""
    peak = scatter(values.detach(), index, dim=1, dim_size=size, reduce="max")
    summed = scatter((values - peak[:, index]).exp(), index, dim=1, dim_size=size, reduce="sum")
    return summed.log() + peak


def _structures_per_formula(owner: torch.Tensor, n: int, dtype: torch.dtype) -> torch.Tensor:
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
        levels = 1.0 + count_weight * (_structures_per_formula(owner, n, vectors.dtype) - 1.0).clamp(min=0.0)
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


def gaussian_kl(mean: torch.Tensor, variance: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, diag(variance)) || N(0, I)) per row."""
    return 0.5 * (variance + mean.pow(2) - 1.0 - variance.log()).sum(dim=-1)


class SoftContrastiveLoss(nn.Module):
    r"""Soft contrastive matching loss with learnable ``c, d > 0`` plus a KL term (paper Eqs. 4-6).

    The match probability of a stoichiometry :math:`a` and the polymorph set
    :math:`\mathcal{P}^{a'}` of :math:`a'` (Eq. 4; averaged, not summed, over polymorphs here):

    .. math::

        p(m \mid a, \mathcal{P}^{a'}) = \frac{1}{|\mathcal{P}^{a'}|} \sum_{p \in \mathcal{P}^{a'}}
        \frac{1}{J} \sum_{j=1}^{J} \operatorname{sigmoid}\left(-c \, \lVert \tilde{\mathbf{z}}^a_j
        - \mathbf{z}^b_p \rVert_2 + d\right)

    the soft contrastive loss (Eq. 5)

    .. math::

        \mathcal{L}_{\mathrm{con}} = \begin{cases} -\log p(m \mid a, \mathcal{P}^{a'}) & a = a' \\
        -\log\left(1 - p(m \mid a, \mathcal{P}^{a'})\right) & \text{otherwise} \end{cases}

    and the total loss (Eq. 6), with the KL divergence to :math:`\mathcal{N}(0, I)`:

    .. math::

        \mathcal{L}_{\mathrm{total}} = \mathcal{L}_{\mathrm{con}} + \beta \, \mathcal{L}_{\mathrm{KL}}

    Parameters
    ----------
    n_samples : int
        J, samples drawn from each stoichiometry Gaussian (reparameterised).
        ``0`` disables sampling and matches the mean itself (ablation).
    beta : float
        Weight of the KL divergence to the standard normal.
    init_c, init_d : float
        Initial values of the soft threshold parameters (paper: 20, 20).
    positive_weight : float
        Weight of a positive pair against a negative one in the mean over the
        batch's n x n pairs (paper: 1; about n - 1 balances the n positives
        against the n(n-1) negatives).
    polymorph_spread : float
        Weight of the polymorph-spread term: the negative log-likelihood, per
        dimension, of each sampled polymorph vector under its formula's Gaussian,
        so that the variance learns how far the polymorphs lie from the mean
        (0: off, the paper).
    decorrelation : float
        Weight of a VICReg-style anti-collapse term on the batch's mean
        vectors: hinge on each dimension's standard deviation below 1 plus
        the squared off-diagonal covariances / F (0: off, the paper).
    variance_matching : float
        Weight of :func:`variance_matching_loss`: each formula's mean
        log-variance is pulled towards the log of its polymorphs' spread in
        the batch (plus a level), so the uncertainty column learns how spread
        a formula's structures are (0: off, the paper).
    variance_count : float
        With ``variance_matching``: levels that each further polymorph of a
        formula in the batch adds to its target (0: the spread alone; see
        :func:`spread_log_variance_target`).
    variance_mixtures : float
        Weight of :func:`mixture_matching_loss`: for each formula of the batch, a
        synthetic mixture with another batch formula as guest
        (:func:`polysrl_sklearn.mixtures.batch_mixtures`) is pulled to the variance
        target of the two parents' polymorphs together (0: off). It needs the
        batch's compositions, so it is added by :meth:`batch_loss` (eager steps),
        not by :meth:`forward`.
    variance_anchor : float
        With ``variance_matching``, in a stage that continues a pretrained network: the
        scale of the stage-start network's own log-variance, centred on the batch, added
        to every variance target (:func:`anchor_offsets`), so that the stage adds the
        structure signal to the first stage's uncertainty instead of replacing it
        (0: off). The stage-start encoder is handed over by :meth:`set_anchor`
        (:func:`polysrl_sklearn.pretraining.pretrain` does it); eager steps only.
    """

    def __init__(self, n_samples: int = DEFAULTS.n_samples, beta: float = DEFAULTS.beta,
                 init_c: float = DEFAULTS.init_c, init_d: float = DEFAULTS.init_d,
                 positive_weight: float = DEFAULTS.positive_weight,
                 polymorph_spread: float = DEFAULTS.polymorph_spread,
                 decorrelation: float = DEFAULTS.decorrelation,
                 variance_matching: float = DEFAULTS.variance_matching,
                 variance_count: float = DEFAULTS.variance_count,
                 variance_mixtures: float = DEFAULTS.variance_mixtures,
                 variance_anchor: float = DEFAULTS.variance_anchor) -> None:
        super().__init__()
        if n_samples < 0:
            raise ValueError(f"n_samples must be >= 0, got {n_samples}")
        self.n_samples = n_samples
        self.beta = beta
        self.positive_weight = float(positive_weight)
        self.polymorph_spread = float(polymorph_spread)
        self.decorrelation = float(decorrelation)
        self.variance_matching = float(variance_matching)
        self.variance_count = float(variance_count)
        self.variance_mixtures = float(variance_mixtures)
        self.variance_anchor = float(variance_anchor)
        self.set_anchor(None)
        self.init_c = float(init_c)
        self.init_d = float(init_d)
        self.log_c = nn.Parameter(torch.empty(()))
        self.log_d = nn.Parameter(torch.empty(()))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Set ``c`` and ``d`` back to their initial values."""
        with torch.no_grad():
            self.log_c.fill_(math.log(self.init_c))
            self.log_d.fill_(math.log(self.init_d))

    def set_anchor(self, encoder: nn.Module | None) -> None:
        """Hand over the frozen stage-start stoichiometry encoder of ``variance_anchor`` (``None``: none).

        It is kept outside the module tree, so it is neither a parameter nor part of
        the network's saved weights.
        """
        object.__setattr__(self, "_anchor_encoder", encoder)

    def _anchor_variance(self, data: TrainingData, step: Any, compositions: Sequence[Any] | None = None
                         ) -> torch.Tensor:
        """Variances of the step's formulas (or of ``compositions``) under the stage-start encoder."""
        if self._anchor_encoder is None:
            raise RuntimeError("variance_anchor > 0 needs the stage-start encoder (SoftContrastiveLoss.set_anchor; "
                               "polysrl_sklearn.pretraining.pretrain hands it over)")
        frozen = SimpleNamespace(stoichiometry=self._anchor_encoder)
        with torch.no_grad():
            if compositions is None:
                return data.formula_gaussians(frozen, step)[1]
            return data.encode_compositions(frozen, compositions, step)[1]

    def extra_repr(self) -> str:
        extras = "".join(f", {name}={getattr(self, name):g}" for name in
                         ("positive_weight", "polymorph_spread", "decorrelation", "variance_matching",
                          "variance_count", "variance_mixtures", "variance_anchor")
                         if getattr(self, name) != (1.0 if name == "positive_weight" else 0.0))
        return (f"n_samples={self.n_samples}, beta={self.beta:g}, c={float(self.log_c.detach().exp()):.4g}, "
                f"d={float(self.log_d.detach().exp()):.4g}{extras}")

    def forward(self, mean: torch.Tensor, variance: torch.Tensor, structure_vectors: torch.Tensor,
                owner: torch.Tensor, real_formulas: int | None = None,
                variance_offset: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """Compute the loss.

        Parameters
        ----------
        mean, variance : Tensor (n_formulas, F)
            Stoichiometry Gaussians of the distinct formulas in the batch.
        structure_vectors : Tensor (n_structures, F)
            Crystal vectors of the polymorphs in the batch.
        owner : LongTensor (n_structures,)
            Row of ``mean`` that each structure is a polymorph of; every row
            must own at least one structure.
        real_formulas : int, optional
            Only the first ``real_formulas`` rows are the batch's formulas; the
            rest pad a fixed-size batch (:mod:`polysrl_sklearn.graphed_steps`)
            and are left out of the loss; so are the structures they own (the
            padding ones), also from the batch statistics of the levers.
        variance_offset : Tensor (n_formulas,), optional
            Added to each formula's variance-matching target (the anchor of
            :func:`anchor_offsets`).

        Returns
        -------
        loss : Tensor (scalar)
        parts : dict
            Contrastive and KL values for logging (detached scalar tensors).
        """
        n = mean.shape[0]
        if self.n_samples > 0 and self.training:
            noise = torch.randn(n, self.n_samples, mean.shape[1], device=mean.device, dtype=mean.dtype)
            samples = mean.unsqueeze(1) + variance.sqrt().unsqueeze(1) * noise
        else:
            samples = mean.unsqueeze(1)
        j = samples.shape[1]
        distances = torch.cdist(samples.reshape(n * j, -1), structure_vectors)  # (n*J, M)
        logits = (self.log_d.exp() - self.log_c.exp() * distances).view(n, j, -1)
        counts = _structures_per_formula(owner, n, mean.dtype)
        log_norm = torch.log(counts * j).unsqueeze(0)  # (1, n')
        log_match = _scatter_logsumexp(torch.logsumexp(F.logsigmoid(logits), dim=1), owner, n) - log_norm
        log_mismatch = _scatter_logsumexp(torch.logsumexp(F.logsigmoid(-logits), dim=1), owner, n) - log_norm
        positive = torch.eye(n, dtype=torch.bool, device=mean.device)
        pair_losses = -torch.where(positive, log_match, log_mismatch)
        all_mean, all_variance, real_structures = mean, variance, None
        if real_formulas is not None:
            real_structures = owner < real_formulas
            positive = positive[:real_formulas, :real_formulas]
            pair_losses = pair_losses[:real_formulas, :real_formulas]
            mean, variance = mean[:real_formulas], variance[:real_formulas]
        if self.positive_weight == 1.0:
            contrastive = pair_losses.mean()
        else:
            weights = 1.0 + (self.positive_weight - 1.0) * positive.to(pair_losses.dtype)
            contrastive = (weights * pair_losses).sum() / weights.sum()
        kl = gaussian_kl(mean, variance).mean()
        loss = contrastive + self.beta * kl
        parts = {"contrastive": contrastive.detach(), "kl": kl.detach()}
        if self.polymorph_spread > 0:
            spread = polymorph_nll(all_mean, all_variance, structure_vectors, owner, real_structures)
            loss = loss + self.polymorph_spread * spread
            parts["spread"] = spread.detach()
        if self.variance_matching > 0:
            matching = variance_matching_loss(all_variance, structure_vectors, owner, real_formulas, real_structures,
                                              self.variance_count, variance_offset)
            loss = loss + self.variance_matching * matching
            parts["variance_matching"] = matching.detach()
        if self.decorrelation > 0:
            penalty = variance_covariance_penalty(mean)
            loss = loss + self.decorrelation * penalty
            parts["decorrelation"] = penalty.detach()
        return loss, parts

    def batch_loss(self, network: PolySRLNetwork, data: TrainingData, step: Any,
                   rng: np.random.Generator) -> tuple[torch.Tensor, dict, torch.Tensor]:
        """Loss of one sampler step; also returns the batch's variances (for logging)."""
        mean, variance = data.formula_gaussians(network, step)
        structure_vectors = data.structure_vectors(network, step)
        structure_vectors, owner = structure_vectors.float(), data.owner(step)
        offset = centre = mixture_offset = None
        if self.variance_anchor > 0:
            offset, centre = anchor_offsets(self._anchor_variance(data, step), self.variance_anchor)
        loss, parts = self(mean.float(), variance.float(), structure_vectors, owner, variance_offset=offset)
        if self.variance_mixtures > 0 and len(step.formulas) >= 2:
            mixtures, partner = batch_mixtures([data.parsed[f] for f in step.formulas], rng)
            _, mixture_variance = data.encode_compositions(network, mixtures, step)
            if self.variance_anchor > 0:
                mixture_offset, _ = anchor_offsets(self._anchor_variance(data, step, mixtures), self.variance_anchor,
                                                   centre)
            mixing = mixture_matching_loss(mixture_variance.float(), structure_vectors, owner,
                                           torch.as_tensor(partner, device=mean.device), self.variance_count,
                                           mixture_offset)
            loss = loss + self.variance_mixtures * mixing
            parts["variance_mixtures"] = mixing.detach()
        if network.config.multitask_weight > 0:
            loss = add_multitask_term(network, loss, parts, mean, data.formula_targets(step))
        return loss, parts, variance


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


@dataclass(frozen=True)
class Objective:
    """One pretraining objective of the registry.

    Attributes
    ----------
    name : str
        Registry name, the ``objective`` stored in checkpoints.
    loss : type of torch.nn.Module
        The loss class; it has a ``batch_loss(network, data, step, rng)`` method
        (``data``: a :class:`~polysrl_sklearn.training_data.TrainingData`).
    pretrains_from : {"structures", "targets"}
        What ``PolySRLFeaturizer.fit`` needs: ``structures=`` or ``pretraining_targets=``.
    uses_structures : bool
        Whether the structure encoder is trained (``graphcl`` reads only the compositions).
    samples : bool
        Whether the soft contrastive loss samples J vectors from each Gaussian.
    description : str
    """

    name: str
    loss: type[nn.Module]
    pretrains_from: Literal["structures", "targets"]
    uses_structures: bool
    samples: bool
    description: str


#: Objective name -> :class:`Objective`; the one registry of pretraining objectives.
OBJECTIVES: dict[str, Objective] = {objective.name: objective for objective in [
    Objective("polysrl", SoftContrastiveLoss, "structures", True, True,
              "PolySRL soft contrastive loss with J samples from each Gaussian, plus beta * KL"),
    Objective("polysrl_nosample", SoftContrastiveLoss, "structures", True, False,
              "the same loss on the mean only (ablation of the probabilistic part)"),
    Objective("infomax", InfoMaxLoss, "structures", True, False,
              "3D-Infomax style NT-Xent between stoichiometry and structure vectors"),
    Objective("graphcl", GraphCLLoss, "structures", False, False,
              "NT-Xent between two augmentations of each stoichiometry graph (no structures)"),
    Objective("supervised", SupervisedLoss, "targets", False, False,
              "L1 regression of a DFT property (pretraining_targets=) from the stoichiometry mean"),
]}

#: Objectives that train the structure encoder.
STRUCTURE_OBJECTIVES: tuple[str, ...] = tuple(name for name, o in OBJECTIVES.items() if o.uses_structures)


def get_objective(name: str) -> Objective:
    """The registry entry of ``name``; a ValueError lists the valid names."""
    try:
        return OBJECTIVES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown objective {name!r}; choose one of {tuple(OBJECTIVES)}") from None


def check_objective(objective: str) -> str:
    """Return ``objective`` or raise a ValueError listing the valid ones."""
    return get_objective(objective).name


def objective_loss(network: PolySRLNetwork) -> nn.Module:
    """The loss module that trains ``network`` under its ``config.objective``.

    The soft contrastive objectives use the network's own ``loss`` (it holds the
    learnable ``c`` and ``d``); the others get a fresh, parameter-free module.
    """
    loss_class = get_objective(network.config.objective).loss
    return network.loss if isinstance(network.loss, loss_class) else loss_class()
