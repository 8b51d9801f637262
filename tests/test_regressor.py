import numpy as np
import torch
from pymatgen.core import Composition
from sklearn.model_selection import cross_val_score

from polysrl_sklearn.regressor import PolySRLRegressor

FORMULAS = ["NaCl", "MgO", "ZnS", "CaF2", "ZrO2", "CsCl", "SrTiO3", "Li2O", "Fe2O3", "Al2O3", "TiO2", "SiO2",
            "GaAs", "KBr", "BaTiO3", "Bi2Te3", "PbTe", "CuO", "Cu2O", "FeO", "Fe3O4", "MnO2", "NiO", "CoO"]
OXYGEN_FRACTION = np.array([Composition(f).get_atomic_fraction("O") for f in FORMULAS])


def test_learning_rate_is_chosen_on_inner_validation_and_model_learns():
    model = PolySRLRegressor(pretrained=None, hidden_dim=8, hidden=32, learning_rates=(1e-2, 1e-5),
                             epochs=60, batch_size=8, random_state=0, device="cpu").fit(FORMULAS, OXYGEN_FRACTION)
    assert set(model.validation_mae_) == {1e-2, 1e-5}
    assert model.best_learning_rate_ == min(model.validation_mae_, key=model.validation_mae_.get)
    train_mae = np.abs(model.predict(FORMULAS) - OXYGEN_FRACTION).mean()
    assert train_mae < np.abs(OXYGEN_FRACTION - OXYGEN_FRACTION.mean()).mean() / 2


def test_regressor_in_cross_val_score_is_reproducible():
    model = PolySRLRegressor(pretrained=None, hidden_dim=8, hidden=16, learning_rates=(1e-3,), epochs=5,
                             random_state=0, device="cpu")
    a = cross_val_score(model, FORMULAS, OXYGEN_FRACTION, cv=3, scoring="neg_mean_absolute_error")
    b = cross_val_score(model, FORMULAS, OXYGEN_FRACTION, cv=3, scoring="neg_mean_absolute_error")
    assert np.allclose(a, b) and np.all(np.isfinite(a))


def test_mean_vector_is_the_forward_mean_without_the_variance_head():
    import torch

    from polysrl_sklearn.composition import parse_composition
    from polysrl_sklearn.featurizer import PolySRLFeaturizer
    from polysrl_sklearn.stoichiometry_graph import build_stoichiometry_batch

    encoder = PolySRLFeaturizer().fit([]).network_.stoichiometry
    batch = build_stoichiometry_batch([parse_composition(f, i) for i, f in enumerate(["Fe2O3", "NaCl", "Si"])])
    with torch.no_grad():
        assert torch.equal(encoder.mean_vector(batch), encoder(batch)[0])


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_frozen_regressor_leaves_the_encoder_bit_identical():
    from polysrl_sklearn.featurizer import PolySRLFeaturizer

    loaded = _state(PolySRLFeaturizer().fit([]).network_.stoichiometry)
    model = PolySRLRegressor(finetune=False, hidden=16, learning_rates=(1e-2, 1e-3), epochs=20,
                             random_state=0, device="cpu").fit(FORMULAS, OXYGEN_FRACTION)
    after = _state(model.encoder_)
    assert loaded.keys() == after.keys()
    assert all(torch.equal(loaded[k], after[k]) for k in loaded)
    # and the head did learn something on the frozen mean vectors
    assert np.abs(model.predict(FORMULAS) - OXYGEN_FRACTION).mean() < np.abs(
        OXYGEN_FRACTION - OXYGEN_FRACTION.mean()).mean()


def test_finetuning_changes_the_encoder_but_frozen_does_not():
    kwargs = dict(pretrained=None, hidden_dim=8, hidden=16, learning_rates=(1e-2,), epochs=5, random_state=3,
                  device="cpu")
    tuned = PolySRLRegressor(finetune=True, **kwargs).fit(FORMULAS, OXYGEN_FRACTION)
    frozen = PolySRLRegressor(finetune=False, **kwargs).fit(FORMULAS, OXYGEN_FRACTION)
    start = _state(frozen._load_encoder(3))  # the same seeded random init both started from
    assert all(torch.equal(start[k], v) for k, v in _state(frozen.encoder_).items())
    assert any(not torch.equal(start[k], v) for k, v in _state(tuned.encoder_).items())


def test_frozen_regressor_accepts_a_checkpoint_path(tmp_path):
    from polysrl_sklearn.featurizer import PolySRLFeaturizer

    path = tmp_path / "random.pt"
    PolySRLFeaturizer(pretrained=None, hidden_dim=8, random_state=1).fit([]).save(path)
    model = PolySRLRegressor(pretrained=str(path), finetune=False, hidden=16, learning_rates=(1e-3,), epochs=3,
                             random_state=0, device="cpu").fit(FORMULAS, OXYGEN_FRACTION)
    assert model.encoder_.mean_out.out_features == 8
    assert model.predict(["NaCl", "MgO"]).shape == (2,)


def test_frozen_regressor_clones_and_pickles():
    import pickle

    from sklearn.base import clone

    model = PolySRLRegressor(pretrained=None, finetune=False, hidden_dim=8, hidden=16, learning_rates=(1e-3,),
                             epochs=3, random_state=0, device="cpu")
    assert clone(model).get_params() == model.get_params()
    fitted = model.fit(FORMULAS, OXYGEN_FRACTION)
    restored = pickle.loads(pickle.dumps(fitted))
    assert np.array_equal(restored.predict(FORMULAS), fitted.predict(FORMULAS))
    assert not hasattr(clone(fitted), "head_")


def test_mlp_head_regressor_learns_a_linear_target():
    from polysrl_sklearn.head import MLPHeadRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0, 0.0])
    head = MLPHeadRegressor(learning_rates=(1e-2, 1e-4), epochs=40, hidden=32, random_state=0).fit(X, y)
    assert set(head.validation_mae_) == {1e-2, 1e-4}
    assert head.best_learning_rate_ == 1e-2
    assert np.abs(head.predict(X) - y).mean() < 0.2 * np.abs(y - y.mean()).mean()


def test_mlp_head_regressor_validates_its_parameters():
    import pytest

    from polysrl_sklearn.head import MLPHeadRegressor

    X, y = np.zeros((10, 2)), np.arange(10.0)
    with pytest.raises(ValueError, match="'epochs' parameter"):
        MLPHeadRegressor(epochs=0).fit(X, y)
    with pytest.raises(ValueError, match="'device' parameter"):
        MLPHeadRegressor(device="gpu").fit(X, y)


def test_head_training_runs_on_one_thread_and_restores_the_count(monkeypatch):
    from polysrl_sklearn import head

    seen = []
    original = head.train_l1

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(head, "train_l1", spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        head.MLPHeadRegressor(learning_rates=(1e-3,), epochs=1, hidden=4).fit(np.zeros((8, 2)), np.arange(8.0))
        assert seen == [1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
