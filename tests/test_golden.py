"""Golden test: the shipped model's features on fixed formulas, bit for bit.

The expected values were written by the code as it stood before the recipe /
registry / datasets refactor (issue 18); any change to them is a behaviour
change of the shipped model and must be deliberate.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from polysrl_sklearn import PolySRLFeaturizer

GOLDEN = Path(__file__).parent / "data" / "golden_features.json"


def test_shipped_model_features_are_bit_identical():
    golden = json.loads(GOLDEN.read_text())
    features = PolySRLFeaturizer(device="cpu").fit([]).transform(golden["formulas"]).astype(np.float32)
    expected = np.asarray(golden["values_float32"], dtype=np.float32)
    assert features.shape == tuple(golden["shape"])
    np.testing.assert_array_equal(features, expected)
    assert hashlib.sha256(np.ascontiguousarray(features).tobytes()).hexdigest() == golden["sha256_float32"]
