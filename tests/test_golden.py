"""Golden tests: the shipped models' features on fixed formulas, and seeded pretraining, bit for bit.

The seeded-pretraining values were first written by the code as it stood before the recipe /
registry / datasets refactor (issue 18). All values were rewritten once, when inference moved
to the batch-invariant SiLU (``encoders.batch_invariant_silu``): the previous default's features
moved by at most 2.4e-7, and the seeded pretraining runs were checked to give bit-identical
weights before and after (training keeps the float32 SiLU; only the features changed).
Any change to them is a behaviour change of a shipped model and must be deliberate.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from polysrl_sklearn import PolySRLFeaturizer
from polysrl_sklearn.shipped import canonical_model_name

GOLDEN = Path(__file__).parent / "data" / "golden_features.json"


@pytest.fixture
def one_thread():
    """The golden values were recorded with one torch thread: parallel reductions round differently."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", ["polysrl_chgnet_mt_coordinates_error", "polysrl_chgnet_mt_coordinates",
                                  "polysrl_chgnet_mt_elements_error", "polysrl_chgnet_mt_elements",
                                  "polysrl_chgnet_mt_error", "polysrl_chgnet_mt_anchored", "polysrl_chgnet_mt_mixtures",
                                  "polysrl_chgnet_mt_count", "polysrl_chgnet_mt_variance", "polysrl_chgnet_mt",
                                  "polysrl_nosample_chgnet_mt_elements", "polysrl"])
def test_shipped_model_features_are_bit_identical(one_thread, name):
    golden = json.loads(GOLDEN.read_text())
    model = golden["models"][canonical_model_name(name)]
    features = PolySRLFeaturizer(pretrained=name, device="cpu").fit([]).transform(golden["formulas"])
    features = features.astype(np.float32)
    expected = np.asarray(model["values_float32"], dtype=np.float32)
    assert features.shape == tuple(model["shape"])
    np.testing.assert_array_equal(features, expected)
    assert hashlib.sha256(np.ascontiguousarray(features).tobytes()).hexdigest() == model["sha256_float32"]


@pytest.mark.parametrize("stage, first_stage", [("default", "polysrl_chgnet_mt_elements"),
                                                 ("polysrl_chgnet_mt_error", "polysrl_chgnet_mt"),
                                                 ("polysrl_chgnet_mt_coordinates_error",
                                                  "polysrl_chgnet_mt_coordinates")])
def test_a_variance_stage_is_its_first_stage_with_another_variance_head(stage, first_stage):
    """The default's variance stages (C43 on C41; the previous default's, C39 on C14; and amendment
    16's C47 on C45) trained only the variance head: its mean vectors, and so every result that reads only the means (the
    paper's head, fine-tuning), are its first stage's."""
    formulas = json.loads(GOLDEN.read_text())["formulas"]
    staged, first = (PolySRLFeaturizer(pretrained=name).fit([]) for name in (stage, first_stage))
    staged_features, first_features = staged.transform(formulas), first.transform(formulas)
    np.testing.assert_array_equal(staged_features[:, :-1], first_features[:, :-1])
    assert not np.array_equal(staged_features[:, -1], first_features[:, -1])
    staged_state, first_state = staged.network_.stoichiometry.state_dict(), first.network_.stoichiometry.state_dict()
    changed = {key for key in staged_state if not torch.equal(staged_state[key], first_state[key])}
    assert changed and all(key.startswith(("var_pool.", "var_out.")) for key in changed), changed


@pytest.mark.parametrize("name", ["polysrl_chgnet_mt_elements", "polysrl_chgnet_mt_coordinates"])
def test_the_element_statistics_first_stages_have_their_own_mean_vectors(name):
    formulas = json.loads(GOLDEN.read_text())["formulas"]
    elements, before = (PolySRLFeaturizer(pretrained=model).fit([]).transform(formulas)
                        for model in (name, "polysrl_chgnet_mt"))
    assert not np.array_equal(elements[:, :-1], before[:, :-1])


GOLDEN_PRETRAINING = Path(__file__).parent / "data" / "golden_pretraining.json"


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["polysrl", "polysrl_nosample", "infomax", "graphcl", "supervised",
                                       "random_init"])
def test_seeded_pretraining_and_random_init_are_bit_identical(structures, objective, one_thread):
    """Seeded pretraining (2 epochs on the prototypes) and the seeded random-init encoder give the
    features recorded before the refactor: the registry, the recipes and the encoders' new methods
    draw nothing extra from the RNG."""
    expected = json.loads(GOLDEN_PRETRAINING.read_text())[objective]
    X = [s.composition.reduced_formula for s in structures]
    features = _seeded_features(objective, X, structures)
    assert hashlib.sha256(features.tobytes()).hexdigest() == expected


def _seeded_features(objective: str, X: list[str], structures) -> np.ndarray:
    if objective == "random_init":
        featurizer = PolySRLFeaturizer(pretrained=None, random_state=0, device="cpu").fit([])
    else:
        featurizer = PolySRLFeaturizer(pretrained=None, objective=objective, hidden_dim=8, epochs=2, batch_size=8,
                                       random_state=0, n_jobs=1, device="cpu")
        if objective == "supervised":
            featurizer.fit(X, pretraining_targets=np.linspace(0, 1, len(X)))
        else:
            featurizer.fit(X, structures=structures)
    return featurizer.transform(X).astype(np.float32)
