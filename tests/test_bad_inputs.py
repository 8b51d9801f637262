"""A table of bad (and borderline) inputs and the expected outcome of each (issue 16).

Each row names what is given (a formula, structures, a model file, a
parameter), what happens, and the fragment that the error message must
contain: the item, the file or the parameter. A row whose outcome is
``None`` must succeed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import prototype_structures
from pymatgen.core import Lattice, Structure
from sklearn.utils._param_validation import InvalidParameterError

from polysrl_sklearn import SHIPPED_MODELS, CompositionError, PolySRLFeaturizer, StructureGraphError
from polysrl_sklearn.matminer_featurizer import PolySRLComposition
from polysrl_sklearn.model_files import ModelFileError
from polysrl_sklearn.regressor import PolySRLRegressor


@dataclass(frozen=True)
class Case:
    """One row: ``action(tmp_path)`` should raise ``error`` with ``match`` in its message (or succeed)."""

    given: str
    action: Callable[[Path], Any]
    error: type[BaseException] | None
    match: str = ""


def featurize(formula: Any) -> Callable[[Path], Any]:
    return lambda tmp: PolySRLFeaturizer(pretrained=None, hidden_dim=4, random_state=0).fit([]).transform(
        ["NaCl", formula])


def tiny(**params: Any) -> PolySRLFeaturizer:
    settings = dict(pretrained=None, hidden_dim=4, epochs=1, batch_size=4, random_state=0, n_jobs=1, device="cpu")
    return PolySRLFeaturizer(**{**settings, **params})


def pretrain(X: list, structures: list, **params: Any) -> Callable[[Path], Any]:
    return lambda tmp: tiny(**params).fit(X, structures=structures)


def model_file(content: bytes | str) -> Callable[[Path], Any]:
    def action(tmp: Path) -> Any:
        path = tmp / "model.pt"
        if content == "truncated":
            tiny().fit([]).save(tmp / "good.pt")
            path.write_bytes((tmp / "good.pt").read_bytes()[:4000])
        else:
            path.write_bytes(content)
        return PolySRLFeaturizer(pretrained=path).fit([])
    return action


def with_params(cls: type = PolySRLFeaturizer, **params: Any) -> Callable[[Path], Any]:
    data = (["NaCl", "KBr", "MgO", "CaO", "ZnS"], [1.0, 2.0, 3.0, 4.0, 5.0])
    base = {"pretrained": None, "hidden_dim": 4, "random_state": 0}
    if cls is PolySRLRegressor:
        base |= {"epochs": 1, "learning_rates": (1e-3,)}
    return lambda tmp: cls(**{**base, **params}).fit(*data)


PROTOTYPES = prototype_structures()
FORMULAS = [s.composition.reduced_formula for s in PROTOTYPES]
LONE_IRON = Structure(Lattice.cubic(30.0), ["Fe"], [[0, 0, 0]])
PARAMETER_ERROR = "The '{}' parameter of {} must be"

CASES = [
    # ------------------------------------------------------------------ formulas
    Case("formula Fe2O3", featurize("Fe2O3"), None),
    Case("formula Hg0.7Cd0.3Te (fractional amounts)", featurize("Hg0.7Cd0.3Te"), None),
    Case("formula Dy2O3 (D is not deuterium here)", featurize("Dy2O3"), None),
    Case("formula Fe0O3 (zero amount)", featurize("Fe0O3"), CompositionError, r"'Fe0O3'.*\['Fe'\] an amount of zero"),
    Case("formula NaCl(H2O)0 (zero group)", featurize("NaCl(H2O)0"), CompositionError, "'NaCl\\(H2O\\)0'.*zero"),
    Case("formula D2O (deuterium)", featurize("D2O"), CompositionError, "'D2O'.*isotope.*write hydrogen as H"),
    Case("formula T2O (tritium)", featurize("T2O"), CompositionError, "'T2O'.*isotope.*tritium"),
    Case("formula Fe1e3O (exponent)", featurize("Fe1e3O"), CompositionError, "'Fe1e3O'.*exponent"),
    Case("formula Og (no embedding of its own)", featurize("Og"), CompositionError, r"'Og'.*\['Og'\].*placeholder"),
    Case("formula Ts", featurize("Ts"), CompositionError, r"'Ts'.*placeholder"),
    Case("formula Rf2O", featurize("Rf2O"), CompositionError, r"'Rf2O'.*\['Rf'\].*placeholder"),
    Case("formula Xx2O3 (unknown element)", featurize("Xx2O3"), CompositionError, "'Xx2O3'"),
    Case("formula '' (empty)", featurize(""), CompositionError, "empty"),
    Case("formula Fe2O3)( (unbalanced)", featurize("Fe2O3)("), CompositionError, "'Fe2O3\\)\\('"),
    Case("formula None", featurize(None), CompositionError, "None.*missing"),
    Case("formula NaN", featurize(math.nan), CompositionError, "missing"),
    Case("formula 3.5 (a number)", featurize(3.5), CompositionError, "type float"),
    Case("a single string instead of a list", lambda tmp: tiny().fit([]).transform("NaCl"), ValueError,
         "single composition"),
    # ------------------------------------------------------------------ structures
    Case("fit([], structures=[])", pretrain([], []), ValueError, "X is empty"),
    Case("fewer structures than compositions", pretrain(FORMULAS, PROTOTYPES[:-1]), ValueError,
         "structures has"),
    Case("a string instead of a structure", pretrain(FORMULAS[:2], ["NaCl", PROTOTYPES[1]]), ValueError,
         "structure at position 0 has type str"),
    Case("a structure of another composition", pretrain(["KBr", FORMULAS[1]], PROTOTYPES[:2]), ValueError,
         "'KBr' at position 0 does not match its structure"),
    Case("an atom with no neighbour within the cutoff", pretrain(["Fe", "NaCl"], [LONE_IRON, PROTOTYPES[0]]),
         StructureGraphError, "no neighbour within cutoff"),
    Case("one composition-structure pair", pretrain(FORMULAS[:1], PROTOTYPES[:1]), None),
    Case("structures with objective='supervised'", pretrain(FORMULAS, PROTOTYPES, objective="supervised"),
         ValueError, "pretraining_targets"),
    # ------------------------------------------------------------------ model files
    Case("an empty model file", model_file(b""), ModelFileError, "model.pt: the file is empty"),
    Case("a text file as model", model_file(b"hello\n"), ModelFileError, "model.pt: not a readable"),
    Case("a truncated model file", model_file("truncated"), ModelFileError, "model.pt: not a readable"),
    Case("a missing model file", lambda tmp: PolySRLFeaturizer(pretrained=tmp / "none.pt").fit([]),
         FileNotFoundError, "none.pt"),
    Case("pretrained='no_such_model'", lambda tmp: PolySRLFeaturizer(pretrained="no_such_model").fit([]),
         FileNotFoundError, "'no_such_model'.*" + ", ".join(SHIPPED_MODELS)),
    Case("hidden_dim=64 with the shipped 200-wide default model", lambda tmp: PolySRLFeaturizer(hidden_dim=64).fit([]),
         ValueError, "hidden_dim=64 conflicts.*hidden_dim=200"),
    # ------------------------------------------------------------------ parameters
    *[Case(f"PolySRLFeaturizer({name}={value!r})", with_params(**{name: value}), InvalidParameterError,
           PARAMETER_ERROR.format(name, "PolySRLFeaturizer"))
      for name, value in [("max_polymorphs", 0), ("batch_size", 0), ("transform_batch_size", 0),
                          ("hidden_dim", 0), ("device", "gpu"), ("epochs", 0), ("n_samples", -1),
                          ("structure_pooling", "max"), ("objective", "magic"), ("pretrained", 3),
                          ("learning_rate", 0.0), ("cutoff", -1.0), ("random_state", "seed")]],
    *[Case(f"PolySRLRegressor({name}={value!r})", with_params(PolySRLRegressor, **{name: value}),
           InvalidParameterError, PARAMETER_ERROR.format(name, "PolySRLRegressor"))
      for name, value in [("batch_size", 0), ("hidden_dim", 0), ("device", "gpu"), ("epochs", 0),
                          ("validation_fraction", 1.0), ("hidden", 0)]],
    Case("PolySRLComposition(featurizer='default')", lambda tmp: PolySRLComposition("default").fit(),
         InvalidParameterError, PARAMETER_ERROR.format("featurizer", "PolySRLComposition")),
    Case("device='cuda:1' (a valid name; availability is checked when used)",
         lambda tmp: PolySRLFeaturizer(device="cuda:1")._validate_params(), None),
]


@pytest.mark.parametrize("case", CASES, ids=[case.given for case in CASES])
def test_bad_input(case: Case, tmp_path: Path) -> None:
    if case.error is None:
        result = case.action(tmp_path)
        if isinstance(result, np.ndarray):
            assert np.isfinite(result).all()
        return
    with pytest.raises(case.error, match=case.match):
        case.action(tmp_path)
