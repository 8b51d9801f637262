"""Architecture parameters of :class:`~polysrl_sklearn.PolySRLFeaturizer`: defaults and checkpoint agreement.

The architecture and objective parameters default to ``None``, which means
"whatever the weights were trained with": a network loaded from a
checkpoint takes them from the checkpoint, and a network built here (random
initialisation, or pretraining with ``fit(X, structures=S)``) takes
:data:`ARCHITECTURE_DEFAULTS`, the default recipe's values
(:data:`polysrl_sklearn.recipes.DEFAULTS`). A value given explicitly must agree with a
loaded checkpoint; a conflicting one raises instead of being ignored.
"""

from __future__ import annotations

from typing import Any

from .recipes import DEFAULTS

#: The architecture and objective parameters of the featurizer, in signature order.
ARCHITECTURE_PARAMETERS: tuple[str, ...] = (
    "objective", "hidden_dim", "stoichiometry_layers", "structure_layers", "n_samples", "beta", "init_c",
    "init_d", "cutoff", "max_neighbors", "structure_pooling", "structure_encoder", "element_features",
    "element_skip", "positive_weight", "polymorph_spread", "variance_matching", "variance_count", "variance_mixtures",
    "variance_anchor", "variance_error", "variance_error_floor", "decorrelation", "multitask_weight", "element_statistics",
    "element_statistics_head")

#: Values used for parameters left at None when a new network is built: the default recipe's.
ARCHITECTURE_DEFAULTS: dict[str, Any] = {
    "objective": "polysrl", **{name: getattr(DEFAULTS, name) for name in ARCHITECTURE_PARAMETERS[1:]}}


def architecture_params(estimator: Any) -> dict[str, Any]:
    """The estimator's architecture parameters as set (None: unset)."""
    return {name: getattr(estimator, name) for name in ARCHITECTURE_DEFAULTS}


def with_defaults(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with every None replaced by its :data:`ARCHITECTURE_DEFAULTS` value."""
    return {name: ARCHITECTURE_DEFAULTS[name] if value is None else value for name, value in params.items()}


def check_agrees_with_checkpoint(params: dict[str, Any], config: Any, source: str) -> None:
    """Raise if an explicitly set parameter differs from the loaded network's configuration.

    Parameters
    ----------
    params : dict
        Parameter name -> value as set on the estimator (None: unset).
    config : ModelConfig
        Configuration stored in the checkpoint.
    source : str
        Where the weights come from, for the message.

    Raises
    ------
    ValueError
        Naming the first conflicting parameter, both values and the remedy.
    """
    for name, value in params.items():
        stored = getattr(config, name)
        if value is not None and value != stored:
            raise ValueError(
                f"{name}={value!r} conflicts with the loaded weights ({source}), which have "
                f"{name}={stored!r}. Leave {name} unset (None) to use the checkpoint's value, or "
                "pretrain a new network with fit(X, structures=...)")
