"""Quickstart: featurize compositions with the shipped PolySRL model.

Runs with no data: featurizes an embedded list of formulas and prints the
uncertainty of each (higher = more polymorphic / less certain). If the
experimental band-gap file is available (``--data`` or ``$POLYSRL_DATA_DIR``),
it also runs a 5-fold cross-validated PolySRL + MLP pipeline on it.

    python examples/quickstart.py [--data PATH/TO/expt-non-metals.csv]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from sklearn.model_selection import KFold, cross_val_score
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from polysrl_sklearn import PolySRLFeaturizer
from polysrl_sklearn.datasets import BAND_GAP_FILE, resolve_data_dir

EMBEDDED_FORMULAS = ["SiO2", "TiO2", "ZnS", "C", "Al2O3", "NaCl", "MgO", "GaAs", "Bi2Te3",
                     "Hg0.7Cd0.3Te", "Bi0.5Sb1.5Te3", "SrTiO3", "Fe2O3", "Fe4O6"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None)
    args = parser.parse_args()

    featurizer = PolySRLFeaturizer().set_output(transform="pandas")
    table = featurizer.fit_transform(pd.Series(EMBEDDED_FORMULAS, name="composition"))
    table.index = EMBEDDED_FORMULAS
    print(f"{table.shape[1] - 1} mean features + 1 uncertainty column per composition")
    print(table[["polysrl_0", "polysrl_1", "polysrl_uncertainty"]].to_string(float_format=lambda v: f"{v:.4g}"))

    data = args.data or resolve_data_dir() / BAND_GAP_FILE
    if not Path(data).is_file():
        print(f"\n(no band-gap file at {data}; skipping the cross-validation demo)")
        return
    frame = pd.read_csv(data).groupby("composition", as_index=False)["Eg"].mean()
    pipe = Pipeline([("polysrl", PolySRLFeaturizer()), ("scale", StandardScaler()),
                     ("mlp", MLPRegressor(hidden_layer_sizes=(256, 256), max_iter=300, early_stopping=True,
                                          random_state=0))])
    scores = -cross_val_score(pipe, frame["composition"], frame["Eg"], cv=KFold(5, shuffle=True, random_state=0),
                              scoring="neg_mean_absolute_error")
    print(f"\nexperimental band gap ({len(frame)} formulas), 5-fold MAE: {scores.mean():.3f} +- {scores.std():.3f} eV")


if __name__ == "__main__":
    main()
