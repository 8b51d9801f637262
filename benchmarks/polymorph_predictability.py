"""How well can polymorphism be told from a composition at all?

The representation study asks the uncertainty column to flag the held-out MP formulas
that have two or more polymorphs (AUROC >= 0.70). This script measures how much of that
a composition carries, with classifiers *trained for it*: each predictor below is fitted
on the pretraining formulas of a model (every MP formula of the corpus that the model file
does not list as held out), labelled 1 when the corpus has two or more structures of it,
and scored by AUROC on the model's held-out formulas, the study's validation set. The
model's own uncertainty column, scored as it is (no classifier fitted on it), is printed
beside them. A supervised classifier that stays well below 0.70 says the target asks for more
than the composition holds in MP; one well above it says the signal is there to learn.

Predictors: the number of elements alone (a rule, no fitting); a histogram
gradient-boosting classifier on Magpie features, on the model's frozen mean vectors, and
on both.

Usage::

    python benchmarks/polymorph_predictability.py [--model default] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from polysrl_sklearn.benchmark import magpie_rows
from polysrl_sklearn.composition import parse_composition
from polysrl_sklearn.datasets import mp_polymorph_counts
from polysrl_sklearn.featurizer import PolySRLFeaturizer
from polysrl_sklearn.validation import held_out_formulas, uncertainty_auroc


def boosted_auroc(train: np.ndarray, train_label: np.ndarray, test: np.ndarray, test_label: np.ndarray) -> float:
    """AUROC on ``test`` of a gradient-boosting classifier fitted on ``train``."""
    classifier = HistGradientBoostingClassifier(random_state=0).fit(train, train_label)
    return uncertainty_auroc(classifier.predict_proba(test)[:, 1], test_label)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default", help="shipped model name or model file (default: %(default)s)")
    parser.add_argument("--data-dir", default=None, help="shared data folder (default: $POLYSRL_DATA_DIR)")
    args = parser.parse_args()

    started = time.perf_counter()
    counts = mp_polymorph_counts(args.data_dir)
    held_out = held_out_formulas(args.model)
    held_out_set = set(held_out)
    train = [f for f in counts.index if f not in held_out_set]
    train_label = counts.loc[train].to_numpy() >= 2
    test_label = counts.reindex(held_out).fillna(1).to_numpy() >= 2
    print(f"{len(train)} pretraining formulas ({train_label.mean():.1%} polymorphic), "
          f"{len(held_out)} held out ({test_label.mean():.1%} polymorphic); model {args.model}\n")

    featurizer = PolySRLFeaturizer(pretrained=args.model).fit([])
    model_train, model_test = featurizer.transform(train), featurizer.transform(held_out)
    cache: dict[str, np.ndarray] = {}
    magpie_train, magpie_test = magpie_rows(train, cache), magpie_rows(held_out, cache)
    n_elements = np.array([len(parse_composition(f)[0]) for f in held_out])

    rows = [
        ("the model's uncertainty column, as it is (no classifier)", uncertainty_auroc(model_test[:, -1], test_label)),
        ("number of elements (fewer = more polymorphic)", uncertainty_auroc(-n_elements, test_label)),
        ("gradient boosting on Magpie features", boosted_auroc(magpie_train, train_label, magpie_test, test_label)),
        ("gradient boosting on the model's mean vectors",
         boosted_auroc(model_train[:, :-1], train_label, model_test[:, :-1], test_label)),
        ("gradient boosting on both",
         boosted_auroc(np.hstack([magpie_train, model_train[:, :-1]]), train_label,
                       np.hstack([magpie_test, model_test[:, :-1]]), test_label)),
    ]
    print("| predictor of >= 2 polymorphs | held-out AUROC |")
    print("|---|---:|")
    for name, auroc in rows:
        print(f"| {name} | {auroc:.3f} |")
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
