"""A structure-free variance stage: the stage-start uncertainty plus the property head's own error.

The ``error_variance`` objective continues a pretrained network (``polysrl pretrain --objective
error_variance --init-from MODEL``) and trains only its variance head, so the mean vectors stay
exactly as they are. It reads no structure: its corpus is the pretraining formulas with their DFT
property (``--property-table``; NaN where a formula has none). Each formula's mean log-variance is
pulled towards

``log u_start(a) + variance_error * (log((head(mu_a) - y_a)^2 + variance_error_floor) - centre)``

where ``u_start`` is the uncertainty of the network as the stage starts (a frozen copy, as for
``--variance-anchor``, or another model's with ``--anchor-from``), ``head`` a linear map from the
mean vector to the property, fitted by least squares on the stage's formulas when the stage starts
(:func:`fit_property_head`; the means are frozen, so it stays the best linear head), and the
centre is the batch's mean over the formulas with a known property; a formula without one keeps
its stage-start target. So the uncertainty keeps what the first stages taught it (polymorphs,
mixtures) and learns in addition where a head on these features goes wrong: the study's
``error_target_check.py`` found the linear head's errors predictable from the composition and
shared by other heads (docs/pretraining.md, amendment 14). With ``variance_mixtures`` > 0, a
synthetic mixture of each batch formula with another (:mod:`polysrl_sklearn.mixtures`) is pulled
to its stage-start log-variance, so that mixtures keep their place above their parents.

Examples
--------
>>> import torch
>>> from polysrl_sklearn.error_variance import error_log_variance_offsets
>>> predicted = torch.tensor([[1.0], [1.0], [1.0]])
>>> targets = torch.tensor([[1.0], [3.0], [float("nan")]])   # exact, 2 off, unknown
>>> offsets = error_log_variance_offsets(predicted, targets, scale=1.0)
>>> bool(offsets[1] > 0 > offsets[0]), float(offsets[2])
(True, 0.0)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from .encoders import mean_vectors
from .mixtures import batch_mixtures
from .recipes import DEFAULTS
from .variance_targets import stage_start_variance

if TYPE_CHECKING:
    from .corpus import StructureCorpus
    from .network import ModelConfig, PolySRLNetwork
    from .training_data import TrainingData

#: Added to each squared error before its log (in the property's unit squared, e.g. eV^2), so that
#: a nearly exact prediction keeps a finite target; the default of ``variance_error_floor``.
ERROR_FLOOR = DEFAULTS.variance_error_floor

def error_log_variance_offsets(predicted: torch.Tensor, targets: torch.Tensor, scale: float,
                               floor: float = ERROR_FLOOR) -> torch.Tensor:
    """``scale`` times each formula's centred log squared error of the property head (no gradient).

    Parameters
    ----------
    predicted, targets : Tensor (n,) or (n, k)
        The head's predictions and the properties (NaN: unknown).
    scale : float
    floor : float
        Added to the squared error before the log.

    Returns
    -------
    Tensor (n,)
        For a formula with known properties, ``scale`` times the mean over them of
        ``log((predicted - y)^2 + floor)``, minus the mean of that over the formulas with
        one; 0 for a formula without any.
    """
    predicted = predicted.detach().float().reshape(len(predicted), -1)
    targets = targets.float().reshape(len(targets), -1)
    known = torch.isfinite(targets)
    log_error = torch.log((predicted - torch.nan_to_num(targets)).pow(2) + floor)
    counts = known.sum(dim=1)
    per_formula = torch.where(known, log_error, torch.zeros_like(log_error)).sum(dim=1) / counts.clamp(min=1)
    has = counts > 0
    centre = (per_formula * has).sum() / has.sum().clamp(min=1)
    return torch.where(has, scale * (per_formula - centre), torch.zeros_like(per_formula))


@torch.no_grad()
def fit_property_head(network: PolySRLNetwork, corpus: StructureCorpus, device: torch.device) -> None:
    """Set ``network.property_head`` to the least-squares linear map from the mean vectors to the corpus targets.

    One column per head, each fitted on the formulas whose target it knows (an intercept
    included). Raises ValueError, naming the column, if a column has fewer known formulas
    than the mean vector has dimensions.
    """
    targets = np.asarray(corpus.targets, dtype=np.float64).reshape(len(corpus.formulas), -1)
    head = network.property_head
    if head.out_features != targets.shape[1]:
        raise ValueError(f"the network has {head.out_features} property head(s) but the corpus "
                         f"{targets.shape[1]} target column(s)")
    was_training = network.stoichiometry.training
    means = mean_vectors(network.stoichiometry, corpus.parsed, device).double()
    network.stoichiometry.to(device).train(was_training)  # mean_vectors leaves it on the CPU, in eval mode
    design = torch.cat([means, torch.ones(len(means), 1, dtype=torch.float64)], dim=1)
    for column in range(targets.shape[1]):
        known = np.isfinite(targets[:, column])
        if known.sum() < design.shape[1]:
            raise ValueError(f"target column {column} is known for {int(known.sum())} formulas, too few to fit a "
                             f"linear head on {means.shape[1]} dimensions")
        rows = torch.from_numpy(np.flatnonzero(known))
        solution = torch.linalg.lstsq(design[rows], torch.from_numpy(targets[known, column]).unsqueeze(1)).solution
        head.weight[column] = solution[:-1, 0].to(head.weight)
        head.bias[column] = solution[-1, 0].to(head.bias)


class ErrorVarianceLoss(nn.Module):
    """The ``error_variance`` objective: a variance stage towards the stage-start uncertainty plus the head's error.

    Parameters
    ----------
    variance_error : float
        Scale of the centred log squared error of the property head added to each
        formula's target (0: the stage only reproduces the stage-start uncertainty).
    variance_mixtures : float
        Weight of the term that pulls each batch formula's synthetic mixture to its
        stage-start log-variance (0: off).
    variance_error_floor : float
        Added to each squared error before its log (:func:`error_log_variance_offsets`).
    """

    #: The stage reads the frozen stage-start encoder (``polysrl_sklearn.pretraining`` hands it over).
    needs_anchor = True

    def __init__(self, variance_error: float = 0.0, variance_mixtures: float = 0.0,
                 variance_error_floor: float = ERROR_FLOOR) -> None:
        super().__init__()
        self.variance_error = float(variance_error)
        self.variance_mixtures = float(variance_mixtures)
        self.variance_error_floor = float(variance_error_floor)
        self.set_anchor(None)

    @classmethod
    def from_config(cls, config: ModelConfig) -> ErrorVarianceLoss:
        """The loss with a network configuration's ``variance_error``, ``variance_mixtures`` and floor."""
        return cls(config.variance_error, config.variance_mixtures, config.variance_error_floor)

    def set_anchor(self, encoder: nn.Module | None) -> None:
        """Hand over the frozen stage-start stoichiometry encoder (kept outside the module tree)."""
        object.__setattr__(self, "_anchor_encoder", encoder)

    def begin_stage(self, network: PolySRLNetwork, corpus: StructureCorpus, device: torch.device) -> None:
        """Fit the property head on the stage's formulas (:func:`fit_property_head`); a resumed stage skips it."""
        fit_property_head(network, corpus, device)

    def extra_repr(self) -> str:
        return (f"variance_error={self.variance_error:g}, variance_mixtures={self.variance_mixtures:g}, "
                f"variance_error_floor={self.variance_error_floor:g}")

    def batch_loss(self, network: PolySRLNetwork, data: TrainingData, step: Any,
                   rng: np.random.Generator) -> tuple[torch.Tensor, dict, torch.Tensor]:
        """Loss of one sampler step; also returns the batch's variances (for logging)."""
        mean, variance = data.formula_gaussians(network, step)
        start = stage_start_variance(self._anchor_encoder, data, step)
        with torch.no_grad():
            predicted = network.property_head(mean.detach())
        target = start.float().log().mean(dim=-1) + error_log_variance_offsets(
            predicted, data.formula_targets(step), self.variance_error, self.variance_error_floor)
        matching = (variance.float().log().mean(dim=-1) - target).pow(2).mean()
        loss, parts = matching, {"variance_matching": matching.detach()}
        if self.variance_mixtures > 0 and len(step.formulas) >= 2:
            mixtures, _ = batch_mixtures([data.parsed[f] for f in step.formulas], rng)
            _, mixture_variance = data.encode_compositions(network, mixtures, step)
            mixture_start = stage_start_variance(self._anchor_encoder, data, step, mixtures)
            mixing = (mixture_variance.float().log().mean(dim=-1)
                      - mixture_start.float().log().mean(dim=-1)).pow(2).mean()
            loss = loss + self.variance_mixtures * mixing
            parts["variance_mixtures"] = mixing.detach()
        return loss, parts, variance
