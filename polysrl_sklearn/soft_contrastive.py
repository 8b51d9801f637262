"""PolySRL's soft contrastive loss (paper Section 4.3, Eqs. 4-6) and the levers added to it.

For every stoichiometry ``a`` and every polymorph set ``P(a')`` in the batch,
the match probability is the average over the J samples of ``z~_a`` and the
polymorphs ``p`` of ``a'`` of ``sigmoid(-c * ||z~_a - z_p|| + d)``. (The paper
writes a sum over polymorphs, which can exceed one; the average keeps it a
probability.) Positives are ``a == a'``; every other pair is a negative. All
pairs are computed at once with ``torch.cdist`` and a scatter log-sum-exp;
there is no Python loop over pairs.

The study's levers (:mod:`polysrl_sklearn.variance_targets`,
:mod:`polysrl_sklearn.auxiliary_terms`) are weights of :class:`SoftContrastiveLoss`;
all of them 0 (with ``positive_weight`` 1) is the paper's loss.

Examples
--------
>>> import torch
>>> from polysrl_sklearn.soft_contrastive import SoftContrastiveLoss
>>> loss = SoftContrastiveLoss(n_samples=0).eval()
>>> mean, variance = torch.zeros(2, 3), torch.ones(2, 3)
>>> structures, owner = torch.tensor([[0.0, 0.0, 0.0], [3.0, 0.0, 0.0]]), torch.tensor([0, 1])
>>> value, parts = loss(mean, variance, structures, owner)
>>> sorted(parts)
['contrastive', 'kl']
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch_geometric.utils import scatter

from .auxiliary_terms import add_element_statistics_term, add_multitask_term, variance_covariance_penalty
from .mixtures import batch_mixtures
from .recipes import DEFAULTS
from .variance_targets import (
    anchor_offsets,
    mixture_matching_loss,
    polymorph_nll,
    stage_start_variance,
    structures_per_formula,
    variance_matching_loss,
)

if TYPE_CHECKING:
    from .network import PolySRLNetwork
    from .training_data import TrainingData


def _scatter_logsumexp(values: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    """Log-sum-exp of ``values[:, k]`` over columns grouped by ``index[k]``."""
    peak = scatter(values.detach(), index, dim=1, dim_size=size, reduce="max")
    summed = scatter((values - peak[:, index]).exp(), index, dim=1, dim_size=size, reduce="sum")
    return summed.log() + peak


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

    @property
    def needs_anchor(self) -> bool:
        """Whether a stage with this loss reads the frozen stage-start encoder (``variance_anchor > 0``)."""
        return self.variance_anchor > 0

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
        counts = structures_per_formula(owner, n, mean.dtype)
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
            offset, centre = anchor_offsets(stage_start_variance(self._anchor_encoder, data, step), self.variance_anchor)
        loss, parts = self(mean.float(), variance.float(), structure_vectors, owner, variance_offset=offset)
        if self.variance_mixtures > 0 and len(step.formulas) >= 2:
            mixtures, partner = batch_mixtures([data.parsed[f] for f in step.formulas], rng)
            _, mixture_variance = data.encode_compositions(network, mixtures, step)
            if self.variance_anchor > 0:
                mixture_offset, _ = anchor_offsets(stage_start_variance(self._anchor_encoder, data, step, mixtures),
                                                   self.variance_anchor, centre)
            mixing = mixture_matching_loss(mixture_variance.float(), structure_vectors, owner,
                                           torch.as_tensor(partner, device=mean.device), self.variance_count,
                                           mixture_offset)
            loss = loss + self.variance_mixtures * mixing
            parts["variance_mixtures"] = mixing.detach()
        if network.config.multitask_weight > 0:
            loss = add_multitask_term(network, loss, parts, mean, data.formula_targets(step))
        if network.config.element_statistics > 0:
            loss = add_element_statistics_term(network, loss, parts, mean, data.formula_statistics(step))
        return loss, parts, variance
