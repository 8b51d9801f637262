"""Transform throughput of PolySRLFeaturizer vs matminer's Magpie ElementProperty.

Both featurize the same compositions in one process on the same machine; the
table prints compositions per second and the ratio. PolySRL's string parse
cache is cleared before each timed run, so parsing is counted.

Usage::

    python benchmarks/transform_throughput.py [--n 3000] [--data PATH] [--models default polysrl]

By default the compositions are the experimental band-gap formulas
(``expt-non-metals.csv``, found via ``--data`` or ``$POLYSRL_DATA_DIR``);
without that file a fixed synthetic set of ternary oxides is used.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import pandas as pd
from pymatgen.core import Composition

from polysrl_sklearn.datasets import BAND_GAP_FILE, resolve_data_dir


def load_formulas(path: Path | None, n: int) -> tuple[list[str], str]:
    if path is not None and path.is_file():
        formulas = pd.read_csv(path)["composition"].drop_duplicates().tolist()
        return formulas[:n], f"{path.name} (first {min(n, len(formulas))} unique)"
    metals = ["Li", "Na", "K", "Mg", "Ca", "Sr", "Ba", "Ti", "Zr", "Fe", "Co", "Ni", "Cu", "Zn", "Al", "Ga"]
    formulas = [f"{a}{i}{b}{j}O{i + j + 1}" for (a, b), i, j in
                itertools.product(itertools.combinations(metals, 2), range(1, 4), range(1, 4))]
    return formulas[:n], f"synthetic ternary oxides ({min(n, len(formulas))})"


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--models", nargs="+", default=["default"],
                        help="shipped model names or checkpoint paths, each timed against the same Magpie run")
    args = parser.parse_args()
    data = args.data or resolve_data_dir() / BAND_GAP_FILE
    formulas, source = load_formulas(data, args.n)
    compositions = [Composition(f) for f in formulas]

    from matminer.featurizers.composition import ElementProperty

    from polysrl_sklearn import PolySRLFeaturizer
    from polysrl_sklearn.composition import _parse_formula

    magpie = ElementProperty.from_preset("magpie")
    magpie.set_n_jobs(1)
    rows = []
    t_magpie = best_of(lambda: [magpie.featurize(c) for c in compositions], 1)
    rows.append(("matminer ElementProperty magpie (Composition)", t_magpie))
    for model in args.models:
        featurizer = PolySRLFeaturizer(pretrained=model, device="cpu").fit(formulas[:1])

        def polysrl_strings(featurizer=featurizer):
            _parse_formula.cache_clear()
            featurizer.transform(formulas)

        width = len(featurizer.get_feature_names_out()) - 1
        rows.append((f"PolySRLFeaturizer({model!r}, F={width}).transform (Composition)",
                     best_of(lambda featurizer=featurizer: featurizer.transform(compositions), args.repeats)))
        rows.append((f"PolySRLFeaturizer({model!r}, F={width}).transform (formula strings, cold parse)",
                     best_of(polysrl_strings, args.repeats)))
    n = len(formulas)
    print(f"compositions: {source}; torch threads: {__import__('torch').get_num_threads()}")
    print("| method | seconds | compositions/s | speed-up vs Magpie |")
    print("|---|---:|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.3f} | {n / seconds:,.0f} | {t_magpie / seconds:.1f}x |")


if __name__ == "__main__":
    main()
