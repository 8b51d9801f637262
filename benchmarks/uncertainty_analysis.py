"""What the PolySRL uncertainty means: three analyses, each printed with its statistic and plotted.

1. Uncertainty vs number of known MP polymorphs (0, 1, 2, 3, >=4) of the
   experimental band-gap formulas (Spearman rho, AUROC for ">= 2 polymorphs").
2. Doped/alloyed (non-integer stoichiometry) vs pure ESTM compositions, 300 K
   and 600 K sets together (AUROC, Mann-Whitney p).
3. Uncertainty vs absolute error of a frozen-feature MLP on the band gaps
   (out-of-fold, 5-fold CV; Spearman rho, error by uncertainty quintile).

Usage::

    python benchmarks/uncertainty_analysis.py [--model default] [--data-dir DIR] [--out docs/images]
"""

from __future__ import annotations

import argparse
from pathlib import Path

try:
    import matplotlib
except ImportError:  # figures are optional: the package itself never plots
    raise SystemExit(f"{__file__} draws figures with matplotlib: pip install 'polysrl-sklearn[plots]'") from None

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from pymatgen.core import Composition  # noqa: E402
from scipy.stats import mannwhitneyu, spearmanr  # noqa: E402
from sklearn.frozen import FrozenEstimator  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402

from polysrl_sklearn import PolySRLFeaturizer  # noqa: E402
from polysrl_sklearn.datasets import load_band_gap, load_estm, mp_polymorph_counts  # noqa: E402
from polysrl_sklearn.evaluation import cv_predictions, mlp_head  # noqa: E402

GROUPS = ["0", "1", "2", "3", ">=4"]


def count_group(n: int) -> str:
    return ">=4" if n >= 4 else str(n)


def is_doped(formula: str) -> bool:
    """Non-integer amounts in the formula mean doping or alloying."""
    amounts = np.array(list(Composition(formula).get_el_amt_dict().values()))
    return bool(np.any(np.abs(amounts - np.round(amounts)) > 1e-6))


def polymorphs(featurizer: PolySRLFeaturizer, data_dir: str | None, ax) -> None:
    frame = load_band_gap(data_dir)
    counts = mp_polymorph_counts(data_dir)
    reduced = [Composition(f).reduced_formula for f in frame["composition"]]
    n = counts.reindex(reduced).fillna(0).astype(int).to_numpy()
    u = featurizer.transform(frame["composition"].tolist())[:, -1]
    groups = pd.Series(u).groupby(pd.Series([count_group(k) for k in n])).agg(["mean", "sem", "size"]).reindex(GROUPS)
    known = n >= 1
    rho = spearmanr(n[known], u[known])
    auroc = roc_auc_score(n[known] >= 2, u[known])
    print("\n1. band-gap formulas: uncertainty by number of MP (lt2M) structures")
    print("| MP structures | formulas | mean uncertainty | s.e.m. |")
    print("|---|---:|---:|---:|")
    for name, row in groups.iterrows():
        print(f"| {name} | {int(row['size']) if row['size'] == row['size'] else 0} | {row['mean']:.4g} | {row['sem']:.2g} |")
    print(f"Spearman rho(count, uncertainty | count >= 1) = {rho.statistic:.3f} (p = {rho.pvalue:.2g}); "
          f"AUROC(uncertainty -> >= 2 polymorphs | count >= 1) = {auroc:.3f}")
    ax.bar(groups.index, groups["mean"], yerr=groups["sem"], color="tab:blue", capsize=3)
    ax.set_xlabel("structures of the formula in MP")
    ax.set_ylabel("mean uncertainty")
    ax.set_title(f"band-gap formulas\nSpearman rho={rho.statistic:.2f}, AUROC={auroc:.2f}")


def impurity(featurizer: PolySRLFeaturizer, data_dir: str | None, ax) -> None:
    formulas = pd.concat([load_estm(t, "seebeck", data_dir=data_dir)["composition"] for t in (300, 600)]).unique()
    doped = np.array([is_doped(f) for f in formulas])
    u = featurizer.transform(list(formulas))[:, -1]
    test = mannwhitneyu(u[doped], u[~doped], alternative="greater")
    auroc = roc_auc_score(doped, u)
    print("\n2. ESTM compositions (300 K and 600 K sets): doped/alloyed vs pure")
    print("| group | formulas | mean uncertainty | median |")
    print("|---|---:|---:|---:|")
    for name, mask in (("pure", ~doped), ("doped/alloyed", doped)):
        print(f"| {name} | {mask.sum()} | {u[mask].mean():.4g} | {np.median(u[mask]):.4g} |")
    print(f"AUROC(uncertainty -> doped) = {auroc:.3f}; Mann-Whitney one-sided p = {test.pvalue:.2g}")
    ax.boxplot([u[~doped], u[doped]], showfliers=False)
    ax.set_xticks([1, 2], ["pure", "doped/alloyed"])
    ax.set_yscale("log")
    ax.set_ylabel("uncertainty")
    ax.set_title(f"ESTM compositions\nAUROC={auroc:.2f}")


def error_vs_uncertainty(featurizer: PolySRLFeaturizer, data_dir: str | None, ax) -> None:
    frame = load_band_gap(data_dir)
    X, y = np.asarray(frame["composition"], dtype=object), frame["target"].to_numpy()
    pipe = Pipeline([("polysrl", FrozenEstimator(featurizer)), ("head", mlp_head(0))])
    error = np.abs(cv_predictions(pipe, X, y, seed=0) - y)
    u = featurizer.transform(list(X))[:, -1]
    rho = spearmanr(u, error)
    quintile = pd.qcut(pd.Series(u).rank(method="first"), 5, labels=[f"Q{i}" for i in range(1, 6)])
    table = pd.Series(error).groupby(quintile, observed=True).mean()
    print("\n3. band gap, out-of-fold absolute error (5-fold, frozen features + MLP) by uncertainty quintile")
    print("| uncertainty quintile | mean |error| (eV) |")
    print("|---|---:|")
    for name, value in table.items():
        print(f"| {name} | {value:.3f} |")
    print(f"Spearman rho(uncertainty, |error|) = {rho.statistic:.3f} (p = {rho.pvalue:.2g})")
    lower = pd.Series(u).rank(method="first").to_numpy() <= len(u) / 2
    print(f"mean |error|: less uncertain half {error[lower].mean():.3f} eV, more uncertain half "
          f"{error[~lower].mean():.3f} eV")
    ax.bar(table.index.astype(str), table.to_numpy(), color="tab:red")
    ax.set_xlabel("uncertainty quintile (low -> high)")
    ax.set_ylabel("mean |error| (eV)")
    ax.set_title(f"band gap error\nSpearman rho={rho.statistic:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    args = parser.parse_args()
    featurizer = PolySRLFeaturizer(pretrained=args.model).fit([])
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    polymorphs(featurizer, args.data_dir, axes[0])
    impurity(featurizer, args.data_dir, axes[1])
    error_vs_uncertainty(featurizer, args.data_dir, axes[2])
    fig.tight_layout()
    args.out.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out / "uncertainty_analysis.png", dpi=110)
    print(f"\nplot written to {args.out / 'uncertainty_analysis.png'}")


if __name__ == "__main__":
    main()
