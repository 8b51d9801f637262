"""Linear probes of elemental chemistry (polysrl_sklearn.element_probes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from polysrl_sklearn.element_probes import PROBE_STATISTICS, element_property_targets, linear_probe_r2

ELEMENTS = ["Li", "Na", "K", "Mg", "Ca", "Ba", "Al", "Ga", "Ti", "Fe", "Ni", "Cu", "Zn", "Mo", "Pb"]
ANIONS = ["O", "S", "F", "Cl", "N", "Te"]
#: 180 binary formulas, two stoichiometries of each pair.
FORMULAS = [f"{cation}{anion}{count}" for cation in ELEMENTS for anion in ANIONS for count in ("", "2")]


def test_targets_are_magpie_statistics_computed_by_hand():
    targets = element_property_targets(["Fe2O3", "NaCl"])
    assert targets.shape == (2, 22 * len(PROBE_STATISTICS))
    assert list(targets.index) == ["Fe2O3", "NaCl"]
    assert targets.loc["Fe2O3", "MagpieData mean Number"] == pytest.approx((2 * 26 + 3 * 8) / 5)
    assert targets.loc["Fe2O3", "MagpieData range Number"] == pytest.approx(26 - 8)
    assert targets.loc["NaCl", "MagpieData minimum Number"] == pytest.approx(11)
    assert targets.loc["NaCl", "MagpieData maximum Number"] == pytest.approx(17)


def test_bad_formula_is_named_with_its_position():
    with pytest.raises(ValueError, match=r"'Xx2O3' \(at position 1\)"):
        element_property_targets(["NaCl", "Xx2O3"], statistics=("mean",))


def test_probe_reads_a_linear_mixture_and_not_noise():
    targets = element_property_targets(FORMULAS, statistics=("mean",))
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(targets.shape[1], 40))
    readable = linear_probe_r2(targets.to_numpy() @ mixing, targets, folds=4)
    assert readable.median() > 0.99
    noise = linear_probe_r2(rng.normal(size=(len(FORMULAS), 5)), targets, folds=4)
    assert noise.median() < 0.3
    assert list(readable.index) == list(targets.columns)


def test_missing_targets_and_lengths_are_refused():
    targets = pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0]}, index=["w", "x", "y", "z"])
    with pytest.raises(ValueError, match=r"'a' is missing for row 'x'"):
        linear_probe_r2(np.eye(4), targets, folds=2)
    with pytest.raises(ValueError, match="3 feature rows but 4 target rows"):
        linear_probe_r2(np.eye(3), targets.fillna(0.0), folds=2)
