"""Can one uncertainty column keep both signals? A check on validation data, before a stage is trained.

Every variance stage of the representation study so far replaced the first stage's
log-variance with a structure target (polymorph spread, count, mixtures), and each one
lowered how well the column ranks band-gap errors. This script asks, without training
anything, what a column that *adds* a structure signal to the first stage's log-variance
would give: for a scale s, the column ``exp(log u_stage + s * (log u_first - mean log u_first))``,
with ``u_first`` the uncertainty of a first-stage model and ``u_stage`` that of a model with
a variance stage (the same mean vectors). Measured on the held-out MP formulas of the models
(validation data only): the polymorph AUROC, the mixture AUROC (``validation.held_out_mixture_measures``'s
mixtures) and Spearman's rho between the column and the absolute out-of-fold error of the
held-out MP band gap under the paper's head (``mp_gap_spearman``).

Usage::

    python benchmarks/anchor_check.py [--first polysrl_chgnet_mt] [--stage polysrl_chgnet_mt_mixtures] \
        [--scales 0 0.5 1 2 4]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from polysrl_sklearn.datasets import mp_polymorph_counts
from polysrl_sklearn.model_cache import cached_featurizer
from polysrl_sklearn.validation import column_table, held_out_formulas, held_out_mixtures, held_out_mp_gap_errors, scaled_sums


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--first", default="polysrl_chgnet_mt", help="first-stage model (default: %(default)s)")
    parser.add_argument("--stage", default="polysrl_chgnet_mt_mixtures",
                        help="model with a variance stage, the same mean vectors (default: %(default)s)")
    parser.add_argument("--scales", type=float, nargs="+", default=[0.0, 0.5, 1.0, 2.0, 4.0])
    parser.add_argument("--data-dir", default=None, help="shared data folder (default: $POLYSRL_DATA_DIR)")
    args = parser.parse_args()

    started = time.perf_counter()
    formulas, mixtures, _ = held_out_mixtures(args.stage)
    if formulas != held_out_formulas(args.first):
        raise SystemExit("the two models hold out different formulas")
    counts = mp_polymorph_counts(args.data_dir).reindex(formulas).fillna(1).to_numpy()
    first, stage = cached_featurizer(args.first), cached_featurizer(args.stage)
    log_first = np.log(first.transform(formulas)[:, -1])
    log_stage = np.log(stage.transform(formulas)[:, -1])
    log_first_mixed = np.log(first.transform(mixtures)[:, -1])
    log_stage_mixed = np.log(stage.transform(mixtures)[:, -1])

    gap_formulas, _, _, errors = held_out_mp_gap_errors(args.first, args.data_dir)
    with_gap = np.isin(formulas, gap_formulas)

    print(f"{len(formulas)} held-out formulas ({(counts >= 2).mean():.1%} polymorphic), "
          f"{len(gap_formulas)} with an MP band gap; std of log u: first {log_first.std():.3f}, "
          f"stage {log_stage.std():.3f}\n")
    rows = [("first stage alone", log_first, log_first_mixed)]
    rows += scaled_sums("stage", log_stage, log_stage_mixed, "first", log_first, log_first_mixed, args.scales)
    print(column_table(rows, counts >= 2, with_gap, errors))
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
