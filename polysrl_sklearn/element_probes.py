"""Magpie's composition statistics: linear probes of a representation, and reconstruction targets.

A frozen representation is judged against Magpie, whose features are statistics of
elemental properties over a composition. The stoichiometry encoder reads those same
elements (matscholar embeddings, Magpie's elemental properties, or both), and a
contrastive objective may compress part of that chemistry away. A linear probe asks
how much is left: a ridge regression from the representation's mean vectors to each
of Magpie's 22 elemental properties pooled over the composition by each of Magpie's six
statistics (minimum, maximum, range, fraction-weighted mean, average deviation, mode: the
132 features of matminer's :class:`~matminer.featurizers.composition.ElementProperty`
``"magpie"`` preset), scored by its out-of-fold R². An R² near 1 means the property is
linearly readable from the features; the shortfall is chemistry the representation has
lost or folded into directions a linear model cannot read.

This is a diagnostic on validation formulas (``benchmarks/element_probe.py`` runs it on
the MP formulas held out of pretraining); it is not a selection measure of the
representation study. The same 132 statistics, standardised over the pretraining formulas
(:func:`standardised_element_statistics`), are the targets of the ``element_statistics``
pretraining lever: an auxiliary linear head that reconstructs them from the mean vector, so that
the contrastive objective cannot trade the input's chemistry away
(:func:`polysrl_sklearn.auxiliary_terms.add_element_statistics_term`).

Examples
--------
>>> from polysrl_sklearn.element_probes import element_property_targets, linear_probe_r2
>>> targets = element_property_targets(["NaCl", "KBr", "MgO", "Fe2O3"], statistics=("mean",))
>>> targets.shape
(4, 22)
>>> round(float(targets.loc["Fe2O3", "MagpieData mean Number"]), 2)  # (2 x 26 + 3 x 8) / 5
15.2
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

if TYPE_CHECKING:
    from matminer.featurizers.composition import ElementProperty

#: The composition statistics probed by default: all six of Magpie's, in its order.
PROBE_STATISTICS: tuple[str, ...] = ("minimum", "maximum", "range", "mean", "avg_dev", "mode")
#: Number of Magpie statistics (22 elemental properties x 6 statistics): the reconstruction head's width.
ELEMENT_STATISTICS_COUNT = 22 * len(PROBE_STATISTICS)
#: Ridge penalties searched (by efficient leave-one-out, one per target) inside each fold.
RIDGE_ALPHAS: np.ndarray = np.logspace(-3, 3, 13)


def element_property_targets(formulas: Sequence[str], statistics: Sequence[str] = PROBE_STATISTICS
                             ) -> pd.DataFrame:
    """Magpie's elemental properties pooled over each formula by matminer's ``ElementProperty``.

    Parameters
    ----------
    formulas : sequence of str
        Formulas pymatgen can parse.
    statistics : sequence of str, default=PROBE_STATISTICS
        matminer statistics (``"minimum"``, ``"maximum"``, ``"range"``, ``"mean"``,
        ``"avg_dev"``, ``"mode"``).

    Returns
    -------
    pandas.DataFrame
        One row per formula (index: the formulas), one column per property and statistic,
        named as matminer names them (``"MagpieData mean Electronegativity"``).

    Raises
    ------
    ValueError
        Naming the first formula that pymatgen cannot parse or that has an element without
        Magpie data.
    """
    from pymatgen.core import Composition

    featurizer = _magpie_statistics_featurizer(statistics)
    rows = []
    for position, formula in enumerate(formulas):
        try:
            rows.append(featurizer.featurize(Composition(formula)))
        except Exception as error:  # pymatgen and matminer raise several types for a bad formula
            raise ValueError(f"formula {formula!r} (at position {position}) cannot be featurized: "
                             f"{type(error).__name__}: {error}") from error
    return pd.DataFrame(rows, index=list(formulas), columns=featurizer.feature_labels(), dtype=np.float64)


def linear_probe_r2(features: np.ndarray, targets: pd.DataFrame, folds: int = 5, seed: int = 0) -> pd.Series:
    """Out-of-fold R² of a ridge regression from ``features`` to each column of ``targets``.

    Parameters
    ----------
    features : ndarray of shape (n_formulas, n_features)
        The representation (e.g. mean vectors, without the uncertainty column).
    targets : pandas.DataFrame of shape (n_formulas, n_targets)
        What to read from it, e.g. :func:`element_property_targets`. Rows with a missing value
        in any column are refused, not dropped.
    folds : int, default=5
        Folds of the shuffled K-fold split.
    seed : int, default=0
        Seed of the split.

    Returns
    -------
    pandas.Series
        R² of each target column (index: the column names), from the out-of-fold predictions of
        standardised features -> ``RidgeCV`` with one penalty per target.

    Raises
    ------
    ValueError
        If the lengths differ or a target value is missing (naming the row and column).
    """
    features = np.asarray(features, dtype=np.float64)
    if len(features) != len(targets):
        raise ValueError(f"{len(features)} feature rows but {len(targets)} target rows")
    missing = targets.isna().to_numpy()
    if missing.any():
        row, column = map(int, np.argwhere(missing)[0])
        raise ValueError(f"target {targets.columns[column]!r} is missing for row {targets.index[row]!r}")
    probe = make_pipeline(StandardScaler(), RidgeCV(alphas=RIDGE_ALPHAS, alpha_per_target=True))
    split = KFold(n_splits=folds, shuffle=True, random_state=seed)
    predicted = cross_val_predict(probe, features, targets.to_numpy(), cv=split)
    return pd.Series(r2_score(targets.to_numpy(), predicted, multioutput="raw_values"), index=targets.columns)


def _magpie_statistics_featurizer(statistics: Sequence[str] = PROBE_STATISTICS) -> ElementProperty:
    """matminer's ``ElementProperty`` with Magpie's 22 elemental properties under ``statistics``."""
    from matminer.featurizers.composition import ElementProperty

    preset = ElementProperty.from_preset("magpie")
    return ElementProperty("magpie", preset.features, list(statistics), impute_nan=True)


@functools.lru_cache(maxsize=1)
def element_statistics_labels() -> tuple[str, ...]:
    """matminer's names of the 132 Magpie statistics, in the order of :func:`standardised_element_statistics`.

    Computed once per process (matminer's preset takes about 50 ms to build, and
    ``get_feature_names_out`` of a coordinates-head model asks on every pandas-output transform).

    Returns
    -------
    tuple of str
        ``"MagpieData minimum Number"``, ...: the 22 elemental properties under each of
        :data:`PROBE_STATISTICS`, as ``ElementProperty.feature_labels`` orders them.
    """
    return tuple(_magpie_statistics_featurizer().feature_labels())


def standardised_element_statistics(formulas: Sequence[str], cache_dir: str | os.PathLike | None = None,
                                    verbose: bool = False) -> np.ndarray:
    """The 132 Magpie statistics of ``formulas``, each column centred and scaled to unit variance over them.

    A column that is constant over ``formulas`` becomes zeros. These are the targets of the
    ``element_statistics`` reconstruction head.

    Parameters
    ----------
    formulas : sequence of str
        The pretraining formulas.
    cache_dir : path, optional
        Keep the raw statistics (about 100 s of matminer for MP's 94k formulas) in a chunked,
        resumable cache there (:func:`polysrl_sklearn.vector_cache.cached_vectors`), keyed by
        the formulas and matminer's version, so that a resumed run, another candidate on the
        same corpus or another rank reads them instead of recomputing them. ``None``: compute
        in memory.
    verbose : bool, default=False
        Show the cache's progress bar.

    Returns
    -------
    ndarray of shape (n_formulas, ELEMENT_STATISTICS_COUNT), float32
    """
    from importlib.metadata import version

    from .vector_cache import cache_key, cached_vectors

    formulas = list(formulas)
    key = cache_key("magpie-element-statistics", version("matminer"), *PROBE_STATISTICS, *formulas)

    def compute(ids: np.ndarray) -> np.ndarray:
        return element_property_targets([formulas[i] for i in ids]).to_numpy(dtype=np.float64)

    raw = cached_vectors(compute, len(formulas), cache_dir, key, chunk_size=8192, verbose=verbose,
                         description="Magpie statistics")
    return StandardScaler().fit_transform(raw.astype(np.float64)).astype(np.float32)
