"""Quality check of a pretrained PolySRL model (default: the shipped one).

1. Uncertainty on formulas held out of pretraining: formulas with >= 2 MP
   polymorphs vs single-structure formulas (means, AUROC, Mann-Whitney p).
2. Frozen features + an evaluation head (`--head`, default mlp), 5-fold CV over seeds, on the experimental band
   gaps (2,482 formulas): the model vs a random-init encoder of the same
   architecture vs matminer Magpie features.

Usage::

    python benchmarks/pretraining_quality.py [--model PATH [PATH ...]] [--data-dir DIR] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.stats import mannwhitneyu
from sklearn.metrics import roc_auc_score

from polysrl_sklearn.benchmark import representation_maes
from polysrl_sklearn.datasets import load_band_gap, mp_polymorph_counts
from polysrl_sklearn.evaluation import HEADS
from polysrl_sklearn.featurizer import PolySRLFeaturizer, resolve_pretrained
from polysrl_sklearn.network import load_checkpoint


def uncertainty_check(model: str, data_dir: str | None) -> None:
    _, payload = load_checkpoint(resolve_pretrained(model))
    held_out = payload.get("held_out_formulas")
    if not held_out:
        raise SystemExit(f"{model} stores no held-out formulas")
    counts = mp_polymorph_counts(data_dir).reindex(held_out).fillna(0).astype(int)
    uncertainty = PolySRLFeaturizer(pretrained=model).fit([]).transform(held_out)[:, -1]
    poly = counts.to_numpy() >= 2
    stat = mannwhitneyu(uncertainty[poly], uncertainty[~poly], alternative="greater")
    print(f"held-out formulas: {len(held_out)} ({poly.sum()} with >= 2 polymorphs)")
    print("| group | formulas | mean uncertainty | median uncertainty |")
    print("|---|---:|---:|---:|")
    for name, mask in (("1 structure", ~poly), (">= 2 polymorphs", poly)):
        print(f"| {name} | {mask.sum()} | {uncertainty[mask].mean():.4g} | {np.median(uncertainty[mask]):.4g} |")
    print(f"ratio of means (>=2 / 1): {uncertainty[poly].mean() / uncertainty[~poly].mean():.3f}; "
          f"AUROC(uncertainty -> >=2 polymorphs) = {roc_auc_score(poly, uncertainty):.3f}; "
          f"Mann-Whitney one-sided p = {stat.pvalue:.2g}")


def band_gap_check(models: list[str], data_dir: str | None, seeds: list[int], head: str) -> None:
    frame = load_band_gap(data_dir)
    X, y = frame["composition"].tolist(), frame["target"].to_numpy()
    print(f"\nexperimental band gap ({len(y)} formulas), frozen features + the {head!r} head "
          f"(polysrl benchmark --head), 5-fold CV x seeds {seeds}: MAE in eV")
    print("| features | MAE mean | MAE std | vs Magpie |")
    print("|---|---:|---:|---:|")
    magpie = representation_maes("magpie", X, y, seeds, head=head)[0]  # first: every row's ratio needs it

    def print_row(label: str, maes: np.ndarray) -> None:
        print(f"| {label} | {maes.mean():.3f} | {maes.std():.3f} | {maes.mean() / magpie.mean():.3f} |", flush=True)

    for model in models:
        print_row(f"PolySRL ({model})", representation_maes(model, X, y, seeds, head=head)[0])
    print_row("random-init encoder", representation_maes("rand_init", X, y, seeds, head=head)[0])
    print_row("matminer Magpie", magpie)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", nargs="+", default=["default"],
                        help="shipped model names or checkpoint paths (several: one row each, "
                             "random init and Magpie computed once)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--head", default="mlp", choices=HEADS,
                        help="evaluation head of the band-gap check (default: mlp, the head of the per-epoch "
                             "checks in docs/pretraining.md)")
    parser.add_argument("--skip-band-gap", action="store_true")
    parser.add_argument("--skip-uncertainty", action="store_true")
    args = parser.parse_args()
    if not args.skip_uncertainty:
        for model in args.model:
            print(f"\n{model}")
            uncertainty_check(model, args.data_dir)
    if not args.skip_band_gap:
        band_gap_check(args.model, args.data_dir, args.seeds, args.head)


if __name__ == "__main__":
    main()
