"""Transfer learning (paper Table 2): fine-tune encoder + MLP head under 5-fold CV.

The learning rate of each fold is chosen on an inner 20 % validation split of
that fold's training data (PolySRLRegressor), never on the test fold.

    python benchmarks/transfer_learning.py --tasks band_gap metallic --methods polysrl rand_init \
        [--seeds 0] [--epochs 300] [--csv out.csv] [--data-dir DIR]
    python benchmarks/transfer_learning.py --table-from out.csv   # re-print a saved run's table

With the three ESTM targets of a temperature, a ``zt300``/``zt600`` row gives the MAE of
ZT computed from the fine-tuned predictions. A GPU is strongly recommended (each fold
trains len(learning_rates) + 1 networks).
"""

from __future__ import annotations

import argparse

import pandas as pd

from polysrl_sklearn.benchmark import PAPER_POLYSRL_TL, format_table, run_benchmark
from polysrl_sklearn.datasets import TASKS


def markdown(results: pd.DataFrame) -> str:
    """Tasks x methods table of fine-tuned MAE mean (std), with the paper's Table 2 PolySRL row.

    Method names get a ``+TL`` suffix where they lack one (CSVs of older runs).
    """
    methods = results["method"].where(results["method"].str.endswith("+TL"), results["method"] + "+TL")
    return format_table(results.assign(method=methods), PAPER_POLYSRL_TL, "paper PolySRL+TL")


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
    results = run_benchmark(args.tasks, args.methods, args.seeds, args.data_dir,
                            log=lambda line: print(line, flush=True), transfer=True,
                            transfer_epochs=args.epochs, device=args.device, representation=False)
    results = results.assign(seeds=len(args.seeds), epochs=args.epochs)
    print(markdown(results))
    if args.csv:
        results.to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
