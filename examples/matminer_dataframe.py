"""Featurize a pandas DataFrame of formulas with PolySRL through matminer.

Builds a small DataFrame of formulas (one of them invalid), converts it to
pymatgen Compositions with matminer's ``StrToComposition``, and featurizes it
with :class:`polysrl_sklearn.matminer_featurizer.PolySRLComposition` in one
batched forward pass. Invalid rows get NaN features and an error message
instead of stopping the run.

    python examples/matminer_dataframe.py [--random-init]

``--random-init`` uses a randomly initialised encoder instead of the shipped
pretrained model (for testing without the model file; numbers are then
meaningless).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import pandas as pd
from matminer.featurizers.conversions import StrToComposition

from polysrl_sklearn import PolySRLFeaturizer
from polysrl_sklearn.matminer_featurizer import PolySRLComposition

EMBEDDED_FORMULAS = ["SiO2", "TiO2", "ZnS", "C", "Al2O3", "NaCl", "Xx2O3", "GaAs",
                     "Hg0.7Cd0.3Te", "SrTiO3", "Fe2O3"]


def main(argv: Sequence[str] | None = None) -> pd.DataFrame:
    """Run the example.

    Parameters
    ----------
    argv : sequence of str, optional
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    pandas.DataFrame
        The featurized DataFrame.
    """
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--random-init", action="store_true",
                        help="use a randomly initialised encoder instead of the shipped model")
    args = parser.parse_args(argv)

    df = pd.DataFrame({"formula": EMBEDDED_FORMULAS})
    to_composition = StrToComposition(target_col_id="composition")
    to_composition.set_n_jobs(1)  # a few rows: no process pool
    df = to_composition.featurize_dataframe(df, "formula", ignore_errors=True, pbar=False)

    if args.random_init:
        polysrl = PolySRLFeaturizer(pretrained=None, random_state=0)
    else:
        polysrl = PolySRLFeaturizer()  # the shipped Materials-Project model
    featurizer = PolySRLComposition(polysrl)
    df = featurizer.featurize_dataframe(df, "composition", ignore_errors=True, return_errors=True)

    errors_column = f"{type(featurizer).__name__} Exceptions"
    n_features = len(featurizer.feature_labels())
    print(f"{len(df)} formulas -> {n_features - 1} mean features + 1 uncertainty column each")
    print(df[["formula", "polysrl_uncertainty"]].to_string(index=False))
    failed = df[df[errors_column].notna()]
    print(f"\n{len(failed)} formula(s) could not be featurized:")
    for formula, error in zip(failed["formula"], failed[errors_column]):
        print(f"  {formula}: {error.strip().splitlines()[-1]}")
    return df


if __name__ == "__main__":
    main()
