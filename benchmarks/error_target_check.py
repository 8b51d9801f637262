"""Would an uncertainty that also learns the property head's own errors rank band-gap errors better?

A check on validation data, before a stage is trained (as ``anchor_check.py`` was for the
variance anchor). The default model's first stage was pretrained with a linear MP DFT band-gap
head on its mean vectors. On the pretraining formulas that have an MP band gap, that head's
squared error is known; a variance stage could pull each formula's log-variance towards it (plus
the anchor). The shipped file keeps only the stoichiometry encoder, so the head is refitted here:
a least-squares linear head on the pretraining formulas' mean vectors. This script then imitates
such a stage without training one: a gradient-boosted regressor, fitted on the same mean vectors,
predicts the head's log squared error, and its prediction ``g`` for the held-out formulas is
added to the shipped column,
``log u + s * (g - mean g)``. Measured on the held-out MP formulas only (validation data): the
polymorph AUROC, the mixture AUROC and Spearman's rho between the column and the absolute
out-of-fold error of the held-out MP band gap under the paper's head (``mp_gap_spearman``).
No wet-lab task is read.

Usage::

    python benchmarks/error_target_check.py [--first polysrl_chgnet_mt] \
        [--stage polysrl_chgnet_mt_anchored] [--scales 0 0.25 0.5 1 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.stats import spearmanr
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression

from polysrl_sklearn.datasets import load_mp_dft_band_gap, mp_polymorph_counts
from polysrl_sklearn.model_cache import cached_featurizer
from polysrl_sklearn.validation import column_table, held_out_mixtures, held_out_mp_gap_errors, scaled_sums

#: Added to the squared error before its log, so that a near-exact prediction stays finite (eV^2).
ERROR_FLOOR = 1e-4


def log_squared_error(head: LinearRegression, means: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``log((head(mean) - y)^2 + ERROR_FLOOR)``."""
    return np.log((head.predict(means) - targets) ** 2 + ERROR_FLOOR)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--first", default="polysrl_chgnet_mt",
                        help="first-stage model, with the band-gap head (default: %(default)s)")
    parser.add_argument("--stage", default="polysrl_chgnet_mt_anchored",
                        help="model with a variance stage, the same mean vectors (default: %(default)s)")
    parser.add_argument("--scales", type=float, nargs="+", default=[0.0, 0.25, 0.5, 1.0, 2.0])
    parser.add_argument("--data-dir", default=None, help="shared data folder (default: $POLYSRL_DATA_DIR)")
    args = parser.parse_args()

    started = time.perf_counter()
    formulas, mixtures, _ = held_out_mixtures(args.stage)
    held_out = set(formulas)
    corpus = mp_polymorph_counts(args.data_dir)
    counts = corpus.reindex(formulas).fillna(1).to_numpy()
    gaps = load_mp_dft_band_gap(args.data_dir).set_index("composition")["target"]
    train = [f for f in gaps.index if f in corpus.index and f not in held_out]
    first, stage = cached_featurizer(args.first), cached_featurizer(args.stage)

    train_means, train_gaps = first.transform(train)[:, :-1], gaps.loc[train].to_numpy()
    head = LinearRegression().fit(train_means, train_gaps)
    train_error = log_squared_error(head, train_means, train_gaps)
    regressor = HistGradientBoostingRegressor(max_iter=300, random_state=0).fit(train_means, train_error)
    predicted = regressor.predict(first.transform(formulas)[:, :-1])
    predicted_mixed = regressor.predict(first.transform(mixtures)[:, :-1])

    log_stage = np.log(stage.transform(formulas)[:, -1])
    log_stage_mixed = np.log(stage.transform(mixtures)[:, -1])
    gap_formulas, _, _, errors = held_out_mp_gap_errors(args.first, args.data_dir)
    with_gap = np.isin(formulas, gap_formulas)
    held_error = log_squared_error(head, first.transform(gap_formulas)[:, :-1], gaps.loc[gap_formulas].to_numpy())

    print(f"{len(train)} pretraining formulas with an MP band gap (the regressor's data), "
          f"{len(formulas)} held-out formulas ({(counts >= 2).mean():.1%} polymorphic), "
          f"{len(gap_formulas)} of them with an MP band gap")
    print(f"Spearman on the held-out formulas: predicted against actual head log squared error "
          f"{spearmanr(predicted[with_gap], held_error).statistic:.3f}; the head's absolute error against the "
          f"paper head's out-of-fold one {spearmanr(held_error, errors).statistic:.3f}; std of log u "
          f"{log_stage.std():.3f}, of the prediction {predicted.std():.3f}\n")
    rows = [("predicted head error alone", predicted, predicted_mixed)]
    rows += scaled_sums(args.stage, log_stage, log_stage_mixed, "predicted error", predicted, predicted_mixed,
                        args.scales)
    print(column_table(rows, counts >= 2, with_gap, errors))
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
