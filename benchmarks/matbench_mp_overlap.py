"""How much of an encoder's score on the Matbench MP tasks comes from compositions its pretraining saw?

The Matbench MP tasks (``mp_gap``, ``mp_e_form``; seeded folds, see
:func:`polysrl_sklearn.datasets.load_matbench`) are Materials Project compositions, and so are
the pretraining formulas of every shipped model. The default's first stage was also trained
with an L1 head on the MP DFT band gaps of its pretraining formulas, and its structure side is
CHGNet, a model fitted to MP energies. Its frozen features may therefore carry a test
composition's label. This script splits each test fold into the compositions held out of the
model's pretraining (stored in its file) and the rest, and prints the MAE of each part for the
encoder and for Magpie on the same rows (Magpie saw nothing, so its two parts differ only by
how hard the compositions are).

Usage::

    python benchmarks/matbench_mp_overlap.py [--model default] [--tasks mp_gap mp_e_form] [--folds 0]
"""

from __future__ import annotations

import argparse

import numpy as np
from pymatgen.core import Composition

from polysrl_sklearn.benchmark import MAGPIE, matbench_fold_predictions
from polysrl_sklearn.validation import held_out_formulas


def reduced(formula: str) -> str:
    return Composition(formula).reduced_formula


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="shipped model name or model file (stores its held-out formulas)")
    parser.add_argument("--tasks", nargs="+", default=["mp_gap", "mp_e_form"])
    parser.add_argument("--folds", nargs="+", type=int, default=[0])
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    held = {reduced(f) for f in held_out_formulas(args.model)}
    print(f"{len(held)} formulas held out of {args.model}'s pretraining; paper head, seed 0, folds {args.folds}\n")
    print("| task | fold | method | MAE, all | MAE, held out of pretraining | MAE, the rest | held-out rows | rows |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for task in args.tasks:
        cache: dict[str, np.ndarray] = {}
        for fold in args.folds:
            for method in (MAGPIE, args.model):
                test, predictions = matbench_fold_predictions(task, method, fold, args.data_dir, magpie_cache=cache)
                errors = np.abs(predictions - test["target"].to_numpy())
                inside = np.array([reduced(c) in held for c in test["composition"]])
                print(f"| {task} | {fold} | {method} | {errors.mean():.4f} | {errors[inside].mean():.4f} | "
                      f"{errors[~inside].mean():.4f} | {inside.sum()} | {len(errors)} |", flush=True)


if __name__ == "__main__":
    main()
