"""What fit promises (issue 16, items 2, 4 and 8): architecture agreement, atomicity, resume, transform."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline

from polysrl_sklearn import SHIPPED_MODELS, PolySRLFeaturizer, torch_threads
from polysrl_sklearn import featurizer as featurizer_module
from polysrl_sklearn.architecture import ARCHITECTURE_DEFAULTS
from polysrl_sklearn.network import load_checkpoint
from polysrl_sklearn.resume import ResumeError

FORMULAS = ["NaCl", "MgO", "ZnS", "CaF2", "ZrO2", "CsCl", "SrTiO3", "Li2O", "C", "Fe", "Cu",
            "Fe2O3", "Al2O3", "TiO2", "SiO2", "GaAs", "KBr", "BaTiO3", "Bi2Te3", "PbTe"]


def tiny(**params) -> PolySRLFeaturizer:
    """A featurizer that pretrains in about a second on the prototype structures."""
    settings = dict(pretrained=None, hidden_dim=8, epochs=2, batch_size=4, random_state=0, n_jobs=1,
                    device="cpu")
    return PolySRLFeaturizer(**{**settings, **params})


def compositions(structures) -> list[str]:
    return [s.composition.reduced_formula for s in structures]


# ----------------------------------------------------------------- item 2: architecture
def test_unset_architecture_takes_the_checkpoints_values():
    shipped = load_checkpoint(SHIPPED_MODELS["default"])[0].config
    featurizer = PolySRLFeaturizer().fit([])
    assert featurizer.network_.config.hidden_dim == shipped.hidden_dim
    assert featurizer.transform(["Fe2O3"]).shape == (1, shipped.hidden_dim + 1)
    # the same value set explicitly agrees, and gives the same features
    same = PolySRLFeaturizer(hidden_dim=shipped.hidden_dim, n_samples=shipped.n_samples).fit([])
    np.testing.assert_array_equal(same.transform(FORMULAS), featurizer.transform(FORMULAS))


@pytest.mark.parametrize("name, value", [("hidden_dim", 64), ("n_samples", 2), ("stoichiometry_layers", 1),
                                         ("structure_pooling", "sum"), ("objective", "infomax")])
def test_a_conflicting_architecture_parameter_raises_naming_it(name, value):
    with pytest.raises(ValueError, match=f"{name}={value!r} conflicts with the loaded weights"):
        PolySRLFeaturizer(**{name: value}).fit([])


def test_load_with_a_conflicting_width_raises(tmp_path):
    tiny(hidden_dim=4).fit([]).save(tmp_path / "m.pt")
    assert PolySRLFeaturizer.load(tmp_path / "m.pt").transform(["NaCl"]).shape == (1, 5)
    with pytest.raises(ValueError, match="hidden_dim=8 conflicts.*hidden_dim=4"):
        PolySRLFeaturizer.load(tmp_path / "m.pt", hidden_dim=8)


def test_a_new_network_uses_the_default_recipe():
    from polysrl_sklearn.recipes import DEFAULTS

    network = PolySRLFeaturizer(pretrained=None, random_state=0).fit([]).network_
    for name, value in ARCHITECTURE_DEFAULTS.items():
        assert getattr(network.config, name) == value == (getattr(DEFAULTS, name) if name != "objective"
                                                          else "polysrl"), name


def test_grid_search_over_architecture_of_loaded_weights_is_refused():
    X = np.array(FORMULAS, dtype=object)
    y = np.arange(len(FORMULAS), dtype=float)
    pipe = Pipeline([("polysrl", PolySRLFeaturizer()), ("head", MLPRegressor(max_iter=5))])
    search = GridSearchCV(pipe, {"polysrl__hidden_dim": [200, 64]}, cv=2, error_score="raise")
    with pytest.raises(ValueError, match="hidden_dim=64 conflicts"):
        search.fit(X, y)


# ----------------------------------------------------------------- item 4: atomic fit, resume
def interrupt_after_first_epoch(monkeypatch):
    """Make pretrain raise KeyboardInterrupt after one epoch, as Ctrl-C would."""
    real = featurizer_module.pretrain

    def stop(epoch, network, history):
        raise KeyboardInterrupt

    monkeypatch.setattr(featurizer_module, "pretrain",
                        lambda *args, **kwargs: real(*args, **{**kwargs, "on_epoch_end": stop}))


@pytest.mark.slow
def test_an_interrupted_fit_leaves_the_estimator_unfitted(structures, monkeypatch):
    interrupt_after_first_epoch(monkeypatch)
    featurizer = tiny()
    with pytest.raises(KeyboardInterrupt):
        featurizer.fit(compositions(structures), structures=structures)
    assert not hasattr(featurizer, "network_") and not hasattr(featurizer, "history_")
    with pytest.raises(Exception, match="not fitted"):
        featurizer.transform(["NaCl"])


@pytest.mark.slow
def test_an_interrupted_refit_keeps_the_previous_fit(structures, monkeypatch):
    featurizer = tiny().fit([])
    before = featurizer.transform(FORMULAS)
    interrupt_after_first_epoch(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        featurizer.fit(compositions(structures), structures=structures)
    np.testing.assert_array_equal(featurizer.transform(FORMULAS), before)


@pytest.mark.slow
def test_fit_with_a_checkpoint_resumes_like_an_uninterrupted_run(structures, tmp_path):
    X = compositions(structures)
    straight = tiny(epochs=3).fit(X, structures=structures, checkpoint=tmp_path / "straight.ckpt")
    tiny(epochs=1).fit(X, structures=structures, checkpoint=tmp_path / "split.ckpt")
    resumed = tiny(epochs=3).fit(X, structures=structures, checkpoint=tmp_path / "split.ckpt")
    assert [h["loss"] for h in resumed.history_] == [h["loss"] for h in straight.history_]
    np.testing.assert_allclose(resumed.transform(FORMULAS), straight.transform(FORMULAS), atol=1e-6)


@pytest.mark.slow
def test_fit_refuses_to_resume_another_run(structures, tmp_path):
    X = compositions(structures)
    checkpoint = tmp_path / "run.ckpt"
    tiny(epochs=1).fit(X, structures=structures, checkpoint=checkpoint)
    with pytest.raises(ResumeError, match="another corpus"):
        tiny(epochs=2).fit(X[:-2], structures=structures[:-2], checkpoint=checkpoint)
    with pytest.raises(ResumeError, match="hidden_dim=8.*hidden_dim=4"):
        tiny(epochs=2, hidden_dim=4).fit(X, structures=structures, checkpoint=checkpoint)
    with pytest.raises(ResumeError, match="learning_rate"):
        tiny(epochs=2, learning_rate=0.5).fit(X, structures=structures, checkpoint=checkpoint)


def test_checkpoint_without_training_data_is_refused():
    with pytest.raises(ValueError, match="checkpoint= is for pretraining"):
        tiny().fit(FORMULAS, checkpoint="x.ckpt")


# ----------------------------------------------------------------- item 8: transform
def test_transform_does_not_depend_on_transform_batch_size_beyond_float32_rounding():
    featurizer = PolySRLFeaturizer().fit([])
    reference = featurizer.transform(FORMULAS)
    for size in (1, 3, 7):
        other = clone(featurizer).set_params(transform_batch_size=size).fit([]).transform(FORMULAS)
        # passes of 1 to 3 compositions take another matrix-product path; sums of F = 200 terms of
        # order 1 then round differently by about 1e-6
        np.testing.assert_allclose(other, reference, rtol=1e-5, atol=1e-5)


def test_uncertainty_lies_between_the_variance_heads_floor_and_ceiling():
    for featurizer in (PolySRLFeaturizer().fit([]), tiny().fit([])):
        low, high = featurizer.network_.stoichiometry.log_variance_bounds
        uncertainty = featurizer.transform(FORMULAS)[:, -1]
        assert np.all(uncertainty >= np.exp(low) * (1 - 1e-5)) and np.all(uncertainty <= np.exp(high))


def test_small_transforms_run_on_one_thread_and_restore_the_setting(monkeypatch):
    featurizer = PolySRLFeaturizer().fit([])
    seen = []
    encoder = featurizer.network_.stoichiometry
    forward = encoder.forward
    monkeypatch.setattr(encoder, "forward", lambda batch: (seen.append(torch.get_num_threads()), forward(batch))[1])
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        featurizer.transform(["Fe2O3"])
        featurizer.transform([f"Fe{i}O" for i in range(1, torch_threads.SINGLE_THREAD_MAX_ROWS + 2)])
        assert seen == [1, 2]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_an_interrupted_regressor_fit_leaves_it_unfitted(monkeypatch):
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    from polysrl_sklearn.regressor import PolySRLRegressor

    regressor = PolySRLRegressor(pretrained=None, hidden_dim=4, hidden=8, epochs=1, random_state=0,
                                 learning_rates=(1e-3, 1e-2))
    calls = []
    real = PolySRLRegressor._fit_joint

    def interrupt_on_the_final_training(self, *args, **kwargs):
        calls.append(1)
        if len(calls) > len(self.learning_rates):  # the validation runs finished; Ctrl-C on the last one
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(PolySRLRegressor, "_fit_joint", interrupt_on_the_final_training)
    with pytest.raises(KeyboardInterrupt):
        regressor.fit(FORMULAS, np.arange(len(FORMULAS), dtype=float))
    with pytest.raises(NotFittedError):
        check_is_fitted(regressor)
