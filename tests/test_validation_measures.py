"""The representation study's validation measures, on hand-made columns with known answers."""

import numpy as np
import pytest

from polysrl_sklearn.validation import column_measures, column_table, effective_rank, scaled_sums


def test_column_measures_on_a_column_with_known_answers():
    compounds = np.array([0.1, 0.2, 0.3, 0.9, 1.0])
    polymorphic = np.array([False, False, True, True, True])   # one single-structure formula above one polymorphic
    mixtures = np.array([0.25, 2.0])                             # above 3 and 5 of the 5 formulas
    with_gap = np.array([True, False, True, True, False])
    errors = np.array([0.5, 0.1, 0.7])                          # rank order of the column: 1, 2, 3
    polymorph_auroc, mixture_auroc, spearman = column_measures(compounds, mixtures, polymorphic, with_gap, errors)
    assert polymorph_auroc == pytest.approx(1.0)                 # 0.3, 0.9, 1.0 all above 0.1, 0.2
    assert mixture_auroc == pytest.approx((2 + 5) / 10)          # 0.25 beats 2 of 5, 2.0 beats 5 of 5
    assert spearman == pytest.approx(0.5)                        # ranks (1, 2, 3) against (2, 1, 3)


def test_effective_rank_counts_the_used_directions():
    rng = np.random.default_rng(0)
    isotropic = rng.standard_normal((2000, 8))
    flat = isotropic.copy()
    flat[:, 4:] *= 1e-6
    assert effective_rank(isotropic) == pytest.approx(8, rel=0.02)
    assert effective_rank(flat) == pytest.approx(4, rel=0.02)


def test_column_table_has_a_row_per_column():
    compounds, mixtures = np.array([0.1, 0.2, 0.3, 0.9]), np.array([2.0])
    polymorphic, with_gap = np.array([False, False, True, True]), np.array([True, True, True, False])
    table = column_table([("a", compounds, mixtures), ("b", -compounds, -mixtures)], polymorphic, with_gap,
                         np.array([0.1, 0.2, 0.3]))
    lines = table.splitlines()
    assert lines[0].startswith("| column |") and len(lines) == 4
    assert lines[2] == "| a | 1.000 | 1.000 | 1.000 |" and lines[3] == "| b | 0.000 | 0.000 | -1.000 |"


def test_scaled_sums_add_the_centred_addition_to_formulas_and_mixtures_alike():
    column, column_mixtures = np.array([1.0, 2.0, 3.0]), np.array([5.0])
    addition, addition_mixtures = np.array([0.0, 1.0, 2.0]), np.array([4.0])   # centre 1
    rows = scaled_sums("stage", column, column_mixtures, "error", addition, addition_mixtures, [0.0, 2.0])
    assert [name for name, _, _ in rows] == ["stage + 0 x error", "stage + 2 x error"]
    np.testing.assert_array_equal(rows[0][1], column)
    np.testing.assert_array_equal(rows[1][1], [-1.0, 2.0, 5.0])
    np.testing.assert_array_equal(rows[1][2], [11.0])


def test_forest_score_is_the_geometric_mean_of_the_forest_ratios_to_magpie():
    from polysrl_sklearn.validation import MATBENCH_VALIDATION_TASKS, forest_score

    ratios = [0.5, 2.0, 1.0]
    row = {}
    for task, ratio in zip(MATBENCH_VALIDATION_TASKS, ratios):
        row[f"rf_{task}_magpie_mae"] = 0.2
        row[f"rf_{task}_mae"] = 0.2 * ratio
        row[f"{task}_mae"] = 99.0  # the paper head's keys are not read
    assert forest_score(row) == pytest.approx(1.0)
    row[f"rf_{MATBENCH_VALIDATION_TASKS[0]}_mae"] = 0.2 * 4.0
    assert forest_score(row) == pytest.approx(8.0 ** (1 / 3))
