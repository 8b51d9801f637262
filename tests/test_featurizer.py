import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Composition
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline

from polysrl_sklearn import DEFAULT_CHECKPOINT, CompositionError, PolySRLFeaturizer

FORMULAS = ["NaCl", "MgO", "ZnS", "CaF2", "ZrO2", "CsCl", "SrTiO3", "Li2O", "C", "Fe", "Cu",
            "Fe2O3", "Al2O3", "TiO2", "SiO2", "GaAs", "KBr", "BaTiO3", "Bi2Te3", "PbTe"]


def test_init_does_no_work():
    featurizer = PolySRLFeaturizer(pretrained="/does/not/exist.pt")
    assert not hasattr(featurizer, "network_")
    assert clone(featurizer).get_params() == featurizer.get_params()


def test_pretraining_reduces_loss_and_is_reproducible(structures, small_fitted):
    history = small_fitted.history_
    assert len(history) == 4
    assert history[-1]["contrastive"] < history[0]["contrastive"]
    X = [s.composition for s in structures]
    again = clone(small_fitted).fit(X, structures=structures)
    twice = clone(small_fitted).fit(X, structures=structures)
    # same seed, same process state: bit for bit
    assert np.array_equal(again.transform(FORMULAS), twice.transform(FORMULAS))
    # the session fixture may have been fitted under another torch thread count (another
    # summation order): equal to float32 rounding
    assert np.allclose(again.transform(FORMULAS), small_fitted.transform(FORMULAS), rtol=1e-4, atol=1e-6)


def test_fit_rejects_mismatched_composition(structures):
    featurizer = PolySRLFeaturizer(pretrained=None, hidden_dim=8, epochs=1, n_jobs=1, random_state=0)
    X = [s.composition.reduced_formula for s in structures]
    X[3] = "NaCl"
    with pytest.raises(ValueError, match="position 3"):
        featurizer.fit(X, structures=structures)


def test_transform_shape_names_and_uncertainty(small_fitted):
    features = small_fitted.transform(FORMULAS)
    assert features.shape == (len(FORMULAS), 17)
    names = small_fitted.get_feature_names_out()
    assert names[-1] == "polysrl_uncertainty" and len(names) == 17
    assert np.all(features[:, -1] > 0) and np.all(np.isfinite(features))
    # fractions, not counts
    assert np.allclose(small_fitted.transform(["Fe2O3"]), small_fitted.transform(["Fe4O6"]))
    # Composition objects and strings agree, order and duplicates preserved
    mixed = small_fitted.transform([Composition("TiO2"), "NaCl", "TiO2"])
    assert np.allclose(mixed[0], mixed[2])
    assert np.allclose(mixed[1], small_fitted.transform(["NaCl"])[0])


def test_batching_does_not_change_results(small_fitted):
    small = clone(small_fitted).set_params(transform_batch_size=3)
    small.network_ = small_fitted.network_
    assert np.allclose(small.transform(FORMULAS), small_fitted.transform(FORMULAS), atol=1e-5)


def test_set_output_pandas(small_fitted):
    featurizer = clone(small_fitted)
    featurizer.network_ = small_fitted.network_
    featurizer.n_features_in_ = 1
    frame = featurizer.set_output(transform="pandas").transform(pd.Series(["NaCl", "KCl"]))
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == list(small_fitted.get_feature_names_out())


@pytest.mark.parametrize("bad", ["Xx2O3", "", None, float("nan")])
def test_bad_input_error_names_item(small_fitted, bad):
    with pytest.raises(CompositionError, match="position 1"):
        small_fitted.transform(["NaCl", bad])


def test_pickle_joblib_save_load_roundtrip(small_fitted, tmp_path):
    expected = small_fitted.transform(FORMULAS)
    assert np.allclose(pickle.loads(pickle.dumps(small_fitted)).transform(FORMULAS), expected)
    joblib.dump(small_fitted, tmp_path / "f.joblib")
    assert np.allclose(joblib.load(tmp_path / "f.joblib").transform(FORMULAS), expected)
    small_fitted.save(tmp_path / "model.pt")
    assert np.allclose(PolySRLFeaturizer.load(tmp_path / "model.pt").transform(FORMULAS), expected)
    # a path survives clone(): the pipeline use case
    from_path = clone(PolySRLFeaturizer(pretrained=tmp_path / "model.pt")).fit(FORMULAS)
    assert np.allclose(from_path.transform(FORMULAS), expected)


def test_random_init_is_seeded():
    a = PolySRLFeaturizer(pretrained=None, hidden_dim=8, random_state=3).fit(FORMULAS)
    b = PolySRLFeaturizer(pretrained=None, hidden_dim=8, random_state=3).fit(FORMULAS)
    c = PolySRLFeaturizer(pretrained=None, hidden_dim=8, random_state=4).fit(FORMULAS)
    assert np.allclose(a.transform(FORMULAS), b.transform(FORMULAS))
    assert not np.allclose(a.transform(FORMULAS), c.transform(FORMULAS))


def test_default_loads_shipped_model_without_training():
    assert DEFAULT_CHECKPOINT.is_file(), "the shipped pretrained model is missing from the package"
    featurizer = PolySRLFeaturizer().fit(FORMULAS)
    assert featurizer.history_, "shipped model should carry its pretraining history"
    features = featurizer.transform(FORMULAS)
    assert features.shape == (len(FORMULAS), featurizer.network_.config.hidden_dim + 1)
    assert np.all(np.isfinite(features))


def _target():
    rng = np.random.default_rng(0)
    return rng.normal(size=len(FORMULAS))


def test_pipeline_cross_val_and_grid_search(small_fitted, tmp_path):
    path = tmp_path / "model.pt"
    small_fitted.save(path)
    pipe = Pipeline([("polysrl", PolySRLFeaturizer(pretrained=path)),
                     ("mlp", MLPRegressor(hidden_layer_sizes=(16,), max_iter=50, random_state=0))])
    scores = cross_val_score(pipe, np.array(FORMULAS), _target(), cv=KFold(5, shuffle=True, random_state=0),
                             scoring="neg_mean_absolute_error")
    assert scores.shape == (5,) and np.all(np.isfinite(scores))
    grid = GridSearchCV(pipe, {"mlp__alpha": [1e-4, 1e-2]}, cv=3, scoring="neg_mean_absolute_error")
    grid.fit(np.array(FORMULAS), _target())
    assert grid.best_params_["mlp__alpha"] in (1e-4, 1e-2)


def test_frozen_estimator_survives_cv(small_fitted):
    pipe = Pipeline([("polysrl", FrozenEstimator(small_fitted)),
                     ("mlp", MLPRegressor(hidden_layer_sizes=(8,), max_iter=30, random_state=0))])
    scores = cross_val_score(pipe, FORMULAS, _target(), cv=4, scoring="neg_mean_absolute_error")
    assert np.all(np.isfinite(scores))
    # frozen: fitting did not touch the pretrained weights
    assert np.allclose(pipe.fit(FORMULAS, _target())[0].transform(FORMULAS), small_fitted.transform(FORMULAS))
