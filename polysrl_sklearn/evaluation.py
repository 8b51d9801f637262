"""Evaluation heads on frozen features, under repeated 5-fold CV.

Three heads (``polysrl benchmark --head``), all fixed in advance, none tuned on
test folds:

``paper``
    The paper's representation-learning head (Appendix E): a three-layer
    LeakyReLU MLP on the L1 loss, Adam at the fixed learning rate 1e-3 for 300
    epochs, weight decay 1e-6 (:class:`~polysrl_sklearn.head.MLPHeadRegressor`
    on standardised features; for an encoder,
    :class:`~polysrl_sklearn.regressor.PolySRLRegressor` with ``finetune=False``,
    whose mean vectors are standardised on the training rows).
``mlp``
    sklearn's ``MLPRegressor`` (ReLU, squared error, lr 1e-3, at most 300 epochs)
    on standardised features: this project's earlier head.
``rf``
    ``RandomForestRegressor(n_estimators=500)``, the Matbench reference baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from .head import MLPHeadRegressor

CLIP_SD = 5.0

#: Evaluation heads of ``polysrl benchmark --head`` (see the module docstring).
HEADS: tuple[str, ...] = ("paper", "mlp", "rf")

#: The ``paper`` head's learning rate: fixed at 1e-3 in the paper's representation-learning runs
#: (Appendix E). Fine-tuning chooses among four rates on an inner split instead.
PAPER_HEAD_LEARNING_RATES: tuple[float, ...] = (1e-3,)


def clip_standardised(X: np.ndarray) -> np.ndarray:
    """Clip standardised features to +-CLIP_SD standard deviations."""
    return np.clip(X, -CLIP_SD, CLIP_SD)


def mlp_head(random_state: int = 0, hidden: int = 256, early_stopping: bool = False) -> Pipeline:
    """Standardise, clip at +-5 s.d., then a three-layer MLP regressor (two hidden layers + output).

    The clip keeps a test composition far outside the training range (some
    Magpie statistics reach 50 s.d.) from making the ReLU head explode.

    Parameters
    ----------
    random_state : int, default=0
        Seed of the MLP's initialisation and batching.
    hidden : int, default=256
        Width of both hidden layers.
    early_stopping : bool, default=False
        Stop when the score on a held-out 10 % of the training data has not
        improved for 10 epochs (sklearn's ``early_stopping``) instead of always
        running 300 epochs; for tasks with tens of thousands of rows.
    """
    return Pipeline([
        ("scale", StandardScaler()),
        ("clip", FunctionTransformer(clip_standardised)),
        ("mlp", MLPRegressor(hidden_layer_sizes=(hidden, hidden), learning_rate_init=1e-3,
                             max_iter=300, early_stopping=early_stopping, random_state=random_state)),
    ])


def paper_feature_head(random_state: int = 0) -> Pipeline:
    """Standardise, clip at +-5 s.d., then the paper's head (:class:`~polysrl_sklearn.head.MLPHeadRegressor`).

    This is the ``paper`` head for a feature matrix such as Magpie's. An encoder's
    mean vectors go to the head unscaled instead (:class:`~polysrl_sklearn.regressor.
    PolySRLRegressor` with ``finetune=False``), as in the paper.

    Parameters
    ----------
    random_state : int, default=0
        Seed of the head's initialisation, row order and inner validation split.
    """
    return Pipeline([
        ("scale", StandardScaler()),
        ("clip", FunctionTransformer(clip_standardised)),
        ("head", MLPHeadRegressor(learning_rates=PAPER_HEAD_LEARNING_RATES, random_state=random_state)),
    ])


def rf_head(random_state: int = 0, n_jobs: int | None = -1) -> RandomForestRegressor:
    """``RandomForestRegressor(n_estimators=500)``, the Matbench reference baseline's model.

    Parameters
    ----------
    random_state : int, default=0
    n_jobs : int or None, default=-1
        Trees are grown on every core.
    """
    return RandomForestRegressor(n_estimators=500, random_state=random_state, n_jobs=n_jobs)


class MagpieFeatures(TransformerMixin, BaseEstimator):
    """matminer ElementProperty("magpie") as a stateless transformer of formulas.

    Parameters
    ----------
    n_jobs : int, default=1
        Passed to matminer.
    """

    def __init__(self, n_jobs: int = 1) -> None:
        self.n_jobs = n_jobs

    def fit(self, X: Any, y: Any = None) -> "MagpieFeatures":
        """No-op (Magpie statistics are fixed)."""
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Magpie element-property statistics of each composition."""
        from matminer.featurizers.composition import ElementProperty
        from pymatgen.core import Composition

        featurizer = ElementProperty.from_preset("magpie")
        featurizer.set_n_jobs(self.n_jobs)
        compositions = [c if isinstance(c, Composition) else Composition(c) for c in np.ravel(np.asarray(X, dtype=object))]
        return np.asarray(featurizer.featurize_many(compositions, pbar=False), dtype=np.float64)


def cv_predictions(model: Any, X: Any, y: np.ndarray, seed: int, n_splits: int = 5) -> np.ndarray:
    """Out-of-fold predictions of ``model`` under a shuffled ``n_splits``-fold split."""
    return cross_val_predict(model, X, y, cv=KFold(n_splits, shuffle=True, random_state=seed))


def fold_maes(predictions: np.ndarray, y: np.ndarray, seed: int, n_splits: int = 5) -> np.ndarray:
    """MAE of each test fold of the split used by :func:`cv_predictions`."""
    folds = KFold(n_splits, shuffle=True, random_state=seed).split(y)
    return np.array([np.abs(predictions[test] - y[test]).mean() for _, test in folds])


def repeated_cv_mae(make_model, X: Any, y: np.ndarray, seeds: Sequence[int] = (0, 1, 2),
                    n_splits: int = 5) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Fold MAEs over several seeds (seed sets both the split and the head's init).

    Parameters
    ----------
    make_model : callable(seed) -> estimator
    X : array-like
    y : ndarray
    seeds : sequence of int
    n_splits : int

    Returns
    -------
    maes : ndarray (len(seeds) * n_splits,)
    predictions : dict seed -> out-of-fold predictions
    """
    maes, predictions = [], {}
    for seed in seeds:
        predictions[seed] = cv_predictions(make_model(seed), X, y, seed, n_splits)
        maes.append(fold_maes(predictions[seed], y, seed, n_splits))
    return np.concatenate(maes), predictions
