"""Quickstart: featurize compositions with the shipped PolySRL model.

Runs with no data: featurizes an embedded list of formulas and prints the
uncertainty of each (higher = more polymorphic / less certain). If the
shared data folder is available (``--data-dir`` or ``$POLYSRL_DATA_DIR``), it
also cross-validates the frozen features on the 2,482 experimental band gaps
with the paper's evaluation head: seed 0 of ``polysrl benchmark --tasks band_gap
--methods polysrl_chgnet_mt_elements_error --head paper`` (the same five folds, so the same MAE; the
table in docs/benchmarks.md averages seeds 0, 1 and 2).

    python examples/quickstart.py [--data-dir PATH/TO/shared/data]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from sklearn.model_selection import KFold, cross_val_score

from polysrl_sklearn import PolySRLFeaturizer, PolySRLRegressor
from polysrl_sklearn.datasets import BAND_GAP_FILE, load_band_gap, resolve_data_dir
from polysrl_sklearn.evaluation import PAPER_HEAD_LEARNING_RATES

EMBEDDED_FORMULAS = ["SiO2", "TiO2", "ZnS", "C", "Al2O3", "NaCl", "MgO", "GaAs", "Bi2Te3",
                     "Hg0.7Cd0.3Te", "Bi0.5Sb1.5Te3", "SrTiO3", "Fe2O3", "Fe4O6"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=None, help="the shared data folder")
    args = parser.parse_args()

    featurizer = PolySRLFeaturizer().set_output(transform="pandas")
    table = featurizer.fit_transform(pd.Series(EMBEDDED_FORMULAS, name="composition"))
    table.index = EMBEDDED_FORMULAS
    print(f"{table.shape[1] - 1} mean features + 1 uncertainty column per composition")
    print(table[["polysrl_0", "polysrl_1", "polysrl_uncertainty"]].to_string(float_format=lambda v: f"{v:.4g}"))

    data_dir = resolve_data_dir(args.data_dir)
    if not (data_dir / BAND_GAP_FILE).is_file():
        print(f"\n(no band-gap file at {data_dir / BAND_GAP_FILE}; skipping the cross-validation demo)")
        return
    frame = load_band_gap(data_dir)
    # frozen shipped encoder (its weights are loaded, never trained on these labels) + the paper's head
    model = PolySRLRegressor(finetune=False, learning_rates=PAPER_HEAD_LEARNING_RATES, random_state=0)
    scores = -cross_val_score(model, frame["composition"], frame["target"], cv=KFold(5, shuffle=True, random_state=0),
                              scoring="neg_mean_absolute_error")
    print(f"\nexperimental band gap ({len(frame)} formulas), frozen features + the paper's head, seed 0, "
          f"5-fold MAE: {scores.mean():.3f} +- {scores.std():.3f} eV")


if __name__ == "__main__":
    main()
