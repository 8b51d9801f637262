"""How many directions do the frozen features of each encoder really use?

For every encoder the mean features (the uncertainty column left out) of a set of
compositions are standardised; the table gives the *effective rank* of their
correlation matrix, exp(entropy of its normalised eigenvalues), which is 64 for 64
equally used directions and 1 for a single one, and the share of variance in the top
five directions. A contrastive objective that collapses dimensions shows up as a low
effective rank; frozen features of low rank carry less of the composition to the MLP head.

Usage::

    python benchmarks/feature_rank.py [--methods rand_init polysrl ...] [--data-dir DIR]
"""

from __future__ import annotations

import argparse

import numpy as np

from polysrl_sklearn.benchmark import FEATURIZER_METHODS, frozen_featurizer, method_label
from polysrl_sklearn.datasets import load_band_gap, load_matbench_mp

METHODS = list(FEATURIZER_METHODS)  # rand_init and every shipped model, by canonical name


def spectrum_summary(features: np.ndarray) -> tuple[float, float]:
    """Effective rank and top-5 variance share of standardised ``features``."""
    centred = features - features.mean(axis=0)
    scale = centred.std(axis=0)
    standardised = centred[:, scale > 0] / scale[scale > 0]
    eigenvalues = np.linalg.svd(standardised, compute_uv=False) ** 2
    share = eigenvalues / eigenvalues.sum()
    share = share[share > 0]
    return float(np.exp(-(share * np.log(share)).sum())), float(np.sort(share)[::-1][:5].sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=METHODS,
                        help="benchmark method names, shipped model names or checkpoint paths")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    sets = {"experimental band gap": load_band_gap(args.data_dir)["composition"].tolist(),
            "Matbench mp_gap": load_matbench_mp("mp_gap", args.data_dir)["composition"].tolist()}
    print("| encoder | " + " | ".join(f"{name} ({len(comps):,}): eff. rank | top-5 share"
                                       for name, comps in sets.items()) + " |")
    print("|---|" + "---:|---:|" * len(sets))
    for method in args.methods:
        featurizer = frozen_featurizer(method)
        cells = []
        for comps in sets.values():
            rank, top5 = spectrum_summary(featurizer.transform(comps)[:, :-1])
            cells += [f"{rank:.1f}", f"{top5:.3f}"]
        print(f"| {method_label(method)} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
