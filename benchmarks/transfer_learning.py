"""Transfer learning (paper Table 2): fine-tune encoder + MLP head under 5-fold CV.

The learning rate of each fold is chosen on an inner 20 % validation split of
that fold's training data (PolySRLRegressor), never on the test fold.

    python benchmarks/transfer_learning.py --tasks band_gap metallic --methods polysrl rand_init \
        [--seeds 0] [--epochs 300] [--csv out.csv] [--data-dir DIR]
    python benchmarks/transfer_learning.py --table-from out.csv   # re-print a saved run's table

A GPU is strongly recommended (each fold trains len(learning_rates) + 1 networks).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from polysrl_sklearn.benchmark import PAPER_POLYSRL_TL, format_table, transfer_maes
from polysrl_sklearn.datasets import MAE_SCALE, TASKS


def markdown(results: pd.DataFrame) -> str:
    """Tasks x methods table of fine-tuned MAE mean (std), with the paper's Table 2 PolySRL row."""
    return format_table(results.assign(method=results["method"] + "+TL"), PAPER_POLYSRL_TL,
                        "paper PolySRL+TL")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS))
    parser.add_argument("--methods", nargs="+", default=["polysrl", "rand_init"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--csv", default=None)
    parser.add_argument("--table-from", default=None, help="only print the table of a CSV written by --csv")
    args = parser.parse_args()
    if args.table_from:
        print(markdown(pd.read_csv(args.table_from)))
        return
    rows = []
    for task in args.tasks:
        frame = TASKS[task](data_dir=args.data_dir)
        X, y = np.asarray(frame["composition"], dtype=object), frame["target"].to_numpy(dtype=np.float64)
        for method in args.methods:
            started = time.time()
            maes, _ = transfer_maes(method, X, y, args.seeds, args.epochs, args.device)
            scaled = maes * MAE_SCALE[task]
            rows.append({"task": task, "method": method, "mae_mean": scaled.mean(), "mae_std": scaled.std(),
                         "n": len(y), "seeds": len(args.seeds), "epochs": args.epochs,
                         "seconds": time.time() - started})
            print(f"{task:<20} {method:<10} TL MAE {scaled.mean():.3f} ({scaled.std():.3f}) "
                  f"{rows[-1]['seconds']:.0f}s", flush=True)
    results = pd.DataFrame(rows)
    print(markdown(results))
    if args.csv:
        results.to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
