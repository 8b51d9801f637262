"""Pretraining objectives: one registry, name -> loss class (paper Section 4.3, Section 5.1, Appendix D).

Every objective trains the same stoichiometry encoder; they differ in what the
encoder is matched against. :data:`OBJECTIVES` is the one registry of them;
the featurizer, the ``polysrl`` command and the benchmark read it.

* ``polysrl`` -- :class:`~polysrl_sklearn.soft_contrastive.SoftContrastiveLoss` on
  composition-structure pairs, J samples from each Gaussian, plus beta * KL.
* ``polysrl_nosample`` -- the same loss on the mean only (ablation, J=0).
* ``infomax`` -- :class:`~polysrl_sklearn.baseline_objectives.InfoMaxLoss`, 3D-Infomax style
  NT-Xent between the stoichiometry mean and the crystal vectors (positives: the formula's own
  polymorphs).
* ``graphcl`` -- :class:`~polysrl_sklearn.baseline_objectives.GraphCLLoss`, NT-Xent between two
  random augmentations of each stoichiometry graph (element dropping, fraction jitter); no
  structures.
* ``supervised`` -- :class:`~polysrl_sklearn.baseline_objectives.SupervisedLoss`, L1 regression
  of a DFT property (e.g. the MP band gap) from the stoichiometry mean.
* ``error_variance`` -- :class:`~polysrl_sklearn.error_variance.ErrorVarianceLoss`, a stage of a
  pretrained network that trains only its variance head, without structures: towards the
  stage-start uncertainty plus the property head's own error.

The losses live in :mod:`polysrl_sklearn.soft_contrastive` (with the study's levers in
:mod:`polysrl_sklearn.variance_targets` and :mod:`polysrl_sklearn.auxiliary_terms`) and
:mod:`polysrl_sklearn.baseline_objectives`.

Examples
--------
>>> from polysrl_sklearn.objectives import OBJECTIVES, get_objective
>>> list(OBJECTIVES)
['polysrl', 'polysrl_nosample', 'infomax', 'graphcl', 'supervised', 'error_variance']
>>> get_objective("infomax").loss.__name__
'InfoMaxLoss'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from torch import nn

from .baseline_objectives import GraphCLLoss, InfoMaxLoss, SupervisedLoss
from .error_variance import ErrorVarianceLoss
from .soft_contrastive import SoftContrastiveLoss

if TYPE_CHECKING:
    from .network import PolySRLNetwork


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
    Objective("error_variance", ErrorVarianceLoss, "targets", False, False,
              "a variance stage of a pretrained network (polysrl pretrain --init-from): the stage-start "
              "uncertainty plus variance_error times the property head's centred log squared error"),
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
    learnable ``c`` and ``d``); the others get a fresh, parameter-free module, built
    from the network's configuration where the loss class has a ``from_config``.
    """
    loss_class = get_objective(network.config.objective).loss
    if isinstance(network.loss, loss_class):
        return network.loss
    from_config = getattr(loss_class, "from_config", None)
    return loss_class() if from_config is None else from_config(network.config)
