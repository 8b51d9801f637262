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
    monkeypatch.setattr(sys, "argv", ["quickstart.py", "--data", str(tmp_path / "absent.csv")])
    load("quickstart")["main"]()
    out = capsys.readouterr().out
    assert "polysrl_uncertainty" in out and "skipping" in out


@pytest.mark.data
@pytest.mark.slow
def test_wet_lab_cv_example():
    require_shared("ngs00_CroMEL/efe.xlsx")
    maes = load("wet_lab_cv")["main"](["--task", "formation_enthalpy", "--max-iter", "30"])
    assert maes.shape == (5,) and np.all(np.isfinite(maes))


@pytest.mark.data
@pytest.mark.slow
def test_thermoelectric_screening_example():
    require_shared("KRICT-DATA_SIMD/estm.xlsx")
    table = load("screen_thermoelectrics")["main"](["--max-iter", "30", "--top", "3"])
    assert len(table) == 36 and table["ZT"].is_monotonic_decreasing
    assert np.all(table["uncertainty"] > 0) and np.all(np.isfinite(table["ZT"]))
