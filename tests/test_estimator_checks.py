"""scikit-learn's estimator checks, and our own clone/pickle/device tests where sklearn skips.

sklearn runs no check at all for an estimator whose input is not a 2-D
numeric array (our input is one column of compositions): it skips them all
with a ``SkipTestWarning``. The ``Numeric*`` subclasses below change only
that tag, so that the checks run. Every check that then fails is listed
in :func:`expected_failures` with its reason; the others must pass.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from polysrl_sklearn import PolySRLFeaturizer
from polysrl_sklearn.matminer_featurizer import PolySRLComposition
from polysrl_sklearn.regressor import PolySRLRegressor

FORMULAS = ["NaCl", "MgO", "ZnS", "CaF2", "SrTiO3", "Fe2O3", "GaAs", "Bi2Te3"]


class _NumericTags:
    """Mixin: claim 2-D array input so that sklearn runs its checks instead of skipping them."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True
        return tags


class NumericPolySRLFeaturizer(_NumericTags, PolySRLFeaturizer):
    """PolySRLFeaturizer with sklearn's checks enabled."""


class NumericPolySRLRegressor(_NumericTags, PolySRLRegressor):
    """PolySRLRegressor with sklearn's checks enabled."""


class NumericPolySRLComposition(_NumericTags, PolySRLComposition):
    """PolySRLComposition with sklearn's checks enabled."""


NUMERIC = "feeds a numeric array; the input is one column of compositions, so the data are refused"
WORDING = "expects sklearn's wording for refused data; ours names the composition or the shape instead"
NOT_AN_ARRAY = "passes sklearn's _NotAnArray wrapper, which is not a sequence of compositions"
FIT_IGNORES_X = ("matminer's fit ignores X (it only loads the weights), so this X is not refused there; "
                 "featurize_many refuses bad entries one by one")

#: Shared by the two estimators of this package: check name -> reason.
_SHARED = {
    **dict.fromkeys(["check_fit_score_takes_y", "check_estimators_overwrite_params",
                     "check_dont_overwrite_parameters", "check_estimators_fit_returns_self",
                     "check_readonly_memmap_input", "check_n_features_in_after_fitting",
                     "check_positive_only_tag_during_fit", "check_estimators_dtypes", "check_dtype_object",
                     "check_pipeline_consistency", "check_estimators_pickle",
                     "check_f_contiguous_array_estimator", "check_methods_sample_order_invariance",
                     "check_methods_subset_invariance", "check_dict_unchanged", "check_fit_idempotent",
                     "check_fit_check_is_fitted", "check_n_features_in", "check_fit2d_predict1d"], NUMERIC),
    **dict.fromkeys(["check_complex_data", "check_estimators_empty_data_messages", "check_estimators_nan_inf",
                     "check_estimator_sparse_array", "check_estimator_sparse_matrix", "check_fit2d_1sample",
                     "check_fit2d_1feature"], WORDING),
}

#: Estimator class -> {check name: reason} of every check expected to fail.
EXPECTED_FAILURES: dict[type, dict[str, str]] = {
    PolySRLFeaturizer: {
        **_SHARED,
        **dict.fromkeys(["check_transformer_general", "check_transformer_preserve_dtypes"], NUMERIC),
        "check_transformer_data_not_an_array": NOT_AN_ARRAY,
    },
    PolySRLRegressor: {
        **_SHARED,
        **dict.fromkeys(["check_regressors_train", "check_regressors_no_decision_function",
                         "check_supervised_y_2d", "check_regressors_int"], NUMERIC),
        "check_regressor_data_not_an_array": NOT_AN_ARRAY,
        "check_requires_y_none": WORDING,
    },
    PolySRLComposition: {
        **dict.fromkeys(["check_fit_score_takes_y", "check_estimators_dtypes", "check_dtype_object",
                         "check_pipeline_consistency", "check_estimators_pickle",
                         "check_f_contiguous_array_estimator", "check_transformer_general",
                         "check_transformers_unfitted_stateless", "check_methods_sample_order_invariance",
                         "check_methods_subset_invariance", "check_dict_unchanged", "check_fit_idempotent"],
                        NUMERIC),
        **dict.fromkeys(["check_fit1d", "check_complex_data", "check_estimators_empty_data_messages",
                         "check_estimators_nan_inf", "check_estimator_sparse_tag", "check_fit2d_predict1d"],
                        FIT_IGNORES_X),
        **dict.fromkeys(["check_n_features_in", "check_n_features_in_after_fitting"],
                        "matminer's featurizers do not set n_features_in_"),
        "check_transformer_data_not_an_array": NOT_AN_ARRAY,
        "check_mixin_order": "matminer's BaseFeaturizer lists BaseEstimator before TransformerMixin",
        "check_estimators_overwrite_params": "joblib.hash cannot hash the nested fitted torch network "
                                             "(plain pickle can: see test_fitted_estimators_pickle)",
    },
}


def expected_failures(estimator) -> dict[str, str]:
    """Check name -> why it fails for ``estimator``."""
    return next(reasons for cls, reasons in EXPECTED_FAILURES.items() if isinstance(estimator, cls))


def tiny_featurizer(cls=PolySRLFeaturizer) -> PolySRLFeaturizer:
    return cls(pretrained=None, hidden_dim=4, random_state=0)


def tiny_regressor(cls=PolySRLRegressor) -> PolySRLRegressor:
    return cls(pretrained=None, hidden_dim=4, hidden=8, epochs=2, learning_rates=(1e-3,), random_state=0)


@parametrize_with_checks([tiny_featurizer(NumericPolySRLFeaturizer), tiny_regressor(NumericPolySRLRegressor),
                          NumericPolySRLComposition(tiny_featurizer())],
                         expected_failed_checks=expected_failures)
@pytest.mark.slow
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_unmodified_estimators_are_skipped_by_sklearn():
    """Why the subclasses exist: without them sklearn yields no real check (only a skip)."""
    from sklearn.utils.estimator_checks import check_estimator

    for estimator in (tiny_featurizer(), tiny_regressor(), PolySRLComposition(tiny_featurizer())):
        with pytest.warns(Warning, match="Can't test estimator"):
            assert len(check_estimator(estimator, on_fail=None)) <= 1


# -------------------------------------------------------------- our own clone, pickle, device tests
def estimators() -> list:
    return [tiny_featurizer(), tiny_regressor(), PolySRLComposition(tiny_featurizer())]


def fit_and_output(estimator) -> np.ndarray:
    if isinstance(estimator, PolySRLRegressor):
        return estimator.fit(FORMULAS, np.arange(len(FORMULAS), dtype=float)).predict(FORMULAS)
    if isinstance(estimator, PolySRLComposition):
        return np.asarray(estimator.fit(FORMULAS).featurize_many(FORMULAS, pbar=False))
    return estimator.fit(FORMULAS).transform(FORMULAS)


def output(estimator) -> np.ndarray:
    if isinstance(estimator, PolySRLRegressor):
        return estimator.predict(FORMULAS)
    if isinstance(estimator, PolySRLComposition):
        return np.asarray(estimator.featurize_many(FORMULAS, pbar=False))
    return estimator.transform(FORMULAS)


@pytest.mark.parametrize("estimator", estimators(), ids=lambda e: type(e).__name__)
def test_clone_copies_parameters_and_no_fitted_state(estimator):
    expected = fit_and_output(estimator)
    copy = clone(estimator)
    assert repr(copy) == repr(estimator)
    assert not [name for name in vars(copy) if name.endswith("_") and not name.startswith("_")]
    np.testing.assert_array_equal(fit_and_output(copy), expected)


@pytest.mark.parametrize("estimator", estimators(), ids=lambda e: type(e).__name__)
def test_fitted_estimators_pickle(estimator):
    expected = fit_and_output(estimator)
    np.testing.assert_array_equal(output(pickle.loads(pickle.dumps(estimator))), expected)


@pytest.mark.parametrize("device", ["cpu", torch.device("cpu"),
                                    pytest.param("cuda", marks=pytest.mark.skipif(
                                        not torch.cuda.is_available(), reason="needs a GPU"))])
def test_devices_give_the_same_features_and_leave_the_network_on_the_cpu(device):
    reference = tiny_featurizer().fit(FORMULAS).transform(FORMULAS)
    featurizer = tiny_featurizer().set_params(device=device).fit(FORMULAS)
    np.testing.assert_allclose(featurizer.transform(FORMULAS), reference, rtol=1e-4, atol=1e-5)
    assert next(featurizer.network_.parameters()).device.type == "cpu"


@pytest.mark.parametrize("device", ["gpu", "cuda:x", 0])
def test_an_invalid_device_is_refused_by_the_parameter_check(device):
    from sklearn.utils._param_validation import InvalidParameterError

    for estimator in (tiny_featurizer(), tiny_regressor()):
        with pytest.raises(InvalidParameterError, match="'device' parameter .* must be 'auto' or a torch device"):
            estimator.set_params(device=device).fit(FORMULAS, np.zeros(len(FORMULAS)))


@pytest.mark.parametrize("estimator", estimators(), ids=lambda e: type(e).__name__)
def test_sklearn_parameter_validation_check(estimator):
    """sklearn's own check_param_validation (not among the checks it yields for third-party estimators):
    every parameter has a constraint, and each bad type or value raises sklearn's error naming it."""
    from sklearn.utils.estimator_checks import check_param_validation

    check_param_validation(type(estimator).__name__, estimator)
