"""polysrl-sklearn: PolySRL stoichiometry representations for scikit-learn and matminer.

PolySRL (probabilistic stoichiometry representation learning) encodes a
composition as a Gaussian, pretrained contrastively against the crystal
structures of its polymorphs; the Gaussian's variance is an uncertainty.

Examples
--------
>>> from polysrl_sklearn import PolySRLFeaturizer
>>> featurizer = PolySRLFeaturizer(device="cpu").fit([])
>>> featurizer.transform(["Fe2O3", "NaCl"]).shape
(2, 201)
>>> featurizer.get_feature_names_out()[-1]
'polysrl_uncertainty'
"""

from importlib import import_module
from typing import Any

from .fork_safety import register_fork_handler

register_fork_handler()  # matminer's forked pools must not inherit torch's thread pool

_EXPORTS = {
    "CompositionError": "composition",
    "parse_composition": "composition",
    "StructureGraphError": "crystal_graph",
    "DEFAULT_CHECKPOINT": "featurizer",
    "PAPER_SETTINGS": "featurizer",
    "SHIPPED_MODELS": "featurizer",
    "PolySRLFeaturizer": "featurizer",
    "PolySRLComposition": "matminer_featurizer",
    "PolySRLRegressor": "regressor",
    "RECIPES": "recipes",
    "get_recipe": "recipes",
    "OBJECTIVES": "objectives",
}


def __getattr__(name: str) -> Any:
    """Import public names on first use (keeps torch out of light submodules' imports)."""
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CompositionError",
    "DEFAULT_CHECKPOINT",
    "PAPER_SETTINGS",
    "PolySRLComposition",
    "PolySRLFeaturizer",
    "PolySRLRegressor",
    "OBJECTIVES",
    "RECIPES",
    "SHIPPED_MODELS",
    "StructureGraphError",
    "get_recipe",
    "parse_composition",
]
__version__ = "0.1.0"
