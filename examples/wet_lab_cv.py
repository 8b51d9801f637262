"""5-fold cross-validation of PolySRL features + an MLP on a wet-lab task.

    python examples/wet_lab_cv.py --task band_gap [--data-dir DIR] [--max-iter 300]

Tasks: band_gap, formation_enthalpy, metallic, estm300_ec, estm300_tc, estm300_seebeck,
estm600_ec, estm600_tc, estm600_seebeck (needs the shared data folder or $POLYSRL_DATA_DIR).
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.model_selection import KFold, cross_val_score
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from polysrl_sklearn import PolySRLFeaturizer
from polysrl_sklearn.datasets import MAE_SCALE, TASKS


def main(argv: list[str] | None = None) -> np.ndarray:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="band_gap", choices=sorted(TASKS))
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--max-iter", type=int, default=300)
    args = parser.parse_args(argv)
    frame = TASKS[args.task](data_dir=args.data_dir)
    pipe = Pipeline([
        ("polysrl", PolySRLFeaturizer()),  # shipped weights: fit() only loads them, no label is used
        ("scale", StandardScaler()),
        ("mlp", MLPRegressor(hidden_layer_sizes=(256, 256), max_iter=args.max_iter, random_state=0)),
    ])
    maes = -cross_val_score(pipe, frame["composition"], frame["target"],
                            cv=KFold(5, shuffle=True, random_state=0), scoring="neg_mean_absolute_error")
    scale = MAE_SCALE[args.task]
    unit = " (x10, as in the paper)" if scale != 1 else ""
    print(f"{args.task}: {len(frame)} compositions, 5-fold MAE{unit} = "
          f"{scale * maes.mean():.3f} +- {scale * maes.std():.3f}")
    return maes


if __name__ == "__main__":
    main()
