"""polysrl-sklearn: PolySRL stoichiometry representations for scikit-learn and matminer.

PolySRL (probabilistic stoichiometry representation learning) encodes a
composition as a Gaussian, pretrained contrastively against the crystal
structures of its polymorphs; the Gaussian's variance is an uncertainty.
"""

from .composition import CompositionError, parse_composition
from .crystal_graph import StructureGraphError
from .featurizer import DEFAULT_CHECKPOINT, PAPER_SETTINGS, SHIPPED_MODELS, PolySRLFeaturizer
from .matminer_featurizer import PolySRLComposition

__all__ = [
    "CompositionError",
    "DEFAULT_CHECKPOINT",
    "PAPER_SETTINGS",
    "PolySRLComposition",
    "PolySRLFeaturizer",
    "SHIPPED_MODELS",
    "StructureGraphError",
    "parse_composition",
]
__version__ = "0.1.0"
