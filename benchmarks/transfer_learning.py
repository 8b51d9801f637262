"""Transfer learning (paper Table 2): fine-tune encoder + MLP head under 5-fold CV.

The learning rate of each fold is chosen on an inner 20 % validation split of
that fold's training data (PolySRLRegressor), never on the test fold.

    python benchmarks/transfer_learning.py --tasks band_gap metallic --methods polysrl rand_init \
        [--seeds 0] [--epochs 300] [--csv out.csv] [--data-dir DIR]
    python benchmarks/transfer_learning.py --table-from out.csv   # re-print a saved run's table
    python benchmarks/transfer_learning.py --table-from seed0.csv seed1.csv   # pool runs of other seeds
    python benchmarks/transfer_learning.py --table-from old.csv --replace-with rerun.csv   # rerun's rows win

With the three ESTM targets of a temperature, a ``zt300``/``zt600`` row gives the MAE of
ZT computed from the fine-tuned predictions. A GPU is strongly recommended (each fold
trains len(learning_rates) + 1 networks).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from polysrl_sklearn.benchmark import PAPER_POLYSRL_TL, combine_runs, format_table, run_benchmark
from polysrl_sklearn.datasets import TASKS


def with_tl_suffix(results: pd.DataFrame) -> pd.DataFrame:
    """Method names with a ``+TL`` suffix where they lack one (CSVs of older runs)."""
    methods = results["method"].where(results["method"].str.endswith("+TL"), results["method"] + "+TL")
    return results.assign(method=methods)


def markdown(results: pd.DataFrame) -> str:
    """Tasks x methods table of fine-tuned MAE mean (std), with the paper's Table 2 PolySRL row."""
    return format_table(with_tl_suffix(results), PAPER_POLYSRL_TL, "paper PolySRL+TL")


def pool_runs(runs: list[pd.DataFrame]) -> pd.DataFrame:
    """Merge saved runs made with different seeds into one row per (task, method).

    Every seed contributes the same 5 folds, so the pooled mean is the seed-weighted
    mean and the pooled (population) std follows from each run's mean and std exactly.
    A ZT row has no fold std; its pooled value is the seed-weighted mean.

    Raises
    ------
    ValueError
        If two runs of one (task, method) share a seed (column ``seed_ids``).
    """
    frame = with_tl_suffix(pd.concat(runs, ignore_index=True))
    weight = frame["seeds"].fillna(1) if "seeds" in frame else pd.Series(1, index=frame.index)
    frame = frame.assign(weight=weight, second_moment=frame["mae_std"] ** 2 + frame["mae_mean"] ** 2)
    rows = []
    for (task, method), group in frame.groupby(["task", "method"], sort=False):
        if "seed_ids" in group:
            ids = [int(i) for text in group["seed_ids"].dropna() for i in str(text).split()]
            if len(ids) != len(set(ids)):
                raise ValueError(f"runs of {task} / {method} share a seed ({sorted(ids)}); pool distinct seeds only")
        w = group["weight"] / group["weight"].sum()
        mean = float((w * group["mae_mean"]).sum())
        std = float(np.sqrt(max((w * group["second_moment"]).sum() - mean ** 2, 0.0)))
        rows.append({"task": task, "method": method, "mae_mean": mean,
                     "mae_std": np.nan if group["mae_std"].isna().any() else std,
                     "seeds": int(group["weight"].sum())})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS))
    parser.add_argument("--methods", nargs="+", default=["polysrl", "rand_init"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--csv", default=None)
    parser.add_argument("--table-from", nargs="+", default=None,
                        help="only print the table of CSVs written by --csv (runs of other seeds are pooled)")
    parser.add_argument("--replace-with", nargs="+", default=None, metavar="CSV",
                        help="with --table-from: these runs (pooled) replace the (task, method) rows they share "
                             "with it, e.g. a method re-run after its model changed")
    args = parser.parse_args()
    if args.replace_with and not args.table_from:
        parser.error("--replace-with needs --table-from")
    if args.table_from:
        results = pool_runs([pd.read_csv(path) for path in args.table_from])
        if args.replace_with:
            results = combine_runs([results, pool_runs([pd.read_csv(path) for path in args.replace_with])])
        print(markdown(results))
        return
    results = run_benchmark(args.tasks, args.methods, args.seeds, args.data_dir,
                            log=lambda line: print(line, flush=True), transfer=True,
                            transfer_epochs=args.epochs, device=args.device, representation=False)
    results = results.assign(seeds=len(args.seeds), seed_ids=" ".join(map(str, args.seeds)), epochs=args.epochs)
    print(markdown(results))
    if args.csv:
        results.to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
