"""The representation study: validation measures of candidate models and the pre-registered selection.

Every candidate is a model file written by ``polysrl pretrain --export`` (it stores
its held-out MP formulas). For each one this prints and saves (``--csv``) the
validation measures of :mod:`polysrl_sklearn.validation` and the selection score,
then applies the selection rule fixed in docs/pretraining.md ("Representation
study"). It never touches a wet-lab task.

Usage::

    python benchmarks/representation_study.py --models C1=runs/c1.pt C2=runs/c2.pt ... \\
        --data-dir ../shared/data --csv docs/results/study.csv
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from polysrl_sklearn.validation import (
    MATBENCH_VALIDATION_TASKS,
    forest_score,
    held_out_measures,
    held_out_mixture_measures,
    held_out_mp_gap_mae,
    matbench_validation_maes,
    select,
    study_score,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", required=True, metavar="NAME=PATH")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--csv", default=None, help="write (and extend) the study table here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--forest", action="store_true",
                        help="also the Matbench validation tasks under the random forest, and their score "
                             "(forest_score; amendment 16)")
    args = parser.parse_args()
    done = pd.read_csv(args.csv) if args.csv and pd.io.common.file_exists(args.csv) else pd.DataFrame()
    rows = done.to_dict("records")
    magpie_maes: dict[str, float] = {}
    forest_magpie_maes: dict[str, float] = {}
    magpie_cache: dict = {}
    for item in args.models:
        name, path = item.split("=", 1)
        if any(r["candidate"] == name for r in rows):
            print(f"{name}: already in {args.csv}", flush=True)
            continue
        started = time.time()
        row = {"candidate": name, "model": path}
        row.update(held_out_measures(path, args.data_dir))
        row.update(held_out_mixture_measures(path, args.seed))
        row.update(held_out_mp_gap_mae(path, args.data_dir, args.seed, magpie_cache))
        row.update(matbench_validation_maes(path, args.data_dir, seed=args.seed, magpie_maes=magpie_maes))
        row["score"] = study_score(row)
        if args.forest:
            row.update(matbench_validation_maes(path, args.data_dir, seed=args.seed, magpie_maes=forest_magpie_maes,
                                                head="rf"))
            row["forest_score"] = forest_score(row)
        row["seconds"] = time.time() - started
        rows.append(row)
        print(f"{name}: score {row['score']:.4f} AUROC {row['auroc']:.3f} rank {row['effective_rank']:.1f}/"
              f"{row['width']} ({row['seconds']:.0f} s)", flush=True)
        if args.csv:
            pd.DataFrame(rows).to_csv(args.csv, index=False)
    table = pd.DataFrame(rows)
    columns = ["candidate", "width", "auroc", "mixture_auroc", "effective_rank", "median_over_floor",
               "mp_gap_spearman", "mp_gap_mae",
               *[f"{t}_mae" for t in MATBENCH_VALIDATION_TASKS], "score",
               *([f"rf_{t}_mae" for t in MATBENCH_VALIDATION_TASKS] + ["forest_score"] if args.forest else [])]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for _, r in table.iterrows():
        print("| " + " | ".join(f"{r[c]:.4g}" if isinstance(r[c], float) else str(r[c]) for c in columns) + " |")
    reference = table.iloc[0]
    print("| Magpie (paper head) | | | | | " + f"{reference['mp_gap_magpie_mae']:.4g} | " +
          " | ".join(f"{reference[f'{t}_magpie_mae']:.4g}" for t in MATBENCH_VALIDATION_TASKS) + " | 1 |" +
          ("".join(f" {reference[f'rf_{t}_magpie_mae']:.4g} |" for t in MATBENCH_VALIDATION_TASKS) + " 1 |"
           if args.forest else ""))
    print(f"selected: {select(table)}")


if __name__ == "__main__":
    main()
