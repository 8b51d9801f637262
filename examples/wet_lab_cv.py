"""5-fold cross-validation of frozen PolySRL features on a wet-lab task, under one evaluation head.

    python examples/wet_lab_cv.py --task band_gap [--head paper|mlp|rf] [--model default] [--data-dir DIR]

This is seed 0 of the benchmark's protocol: it prints the same five fold MAEs as
``polysrl benchmark --tasks TASK --methods MODEL --head HEAD --seeds 0`` (whose tables in
docs/benchmarks.md average seeds 0, 1 and 2). Heads: ``paper`` = the paper's three-layer
LeakyReLU MLP on L1 loss, lr 1e-3, 300 epochs, on the frozen mean vectors
(``PolySRLRegressor(finetune=False)``); ``mlp`` = sklearn's MLPRegressor on the featurizer's
output; ``rf`` = a 500-tree random forest on it.

Tasks: band_gap, formation_enthalpy, metallic, estm300_ec, estm300_tc, estm300_seebeck,
estm600_ec, estm600_tc, estm600_seebeck (needs the shared data folder or $POLYSRL_DATA_DIR).
"""

from __future__ import annotations

import argparse

import numpy as np

from polysrl_sklearn.benchmark import frozen_model
from polysrl_sklearn.datasets import MAE_SCALE, TASKS
from polysrl_sklearn.evaluation import HEADS, cv_predictions, fold_maes


def main(argv: list[str] | None = None) -> np.ndarray:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="band_gap", choices=sorted(TASKS))
    parser.add_argument("--head", default="paper", choices=HEADS)
    parser.add_argument("--model", default="default",
                        help="a shipped model name (default: polysrl_chgnet_mt_elements_error), rand_init, or a checkpoint path")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    frame = TASKS[args.task](data_dir=args.data_dir)
    X, y = np.asarray(frame["composition"], dtype=object), frame["target"].to_numpy(dtype=np.float64)
    # the shipped weights are loaded, never trained on these labels; only the head sees them
    maes = fold_maes(cv_predictions(frozen_model(args.model, args.head, seed=0), X, y, seed=0), y, seed=0)
    scale = MAE_SCALE[args.task]
    unit = " (x10, as in the paper)" if scale != 1 else ""
    print(f"{args.task}: {len(frame)} compositions, {args.model} features, {args.head} head, seed 0, "
          f"5-fold MAE{unit} = {scale * maes.mean():.3f} +- {scale * maes.std():.3f}")
    return maes


if __name__ == "__main__":
    main()
