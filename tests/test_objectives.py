import numpy as np
import pytest
import torch

from polysrl_sklearn import SHIPPED_MODELS, PolySRLFeaturizer
from polysrl_sklearn.baseline_objectives import augment, infomax_loss, nt_xent
from polysrl_sklearn.composition import parse_composition
from polysrl_sklearn.network import load_checkpoint
from polysrl_sklearn.objectives import OBJECTIVES, get_objective
from polysrl_sklearn.shipped import SHIPPED, canonical_model_name
from polysrl_sklearn.soft_contrastive import SoftContrastiveLoss


def test_augment_keeps_an_element_and_normalises():
    rng = np.random.default_rng(0)
    for _ in range(50):
        elements, fractions = augment(parse_composition("SrTiO3"), rng, drop_probability=0.9)
        assert 1 <= len(elements) <= 3 and np.isclose(fractions.sum(), 1.0)


def test_nt_xent_prefers_aligned_pairs():
    z = torch.eye(4)
    target = torch.arange(4)
    assert nt_xent(z, z, target) < nt_xent(z, z.roll(1, 0), target)
    owner = torch.tensor([0, 0, 1, 2, 3])
    assert infomax_loss(z, z[owner], owner) < infomax_loss(z, z.roll(1, 0)[owner], owner)


@pytest.mark.parametrize("objective", ["polysrl_nosample", "infomax", "graphcl"])
def test_structure_objectives_train(structures, objective):
    X = [s.composition.reduced_formula for s in structures]
    f = PolySRLFeaturizer(pretrained=None, objective=objective, hidden_dim=8, epochs=8, batch_size=16,
                          learning_rate=3e-3, random_state=0, n_jobs=1, device="cpu").fit(X, structures=structures)
    assert f.network_.config.objective == objective
    assert f.history_[-1]["loss"] < f.history_[0]["loss"]


def test_supervised_objective_uses_pretraining_targets_not_y():
    X = ["NaCl", "MgO", "ZnS", "CaF2", "ZrO2", "CsCl", "SrTiO3", "Li2O"]
    targets = np.linspace(0, 1, len(X))
    f = PolySRLFeaturizer(pretrained=None, objective="supervised", hidden_dim=8, epochs=40, batch_size=8,
                          learning_rate=1e-2, random_state=0).fit(X, pretraining_targets=targets)
    assert f.history_[-1]["loss"] < f.history_[0]["loss"]
    with pytest.raises(ValueError, match="pretraining_targets"):
        PolySRLFeaturizer(pretrained=None, objective="supervised").fit(X, structures=[None] * len(X))


def test_unknown_objective():
    with pytest.raises(ValueError, match="'objective' parameter of PolySRLFeaturizer must be"):
        PolySRLFeaturizer(pretrained=None, objective="magic").fit(["NaCl"])


@pytest.mark.parametrize("name", sorted(SHIPPED_MODELS))
def test_shipped_models_load(name):
    network, payload = load_checkpoint(SHIPPED_MODELS[name])
    assert network.config.objective == SHIPPED[canonical_model_name(name)].objective
    assert len(payload["history"]) >= 1
    features = PolySRLFeaturizer(pretrained=name).fit([]).transform(["Fe2O3", "Bi2Te3"])
    assert np.all(np.isfinite(features))


def test_aliases_name_the_same_file_or_random_init():
    assert SHIPPED_MODELS["default"] == SHIPPED_MODELS["polysrl_chgnet_mt_elements_error"] != SHIPPED_MODELS["polysrl"]
    assert SHIPPED_MODELS["supervised"] == SHIPPED_MODELS["mp_band_gap"]
    by_alias = PolySRLFeaturizer(pretrained="rand_init", hidden_dim=8, random_state=3).fit([])
    by_none = PolySRLFeaturizer(pretrained=None, hidden_dim=8, random_state=3).fit([])
    np.testing.assert_array_equal(by_alias.transform(["NaCl"]), by_none.transform(["NaCl"]))


def test_registry_names_and_loss_classes():
    assert list(OBJECTIVES) == ["polysrl", "polysrl_nosample", "infomax", "graphcl", "supervised", "error_variance"]
    assert get_objective("polysrl").loss is get_objective("polysrl_nosample").loss is SoftContrastiveLoss
    assert {o.pretrains_from for o in OBJECTIVES.values()} == {"structures", "targets"}
    assert {model.objective for model in SHIPPED.values()} <= set(OBJECTIVES)
    with pytest.raises(ValueError, match="unknown objective 'magic'"):
        get_objective("magic")
