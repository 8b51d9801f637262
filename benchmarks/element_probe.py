"""How much elemental chemistry each representation keeps: linear probes on held-out MP formulas.

For each model, the mean vectors of the MP formulas held out of the default's pretraining
(validation formulas, never trained on) are probed by a ridge regression for each of Magpie's
22 elemental properties pooled over the composition by Magpie's six statistics (its 132
features; :mod:`polysrl_sklearn.element_probes`). The table gives the median out-of-fold R² per
statistic and the effective rank; a second table gives the ``mean`` R² of every property for
every model. Reference rows: an untrained encoder of the default's architecture (its input
skip included) and the fraction-pooled element input table itself (what the encoder reads).

Usage::

    python benchmarks/element_probe.py --models default polysrl infomax graphcl supervised polysrl_nosample \\
        --csv element_probe.csv
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from polysrl_sklearn.element_probes import PROBE_STATISTICS, element_property_targets, linear_probe_r2
from polysrl_sklearn.validation import effective_rank, held_out_formulas

#: Name of the row of the pooled element input table.
POOLED_INPUT = "pooled input table"


def pooled_input_table(formulas: list[str], table: str) -> np.ndarray:
    """Fraction-weighted mean of the element input table ``table`` over each formula."""
    from polysrl_sklearn.composition import parse_composition
    from polysrl_sklearn.elements import element_features

    values = element_features(table).astype(np.float64)
    return np.stack([fractions.astype(np.float64) @ values[elements]
                     for elements, fractions in (parse_composition(formula) for formula in formulas)])


def untrained_like(model: str, seed: int) -> np.ndarray:
    """A random-init encoder with ``model``'s architecture (width, element table, skip)."""
    from polysrl_sklearn.featurizer import PolySRLFeaturizer
    from polysrl_sklearn.model_cache import cached_featurizer

    config = cached_featurizer(model).network_.config
    return PolySRLFeaturizer(pretrained=None, hidden_dim=config.hidden_dim,
                             stoichiometry_layers=config.stoichiometry_layers,
                             element_features=config.element_features, element_skip=config.element_skip,
                             device="cpu", random_state=seed).fit([])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["default"], help="shipped names or model files")
    parser.add_argument("--formulas-from", default="default",
                        help="the model whose held-out MP formulas are probed (the same for every row)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--csv", default=None, help="write every model's R² per property here")
    args = parser.parse_args()
    from polysrl_sklearn.model_cache import cached_featurizer

    started = time.time()
    formulas = held_out_formulas(args.formulas_from)
    targets = element_property_targets(formulas)
    reference = cached_featurizer(args.formulas_from).network_.config
    representations: dict[str, np.ndarray] = {}
    for model in args.models:
        representations[model] = cached_featurizer(model).transform(formulas)[:, :-1]
    untrained = f"untrained ({reference.element_features} table, F = {reference.hidden_dim})"
    representations[untrained] = untrained_like(args.formulas_from, args.seed).transform(formulas)[:, :-1]
    representations[f"{POOLED_INPUT} ({reference.element_features})"] = pooled_input_table(
        formulas, reference.element_features)
    scores = {name: linear_probe_r2(vectors, targets, seed=args.seed) for name, vectors in representations.items()}
    print(f"python benchmarks/element_probe.py --models {' '.join(args.models)}   "
          f"# {len(formulas)} held-out formulas, {time.time() - started:.0f} s")
    print()
    print("| representation | width | effective rank | " + " | ".join(
        f"median R² ({statistic})" for statistic in PROBE_STATISTICS) + " | lowest R² (mean) |")
    print("|---|---:|---:|" + "---:|" * (len(PROBE_STATISTICS) + 1))
    for name, score in scores.items():
        vectors = representations[name]
        medians = [score[[c for c in score.index if f" {statistic} " in c]].median() for statistic in PROBE_STATISTICS]
        means = score[[c for c in score.index if " mean " in c]]
        print(f"| {name} | {vectors.shape[1]} | {effective_rank(vectors):.1f} | "
              + " | ".join(f"{value:.3f}" for value in medians)
              + f" | {means.min():.3f} ({means.idxmin().split(' mean ')[1]}) |")
    table = pd.DataFrame(scores)
    print()
    means = table[[" mean " in c for c in table.index]]
    means.index = [c.split(" mean ")[1] for c in means.index]
    print(means.round(3).to_markdown())
    if args.csv:
        table.rename_axis("target").to_csv(args.csv, float_format="%.4f")


if __name__ == "__main__":
    main()
