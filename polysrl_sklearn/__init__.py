"""polysrl-sklearn: PolySRL stoichiometry representations for scikit-learn and matminer.

PolySRL (probabilistic stoichiometry representation learning) encodes a
composition as a Gaussian, pretrained contrastively against the crystal
structures of its polymorphs; the Gaussian's variance is an uncertainty.
"""

from .composition import CompositionError, parse_composition
from .crystal_graph import StructureGraphError
from .featurizer import DEFAULT_CHECKPOINT, PAPER_SETTINGS, PolySRLFeaturizer

__all__ = [
    "CompositionError",
    "DEFAULT_CHECKPOINT",
    "PAPER_SETTINGS",
    "PolySRLFeaturizer",
    "StructureGraphError",
    "parse_composition",
]
__version__ = "0.1.0"
