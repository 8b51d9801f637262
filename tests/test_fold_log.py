"""The fold log of ``polysrl benchmark --matbench ... --fold-log``: a long run resumes."""

import numpy as np
import pytest

from polysrl_sklearn import benchmark
from polysrl_sklearn.fold_log import FOLD_LOG_COLUMNS, FoldLog


@pytest.fixture
def fake_folds(monkeypatch):
    """matbench_fold_mae replaced by a deterministic stand-in that records which folds ran."""
    ran = []

    def fold_mae(task, method, fold, data_dir=None, seed=0, magpie_cache=None, head="paper"):
        ran.append((task, method, head, seed, fold))
        return 0.1 * fold + 0.01 * seed + (0.5 if method == "magpie" else 0.0)

    monkeypatch.setattr(benchmark, "matbench_fold_mae", fold_mae)
    return ran


def test_an_interrupted_run_resumes_from_its_fold_log_and_gives_the_same_rows(fake_folds, tmp_path):
    path = tmp_path / "folds.csv"
    straight = benchmark.run_matbench(["mp_gap"], ["magpie", "default"], folds=range(5), log=lambda _: None,
                                      seeds=[0, 1], heads=["rf"])
    assert len(fake_folds) == 20
    fake_folds.clear()
    # a first run that stopped after folds 0-2 of every (method, seed)
    benchmark.run_matbench(["mp_gap"], ["magpie", "default"], folds=[0, 1, 2], log=lambda _: None, seeds=[0, 1],
                           heads=["rf"], fold_log=path)
    assert len(FoldLog(path)) == 12 and len(fake_folds) == 12
    fake_folds.clear()
    lines: list[str] = []
    resumed = benchmark.run_matbench(["mp_gap"], ["magpie", "default"], folds=range(5), log=lines.append,
                                     seeds=[0, 1], heads=["rf"], fold_log=path)
    assert sorted({fold for *_, fold in fake_folds}) == [3, 4] and len(fake_folds) == 8  # only the missing folds ran
    assert sum("from the fold log" in line for line in lines) == 12
    assert len(FoldLog(path)) == 20
    columns = ["task", "method", "head", "mae_mean", "mae_std", "n"]
    assert resumed[columns].equals(straight[columns])
    np.testing.assert_allclose(resumed.loc[resumed["method"] == "magpie", "mae_mean"], 0.5 + 0.2 + 0.005)


def test_a_fold_log_that_is_not_one_is_refused_with_its_line(tmp_path):
    other = tmp_path / "results.csv"
    other.write_text("task,method,mae_mean\nmatbench_mp_gap,magpie,0.37\n")
    with pytest.raises(ValueError, match="is not a fold log"):
        FoldLog(other)
    broken = tmp_path / "folds.csv"
    broken.write_text(",".join(FOLD_LOG_COLUMNS) + "\nmp_gap,magpie,rf,0,0,0.37,10.0\nmp_gap,magpie,rf,0,one,0.3,1\n")
    with pytest.raises(ValueError, match="line 3"):
        FoldLog(broken)


def test_the_cli_passes_folds_and_the_fold_log_and_refuses_them_without_matbench(monkeypatch, tmp_path):
    from polysrl_sklearn.cli import main

    seen = {}

    def run_matbench(tasks, methods, folds, data_dir, seeds, heads, fold_log):
        seen.update(folds=folds, fold_log=fold_log)
        import pandas as pd

        return pd.DataFrame([{"task": "matbench_mp_gap", "method": "magpie", "head": "rf", "mae_mean": 0.3,
                              "mae_std": 0.0, "n": 1, "seconds": 1.0}])

    monkeypatch.setattr(benchmark, "run_matbench", run_matbench)
    log = str(tmp_path / "folds.csv")
    assert main(["benchmark", "--tasks", "--matbench", "mp_gap", "--methods", "magpie", "--head", "rf",
                 "--seeds", "0", "--folds", "2", "3", "--fold-log", log]) == 0
    assert seen == {"folds": [2, 3], "fold_log": log}
    with pytest.raises(SystemExit, match="apply to the Matbench tasks"):
        main(["benchmark", "--tasks", "--fold-log", log])
    with pytest.raises(SystemExit, match="apply to the Matbench tasks"):
        main(["benchmark", "--tasks", "--folds", "1"])
