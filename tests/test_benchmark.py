from pathlib import Path

import numpy as np
import pytest
from conftest import require_shared

from polysrl_sklearn.benchmark import format_table, run_benchmark
from polysrl_sklearn.cli import main


def run_benchmark_command(capsys, *args: str) -> list[str]:
    """Output lines of ``polysrl benchmark ARGS`` run in this process."""
    assert main(["benchmark", *args]) == 0
    return capsys.readouterr().out.splitlines()


@pytest.mark.data
@pytest.mark.slow
def test_benchmark_rows_zt_and_table():
    require_shared("KRICT-DATA_SIMD/estm.xlsx")
    tasks = ["estm600_ec", "estm600_tc", "estm600_seebeck"]
    results = run_benchmark(tasks, ["rand_init"], seeds=[0], log=lambda *_: None, transfer=True,
                            transfer_epochs=2, device="cpu")
    assert set(results["method"]) == {"rand_init", "rand_init+TL"}
    assert set(results["task"]) == set(tasks) | {"zt600"}
    # ZT from the frozen-feature predictions and from the fine-tuned ones
    assert set(results.loc[results["task"] == "zt600", "method"]) == {"rand_init", "rand_init+TL"}
    assert np.all(np.isfinite(results["mae_mean"]))
    table = format_table(results)
    assert "| estm600_ec |" in table and "paper PolySRL" in table


@pytest.mark.data
def test_transfer_only_benchmark_has_only_fine_tuned_rows():
    require_shared("KRICT-DATA_SIMD/estm.xlsx")
    results = run_benchmark(["estm600_ec"], ["rand_init"], seeds=[0], log=lambda *_: None, transfer=True,
                            transfer_epochs=1, device="cpu", representation=False)
    assert results["method"].tolist() == ["rand_init+TL"]
    assert results["task"].tolist() == ["estm600_ec"]


def test_benchmark_command_rejects_unknown_names(capsys):
    import pytest

    with pytest.raises(SystemExit, match="unknown"):
        main(["benchmark", "--tasks", "not_a_task"])


@pytest.mark.data
@pytest.mark.slow
def test_matbench_fold_on_crabnet_split():
    require_shared("anthony-wang_CrabNet/matbench_cv/jdft2d/test0.csv")
    from polysrl_sklearn.benchmark import run_matbench

    lines: list[str] = []
    results = run_matbench(["jdft2d"], ["rand_init"], folds=[0], log=lines.append, seeds=[0, 1])
    assert results.loc[0, "task"] == "matbench_jdft2d" and results.loc[0, "n"] == 2
    fold_maes = [float(line.split("MAE ")[1].split()[0]) for line in lines if " fold 0 " in line]
    assert len(fold_maes) == 2 and fold_maes[0] != fold_maes[1]  # the seed reaches the head
    assert results.loc[0, "mae_mean"] == pytest.approx(np.mean(fold_maes), abs=1e-4)
    assert 0 < results.loc[0, "mae_mean"] < 5  # log(meV/atom) scale


def test_magpie_rows_computes_each_composition_once():
    from polysrl_sklearn.benchmark import magpie_rows
    from polysrl_sklearn.evaluation import MagpieFeatures

    cache: dict = {}
    rows = magpie_rows(["NaCl", "Fe2O3", "NaCl"], cache)
    assert sorted(cache) == ["Fe2O3", "NaCl"]
    np.testing.assert_array_equal(rows, MagpieFeatures().transform(["NaCl", "Fe2O3", "NaCl"]))
    cache["NaCl"] = np.zeros_like(cache["NaCl"])  # a cached row is reused, not recomputed
    assert not magpie_rows(["NaCl"], cache).any()


def test_benchmark_command_accepts_shipped_model_names(monkeypatch):
    import pandas as pd

    import polysrl_sklearn.benchmark as benchmark

    called = {}

    def fake_run_benchmark(tasks, methods, *args, **kwargs):
        called["methods"] = methods
        return pd.DataFrame({"task": ["band_gap"], "method": ["supervised"], "mae_mean": [0.5],
                             "mae_std": [0.1], "n": [5]})

    monkeypatch.setattr(benchmark, "run_benchmark", fake_run_benchmark)
    assert main(["benchmark", "--tasks", "band_gap", "--methods", "supervised", "--seeds", "0"]) == 0
    assert called["methods"] == ["supervised"]


def test_unknown_matbench_task_error_lists_the_mp_tasks():
    with pytest.raises(SystemExit, match="unknown matbench task .*mp_bandgap.*mp_gap"):
        main(["benchmark", "--tasks", "--matbench", "mp_bandgap"])


def test_table_shows_paper_values_for_wet_lab_and_matbench_rows():
    import pandas as pd

    results = pd.DataFrame({"task": ["band_gap", "matbench_castelli", "matbench_phonons"],
                            "method": ["polysrl"] * 3, "mae_mean": [0.5, 0.2, 0.1], "mae_std": [0.01] * 3})
    rows = {line.split(" | ")[0].strip("| "): line for line in format_table(results).splitlines()}
    assert rows["band_gap"].endswith("| 0.407 |")  # Table 1
    assert rows["matbench_castelli"].endswith("| 0.132 |")  # Table 6
    assert rows["matbench_phonons"].endswith("|  |")  # not in the paper


def test_table_heads_a_checkpoint_path_column_by_its_file_name():
    import pandas as pd

    results = pd.DataFrame({"task": ["band_gap"] * 3, "method": ["polysrl", "/runs/e47/polysrl_e47.pt", "rand_init"],
                            "mae_mean": [0.46, 0.45, 0.47], "mae_std": [0.02] * 3})
    header, _, row = format_table(results).splitlines()
    assert header == "| task | polysrl (mlp) | polysrl_e47 (mlp) | rand_init (mlp) | paper PolySRL |"
    assert row == "| band_gap | 0.460 (0.020) | 0.450 (0.020) | 0.470 (0.020) | 0.407 |"
    fine_tuned = results.assign(method=results["method"] + "+TL")
    assert format_table(fine_tuned).splitlines()[0] == (
        "| task | polysrl+TL (paper) | polysrl_e47+TL (paper) | rand_init+TL (paper) | paper PolySRL |")


def test_table_from_fine_tuned_runs_sits_beside_the_paper_tl_row(tmp_path, capsys):
    import pandas as pd

    pd.DataFrame({"task": ["estm600_ec", "estm600_ec"], "method": ["polysrl+TL", "rand_init+TL"],
                  "mae_mean": [0.6, 0.9], "mae_std": [0.1, 0.2]}).to_csv(tmp_path / "tl.csv", index=False)
    lines = run_benchmark_command(capsys, "--table-from", str(tmp_path / "tl.csv"))
    assert lines[0] == "| task | polysrl+TL (paper) | rand_init+TL (paper) | paper PolySRL+TL |"
    assert lines[2] == "| estm600_ec | 0.600 (0.100) | 0.900 (0.200) | 0.626 |"


def test_pooled_fine_tuned_rows_replaced_by_a_rerun(tmp_path, capsys):
    import pandas as pd

    pd.DataFrame({"task": ["estm600_ec", "estm600_ec", "metallic"],
                  "method": ["polysrl+TL", "rand_init+TL", "polysrl+TL"],
                  "mae_mean": [0.6, 0.9, 0.3], "mae_std": [0.1, 0.2, 0.05]}).to_csv(tmp_path / "old.csv", index=False)
    pd.DataFrame({"task": ["estm600_ec"], "method": ["polysrl+TL"], "mae_mean": [0.5], "mae_std": [0.07],
                  "seeds": [1], "seed_ids": ["0"]}).to_csv(tmp_path / "rerun.csv", index=False)
    lines = run_benchmark_command(capsys, "--table-from", str(tmp_path / "old.csv"), "--pool-seeds",
                                  "--replace-with", str(tmp_path / "rerun.csv"))
    assert lines[0] == "| task | polysrl+TL (paper) | rand_init+TL (paper) | paper PolySRL+TL |"
    assert lines[2] == "| estm600_ec | 0.500 (0.070) | 0.900 (0.200) | 0.626 |"
    assert lines[3] == "| metallic | 0.300 (0.050) |  | 0.191 |"


def test_frozen_featurizer_takes_a_method_name_or_a_pretrained_value():
    from polysrl_sklearn.benchmark import frozen_featurizer
    from polysrl_sklearn.featurizer import DEFAULT_CHECKPOINT
    from polysrl_sklearn.shipped import DEFAULT_MODEL

    by_name = frozen_featurizer(DEFAULT_MODEL).transform(["Fe2O3", "NaCl"])
    by_path = frozen_featurizer(str(DEFAULT_CHECKPOINT)).transform(["Fe2O3", "NaCl"])
    assert np.array_equal(by_name, by_path)
    assert not np.array_equal(by_name, frozen_featurizer("polysrl_nosample_chgnet_mt").transform(["Fe2O3", "NaCl"]))


def test_pooling_seed_runs_gives_the_mean_and_std_over_all_folds():
    import pandas as pd

    from polysrl_sklearn.benchmark import pool_seed_runs as pool_runs

    folds = {0: np.array([0.5, 0.7, 0.6, 0.9, 0.4]), 1: np.array([0.8, 0.3, 0.6, 0.65, 0.75])}
    runs = [pd.DataFrame({"task": ["band_gap"], "method": ["polysrl+TL"], "mae_mean": [f.mean()],
                          "mae_std": [f.std()], "seeds": [1], "seed_ids": [str(seed)]})
            for seed, f in folds.items()]
    pooled = pool_runs(runs)
    everything = np.concatenate(list(folds.values()))
    assert pooled.loc[0, "mae_mean"] == pytest.approx(everything.mean())
    assert pooled.loc[0, "mae_std"] == pytest.approx(everything.std())
    assert pooled.loc[0, "seeds"] == 2
    with pytest.raises(ValueError, match="share a seed"):
        pool_runs([runs[0], runs[0]])
    # a diverged run's MAE (a ZT of 4e161 was measured) pools to its mean with an undefined std, no OverflowError
    huge = runs[1].assign(mae_mean=4e161, mae_std=np.nan)
    pooled = pool_runs([runs[0], huge])
    assert pooled.loc[0, "mae_mean"] == pytest.approx(2e161) and np.isnan(pooled.loc[0, "mae_std"])
    huge = runs[1].assign(mae_mean=4e161, mae_std=1.0)
    assert pool_runs([runs[0], huge]).loc[0, "mae_mean"] == pytest.approx(2e161)


def test_table_from_saved_runs_lets_a_later_run_replace_rows(tmp_path, capsys):
    import pandas as pd

    full = pd.DataFrame({"task": ["band_gap", "band_gap", "metallic", "metallic"],
                         "method": ["magpie", "polysrl", "magpie", "polysrl"],
                         "mae_mean": [0.42, 0.49, 0.37, 0.29], "mae_std": [0.02] * 4})
    rerun = pd.DataFrame({"task": ["band_gap", "metallic"], "method": ["polysrl", "polysrl"],
                          "mae_mean": [0.45, 0.31], "mae_std": [0.03] * 2})
    full.to_csv(tmp_path / "full.csv", index=False)
    rerun.to_csv(tmp_path / "rerun.csv", index=False)
    assert main(["benchmark", "--table-from", str(tmp_path / "full.csv"), str(tmp_path / "rerun.csv"),
                 "--csv", str(tmp_path / "merged.csv")]) == 0
    rows = {line.split(" | ")[0].strip("| "): line for line in capsys.readouterr().out.splitlines()}
    assert rows["task"].startswith("| task | magpie (mlp) | polysrl (mlp) |")
    assert rows["task"].endswith("| paper rand init | paper PolySRL |")
    assert "| 0.420 (0.020) | 0.450 (0.030) |" in rows["band_gap"]
    assert "| 0.370 (0.020) | 0.310 (0.030) |" in rows["metallic"]
    merged = pd.read_csv(tmp_path / "merged.csv")
    assert list(zip(merged["task"], merged["method"])) == list(zip(full["task"], full["method"]))
    assert merged["mae_mean"].tolist() == [0.42, 0.45, 0.37, 0.31]


def test_benchmark_command_names_a_missing_checkpoint_path():
    import pytest

    with pytest.raises(SystemExit, match=r"unknown task/method \['no_such.pt'\]"):
        main(["benchmark", "--tasks", "band_gap", "--methods", "no_such.pt"])


def test_transfer_learning_fine_tunes_a_checkpoint_given_by_path(small_fitted, tmp_path):
    from polysrl_sklearn.benchmark import transfer_maes

    path = tmp_path / "my_model.pt"
    small_fitted.save(path)
    formulas = ["NaCl", "MgO", "ZnS", "CaF2", "ZrO2", "CsCl", "SrTiO3", "Li2O", "Fe2O3", "Al2O3"]
    y = np.arange(len(formulas), dtype=float)
    maes, predictions = transfer_maes(str(path), formulas, y, seeds=[0], epochs=1, device="cpu")
    assert len(maes) == 5 and np.all(np.isfinite(maes))
    assert predictions[0].shape == y.shape


def test_feature_rank_counts_the_directions_features_use():
    import runpy

    script = Path(__file__).parents[1] / "benchmarks" / "feature_rank.py"
    spectrum_summary = runpy.run_path(str(script), run_name="feature_rank")["spectrum_summary"]
    rng = np.random.default_rng(0)
    isotropic = rng.normal(size=(20_000, 64))
    rank, top5 = spectrum_summary(isotropic)
    assert 62 < rank <= 64 and top5 == pytest.approx(5 / 64, abs=0.01)
    three_directions = rng.normal(size=(20_000, 3)) @ rng.normal(size=(3, 64))
    rank, top5 = spectrum_summary(np.hstack([three_directions, np.ones((20_000, 1))]))  # + a constant column
    assert rank < 3.01 and top5 == pytest.approx(1.0)


def test_head_choice_reaches_the_right_estimator():
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.neural_network import MLPRegressor

    from polysrl_sklearn.benchmark import FEATURE_HEADS, frozen_model
    from polysrl_sklearn.head import MLPHeadRegressor
    from polysrl_sklearn.regressor import PolySRLRegressor

    paper = frozen_model("rand_init", "paper", seed=2)
    assert isinstance(paper, PolySRLRegressor) and paper.finetune is False
    assert paper.pretrained is None and paper.random_state == 2 and paper.learning_rates == (1e-3,)
    assert frozen_model("polysrl", "paper", 0).pretrained == "polysrl"
    rf = frozen_model("polysrl", "rf", seed=1).steps[-1][1]
    assert isinstance(rf, RandomForestRegressor) and rf.n_estimators == 500 and rf.random_state == 1
    assert isinstance(frozen_model("polysrl", "mlp", 0).steps[-1][1].steps[-1][1], MLPRegressor)
    # Magpie (a feature matrix): the same torch head behind a scaler, the forest, sklearn's MLP
    assert isinstance(FEATURE_HEADS["paper"](0).steps[-1][1], MLPHeadRegressor)
    assert "scale" in dict(FEATURE_HEADS["paper"](0).steps)
    assert isinstance(FEATURE_HEADS["rf"](0), RandomForestRegressor)
    with pytest.raises(ValueError, match="unknown evaluation head 'svm'"):
        frozen_model("polysrl", "svm", 0)


def test_benchmark_command_passes_heads(monkeypatch, capsys):
    import pandas as pd

    import polysrl_sklearn.benchmark as benchmark

    called = []

    def fake_run_benchmark(tasks, methods, *args, heads=("paper",), **kwargs):
        called.append(list(heads))
        return pd.DataFrame({"task": ["band_gap"] * len(heads), "method": ["magpie"] * len(heads),
                             "head": list(heads), "mae_mean": [0.5] * len(heads), "mae_std": [0.1] * len(heads),
                             "n": [5] * len(heads), "seconds": [1.0] * len(heads)})

    monkeypatch.setattr(benchmark, "run_benchmark", fake_run_benchmark)
    assert main(["benchmark", "--tasks", "band_gap", "--methods", "magpie", "--seeds", "0"]) == 0
    assert main(["benchmark", "--tasks", "band_gap", "--methods", "magpie", "--seeds", "0",
                 "--head", "rf", "--head", "mlp"]) == 0
    assert called == [["paper"], ["rf", "mlp"]]
    assert "| magpie (rf) | magpie (mlp) |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["benchmark", "--tasks", "band_gap", "--head", "svm"])


@pytest.mark.data
@pytest.mark.slow
def test_paper_head_runs_on_a_wet_lab_task():
    require_shared("KRICT-DATA_SIMD/estm.xlsx")
    results = run_benchmark(["estm600_tc"], ["magpie", "rand_init"], seeds=[0], log=lambda *_: None,
                            heads=("paper", "rf"))
    assert list(zip(results["method"], results["head"])) == [
        ("magpie", "paper"), ("magpie", "rf"), ("rand_init", "paper"), ("rand_init", "rf")]
    assert np.all(np.isfinite(results["mae_mean"])) and np.all(results["mae_mean"] > 0)


def test_transfer_only_and_table_options_need_their_partners():
    with pytest.raises(SystemExit, match="--replace-with needs --table-from"):
        main(["benchmark", "--replace-with", "x.csv"])
    with pytest.raises(SystemExit, match="--pool-seeds needs --table-from"):
        main(["benchmark", "--pool-seeds"])


def test_transfer_only_reaches_run_benchmark(monkeypatch, capsys):
    import pandas as pd

    import polysrl_sklearn.benchmark as benchmark

    called = {}

    def fake_run_benchmark(tasks, methods, seeds, *args, transfer=False, representation=True, **kwargs):
        called.update(transfer=transfer, representation=representation)
        return pd.DataFrame({"task": ["band_gap"], "method": ["polysrl+TL"], "head": ["paper"], "mae_mean": [0.4],
                             "mae_std": [0.02], "n": [5], "seconds": [1.0]})

    monkeypatch.setattr(benchmark, "run_benchmark", fake_run_benchmark)
    lines = run_benchmark_command(capsys, "--tasks", "band_gap", "--methods", "polysrl", "--transfer-only")
    assert called == {"transfer": True, "representation": False}
    assert "| task | polysrl+TL (paper) | paper PolySRL+TL |" in lines


def test_table_from_prints_only_the_heads_asked_for(tmp_path, capsys):
    import pandas as pd

    pd.DataFrame({"task": ["band_gap"] * 3, "method": ["magpie"] * 3, "head": ["paper", "mlp", "rf"],
                  "mae_mean": [0.41, 0.42, 0.43], "mae_std": [0.02] * 3}).to_csv(tmp_path / "r.csv", index=False)
    lines = run_benchmark_command(capsys, "--table-from", str(tmp_path / "r.csv"), "--head", "rf", "--head", "paper")
    assert lines[0] == "| task | magpie (rf) | magpie (paper) | paper rand init | paper PolySRL |"


def test_table_from_keeps_only_the_named_methods_in_their_order(tmp_path, capsys):
    import pandas as pd

    pd.DataFrame({"task": ["band_gap"] * 3 + ["metallic"] * 3, "method": ["magpie", "polysrl", "rand_init"] * 2,
                  "head": ["rf"] * 6, "mae_mean": [0.41, 0.44, 0.53, 0.18, 0.20, 0.21],
                  "mae_std": [0.02] * 6}).to_csv(tmp_path / "rf.csv", index=False)
    lines = run_benchmark_command(capsys, "--table-from", str(tmp_path / "rf.csv"), "--methods", "polysrl", "magpie")
    assert lines[0] == "| task | polysrl (rf) | magpie (rf) | paper rand init | paper PolySRL |"
    assert lines[2].startswith("| band_gap | 0.440 (0.020) | 0.410 (0.020) |")
    with pytest.raises(SystemExit, match="--methods infomax: no rows of that method"):
        main(["benchmark", "--table-from", str(tmp_path / "rf.csv"), "--methods", "infomax"])
