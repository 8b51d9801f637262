"""Each example script runs (shortened where it trains)."""

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import require_shared

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name):
    sys.path.insert(0, str(EXAMPLES))
    try:
        return runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="example")
    finally:
        sys.path.remove(str(EXAMPLES))


def test_quickstart_runs_without_data(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(sys, "argv", ["quickstart.py", "--data-dir", str(tmp_path)])
    load("quickstart")["main"]()
    out = capsys.readouterr().out
    assert "polysrl_uncertainty" in out and "skipping" in out


@pytest.mark.data
@pytest.mark.slow
def test_wet_lab_cv_example_prints_the_benchmarks_seed_0_folds():
    require_shared("KRICT-DATA_SIMD/estm.xlsx")
    from polysrl_sklearn.benchmark import representation_maes
    from polysrl_sklearn.datasets import TASKS

    maes = load("wet_lab_cv")["main"](["--task", "estm600_tc", "--head", "paper"])
    frame = TASKS["estm600_tc"]()
    expected, _ = representation_maes("default", frame["composition"].tolist(), frame["target"].to_numpy(), [0],
                                      head="paper")
    assert maes.shape == (5,) and np.array_equal(maes, expected)  # one protocol, one number


@pytest.mark.data
@pytest.mark.slow
def test_thermoelectric_screening_example():
    require_shared("KRICT-DATA_SIMD/estm.xlsx")
    table = load("screen_thermoelectrics")["main"](["--max-iter", "30", "--top", "3"])
    assert len(table) == 36 and table["ZT"].is_monotonic_decreasing
    assert np.all(table["uncertainty"] > 0) and np.all(np.isfinite(table["ZT"]))
