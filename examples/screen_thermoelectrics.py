"""Screen thermoelectric candidates by predicted ZT, with the PolySRL uncertainty.

Trains three PolySRL + MLP pipelines on the ESTM data at one temperature
(log electrical conductivity, log thermal conductivity, scaled Seebeck), predicts
them for candidate compositions (a Bi2-xSbxTe3-ySey grid by default, or a file
with one formula per line), computes ZT = S^2 sigma T / kappa, and ranks the
candidates, flagging those whose uncertainty is above the training set's 90th
percentile. The default model's uncertainty follows how polymorphic a composition
is (docs/benchmarks.md, "Uncertainty analysis"): a flagged candidate is one whose
structure, and so its measured properties, depends most on the phase that forms;
it does not flag compositions far from the training data.

    python examples/screen_thermoelectrics.py [--temperature 300] [--candidates FILE] [--top 15]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.frozen import FrozenEstimator
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from polysrl_sklearn import PolySRLFeaturizer
from polysrl_sklearn.datasets import load_estm, seebeck_from_scaled, thermoelectric_zt

TARGETS = ("electrical_conductivity", "thermal_conductivity", "seebeck")


def formula(amounts: dict[str, float]) -> str:
    """Formula string of the non-zero amounts."""
    return "".join(f"{el}{amount:g}" for el, amount in amounts.items() if amount > 1e-9)


def default_candidates() -> list[str]:
    """A Bi(2-x)Sb(x)Te(3-y)Se(y) grid: x in 0..2 by 0.25, y in 0..1.5 by 0.5."""
    return [formula({"Bi": 2 - x, "Sb": x, "Te": 3 - y, "Se": y})
            for x in np.arange(0.0, 2.01, 0.25) for y in np.arange(0.0, 1.51, 0.5)]


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--temperature", type=int, default=300, choices=(300, 600))
    parser.add_argument("--candidates", type=Path, default=None, help="file with one formula per line")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--max-iter", type=int, default=300)
    args = parser.parse_args(argv)
    candidates = (args.candidates.read_text().split() if args.candidates else default_candidates())
    featurizer = PolySRLFeaturizer().fit(candidates)
    predictions, train_uncertainty = {}, None
    for target in TARGETS:
        frame = load_estm(args.temperature, target, data_dir=args.data_dir)
        pipe = Pipeline([("polysrl", FrozenEstimator(featurizer)), ("scale", StandardScaler()),
                         ("mlp", MLPRegressor(hidden_layer_sizes=(256, 256), max_iter=args.max_iter,
                                              random_state=0))])
        pipe.fit(frame["composition"], frame["target"])
        predictions[target] = pipe.predict(candidates)
        if target == "seebeck":
            predictions[target] = seebeck_from_scaled(predictions[target], frame.attrs)
        train_uncertainty = featurizer.transform(frame["composition"].tolist())[:, -1]
    sigma, kappa = np.exp(predictions["electrical_conductivity"]), np.exp(predictions["thermal_conductivity"])
    uncertainty = featurizer.transform(candidates)[:, -1]
    table = pd.DataFrame({
        "composition": candidates,
        "seebeck_uV_per_K": predictions["seebeck"],
        "sigma_S_per_m": sigma,
        "kappa_W_per_mK": kappa,
        "ZT": thermoelectric_zt(predictions["seebeck"], sigma, kappa, args.temperature),
        "uncertainty": uncertainty,
        "uncertain": uncertainty > np.quantile(train_uncertainty, 0.9),
    }).sort_values("ZT", ascending=False, ignore_index=True)
    print(f"top {args.top} of {len(table)} candidates by predicted ZT at {args.temperature} K")
    print(table.head(args.top).to_string(float_format=lambda v: f"{v:.3g}"))
    return table


if __name__ == "__main__":
    main()
