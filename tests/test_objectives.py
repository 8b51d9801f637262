import numpy as np
import pytest
import torch

from polysrl_sklearn import SHIPPED_MODELS, PolySRLFeaturizer
from polysrl_sklearn.composition import parse_composition
from polysrl_sklearn.network import load_checkpoint
from polysrl_sklearn.objectives import augment, infomax_loss, nt_xent


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
    expected = {"default": "polysrl"}.get(name, name)
    assert network.config.objective == expected
    assert len(payload["history"]) >= 1
    features = PolySRLFeaturizer(pretrained=name).fit([]).transform(["Fe2O3", "Bi2Te3"])
    assert np.all(np.isfinite(features))


def test_shipped_models_share_one_recipe_and_training_length():
    """The docs compare the shipped encoders as equals: same width, recipe and number of epochs."""
    from polysrl_sklearn.cli import CPU_RECIPE

    for name, path in SHIPPED_MODELS.items():
        network, payload = load_checkpoint(path)
        assert network.config.hidden_dim == CPU_RECIPE["hidden_dim"], name
        assert len(payload["history"]) == payload["settings"]["epochs"] == CPU_RECIPE["epochs"], name
        assert payload["settings"]["learning_rate"] == CPU_RECIPE["learning_rate"], name
        assert payload["settings"]["batch_size"] == CPU_RECIPE["batch_size"], name
