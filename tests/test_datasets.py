"""Downstream-task loaders: counts, transforms and errors (real files skip when absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_DATA, require_shared
from pymatgen.core import Composition

from polysrl_sklearn import datasets as ds


def _reduced(formulas) -> set[str]:
    return {Composition(f).reduced_formula for f in formulas}


# --------------------------------------------------------------------------
# no data needed
# --------------------------------------------------------------------------
def test_missing_directory_error_names_path_and_env(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as err:
        ds.load_band_gap(data_dir=missing)
    message = str(err.value)
    assert str(missing / ds.BAND_GAP_FILE) in message
    assert "POLYSRL_DATA_DIR" in message


def test_env_var_is_used_when_no_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("POLYSRL_DATA_DIR", str(tmp_path))
    assert ds.resolve_data_dir() == tmp_path
    with pytest.raises(FileNotFoundError, match="POLYSRL_DATA_DIR"):
        ds.load_estm(data_dir=None)


def test_default_data_dir_is_next_to_repository(monkeypatch):
    monkeypatch.delenv("POLYSRL_DATA_DIR", raising=False)
    repo = Path(ds.__file__).resolve().parents[2]
    assert ds.resolve_data_dir() == repo.parent / "shared" / "data"


@pytest.mark.parametrize("raw, expected", [
    ("Na1Cl1", "NaCl"),
    ("O3Fe2", "Fe2O3"),
    ("Pb0.9Se0.9Sn0.1Se0.1", "Sn0.1Pb0.9Se"),
    ("Ag10Cu35Zr55", "Zr55Cu35Ag10"),
    ("BiSb(Se0.92Br0.08)3", "BiSbSe2.76Br0.24"),
])
def test_canonical_formula(raw, expected):
    assert ds.canonical_formula(raw) == expected
    assert Composition(expected).almost_equals(Composition(raw))


def test_canonical_formula_merges_spellings_but_does_not_reduce():
    assert ds.canonical_formula("GeSn") == ds.canonical_formula("SnGe")
    assert ds.canonical_formula("V2O4") != ds.canonical_formula("VO2")


def test_task_registry_and_mae_scale():
    assert set(ds.MAE_SCALE) == set(ds.TASKS)
    assert {"band_gap", "formation_enthalpy", "metallic", "estm300_ec", "estm300_tc",
            "estm300_seebeck", "estm600_ec", "estm600_tc", "estm600_seebeck"} == set(ds.TASKS)
    tens = {name for name, scale in ds.MAE_SCALE.items() if scale == 10}
    assert tens == {"formation_enthalpy", "metallic", "estm300_seebeck", "estm600_seebeck"}
    assert all(scale in (1, 10) for scale in ds.MAE_SCALE.values())


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="window"):
        ds.load_estm(temperature=450, data_dir="/nonexistent")
    with pytest.raises(ValueError, match="no CrabNet folds; use load_matbench"):
        ds.load_matbench_crabnet("mp_gap", 0, data_dir="/nonexistent")
    with pytest.raises(ValueError, match="unknown matbench task 'mp_bandgap'"):
        ds.load_matbench("mp_bandgap", 0, data_dir="/nonexistent")
    with pytest.raises(ValueError, match="unknown Materials Project matbench task"):
        ds.load_matbench_mp("castelli", data_dir="/nonexistent")
    with pytest.raises(ValueError, match="fold must be 0 to 4"):
        ds.matbench_mp_split(100, 5)


def test_zt_and_seebeck_helpers():
    attrs = {"seebeck_min": -100.0, "seebeck_max": 300.0}
    np.testing.assert_allclose(ds.seebeck_from_scaled([0.0, 0.25, 1.0], attrs), [-100.0, 0.0, 300.0])
    # S = 200 uV/K, sigma = 1e5 S/m, kappa = 1 W/mK, T = 300 K -> 1.2
    assert ds.thermoelectric_zt(200.0, 1e5, 1.0, 300.0) == pytest.approx(1.2)


# --------------------------------------------------------------------------
# experimental sets (real files)
# --------------------------------------------------------------------------
def _common_checks(df: pd.DataFrame) -> None:
    assert {"composition", "target", "formula", "n_reports"} <= set(df.columns)
    assert df["target"].dtype == float and np.isfinite(df["target"]).all()
    assert df["composition"].map(lambda s: isinstance(s, str) and s != "").all()
    assert (df["n_reports"] >= 1).all()


@pytest.mark.data
def test_band_gap_matches_paper_set():
    require_shared(ds.BAND_GAP_FILE)
    require_shared(ds.BAND_GAP_REFERENCE_FILE)
    df = ds.load_band_gap(data_dir=SHARED_DATA)
    _common_checks(df)
    assert len(df) == 2482
    assert df["n_reports"].sum() == df.attrs["n_source_rows"] == 3895
    assert ds.check_band_gap_against_reference(SHARED_DATA) < 1e-9


@pytest.mark.data
def test_band_gap_canonical_grouping_has_unique_compositions():
    require_shared(ds.BAND_GAP_FILE)
    df = ds.load_band_gap(data_dir=SHARED_DATA, group_by="canonical")
    assert len(df) == 2473
    assert df["composition"].is_unique and df.attrs["n_duplicate_compositions"] == 0
    assert df["n_reports"].sum() == 3895


@pytest.mark.data
def test_formation_enthalpy():
    require_shared(ds.FORMATION_ENTHALPY_FILE)
    df = ds.load_formation_enthalpy(data_dir=SHARED_DATA)
    _common_checks(df)
    assert len(df) == 1145
    assert df.attrs["n_missing_dropped"] == 0
    assert df["n_reports"].sum() == df.attrs["n_source_rows"] - df.attrs["n_missing_dropped"]


@pytest.mark.data
def test_metallic():
    require_shared(ds.METALLIC_FILE)
    df = ds.load_metallic(data_dir=SHARED_DATA)
    _common_checks(df)
    assert len(df) == 584
    assert df.attrs["n_missing_dropped"] == 1
    assert df["target"].between(0, 1).all()


@pytest.fixture(scope="module")
def estm300():
    require_shared(ds.ESTM_FILE)
    return {t: ds.load_estm(300, t, data_dir=SHARED_DATA) for t in ds.ESTM_TARGETS}


@pytest.mark.data
@pytest.mark.parametrize("temperature, n_rows, n_canonical", [(300, 358, 356), (600, 188, 187)])
def test_estm_counts_and_window(temperature, n_rows, n_canonical):
    require_shared(ds.ESTM_FILE)
    df = ds.load_estm(temperature, data_dir=SHARED_DATA)
    _common_checks(df)
    low, high = ds.ESTM_WINDOWS[temperature]
    assert len(df) == n_rows and df.attrs["window"] == (low, high)
    assert df["temperature_K"].between(low, high).all()
    assert len(ds.load_estm(temperature, data_dir=SHARED_DATA, group_by="canonical")) == n_canonical


@pytest.mark.data
def test_estm_custom_window_exact_300k():
    require_shared(ds.ESTM_FILE)
    df = ds.load_estm(300, data_dir=SHARED_DATA, window=(300, 300))
    assert df.attrs["n_source_rows"] == 249 and len(df) == 245
    assert (df["temperature_K"] == 300).all()


@pytest.mark.data
def test_estm_log_targets(estm300):
    ec, tc = estm300["electrical_conductivity"], estm300["thermal_conductivity"]
    np.testing.assert_allclose(ec["target"], np.log(ec["electrical_conductivity"]))
    np.testing.assert_allclose(tc["target"], np.log(tc["thermal_conductivity"]))
    assert ec.attrs["transform"] == tc.attrs["transform"] == "log"


@pytest.mark.data
def test_estm_seebeck_minmax(estm300):
    df = estm300["seebeck"]
    assert df["target"].between(0, 1).all()
    assert df["target"].min() == 0 and df["target"].max() == 1
    assert df.attrs["seebeck_min"] == df["seebeck_uV_per_K"].min()
    assert df.attrs["seebeck_max"] == df["seebeck_uV_per_K"].max()
    np.testing.assert_allclose(ds.seebeck_from_scaled(df["target"], df.attrs), df["seebeck_uV_per_K"])


@pytest.mark.data
def test_estm_raw_columns_give_zt(estm300):
    df = estm300["seebeck"]
    single = df[df["n_reports"] == 1]
    zt = ds.thermoelectric_zt(single["seebeck_uV_per_K"], single["electrical_conductivity"],
                              single["thermal_conductivity"], single["temperature_K"])
    assert np.median(np.abs(zt / single["ZT"] - 1)) < 1e-6


# --------------------------------------------------------------------------
# matbench folds (real files)
# --------------------------------------------------------------------------
@pytest.mark.data
@pytest.mark.parametrize("task", ds.MATBENCH_TASKS)
def test_matbench_fold0_loads_and_is_disjoint(task):
    require_shared(f"{ds.MATBENCH_DIR}/{task}/train0.csv")
    folds = ds.load_matbench_crabnet(task, 0, data_dir=SHARED_DATA)
    assert set(folds) == {"train", "val", "test"}
    for frame in folds.values():
        assert len(frame) > 0 and np.isfinite(frame["target"]).all()
        assert frame.attrs["log_target"] == (task in ds.MATBENCH_LOG_TASKS)
        expected = np.log(frame["target_raw"]) if frame.attrs["log_target"] else frame["target_raw"]
        np.testing.assert_allclose(frame["target"], expected)
    train, test = _reduced(folds["train"]["formula"]), _reduced(folds["test"]["formula"])
    assert not train & test
    assert not train & _reduced(folds["val"]["formula"])


@pytest.mark.data
def test_matbench_log_tasks_are_exactly_the_strictly_positive_ones():
    require_shared(f"{ds.MATBENCH_DIR}/jdft2d/train0.csv")
    for task in ds.MATBENCH_TASKS:
        folds = ds.load_matbench_crabnet(task, 0, data_dir=SHARED_DATA)
        raw = pd.concat([f["target_raw"] for f in folds.values()])
        assert (raw > 0).all() == (task in ds.MATBENCH_LOG_TASKS), task


@pytest.mark.data
def test_matbench_all_folds_of_a_small_task():
    require_shared(f"{ds.MATBENCH_DIR}/jdft2d/test4.csv")
    tests = []
    for fold in range(5):
        folds = ds.load_matbench_crabnet("jdft2d", fold, data_dir=SHARED_DATA)
        assert not _reduced(folds["train"]["formula"]) & _reduced(folds["test"]["formula"])
        tests.append(_reduced(folds["test"]["formula"]))
    assert all(not a & b for i, a in enumerate(tests) for b in tests[i + 1:])


def test_matbench_mp_splits_are_72_8_20_and_partition_the_rows():
    n = 1003
    tests = []
    for fold in range(5):
        split = ds.matbench_mp_split(n, fold)
        rows = np.concatenate(list(split.values()))
        assert np.array_equal(np.sort(rows), np.arange(n))  # each row in exactly one split
        assert abs(len(split["test"]) / n - 0.2) < 0.01 and abs(len(split["val"]) / n - 0.08) < 0.01
        tests.append(set(split["test"]))
    assert set().union(*tests) == set(range(n)) and sum(map(len, tests)) == n
    assert np.array_equal(ds.matbench_mp_split(n, 2)["val"], ds.matbench_mp_split(n, 2)["val"])


@pytest.mark.data
@pytest.mark.slow
@pytest.mark.parametrize("task", ds.MATBENCH_MP_TASKS)
def test_matbench_mp_tables_group_polymorphs_by_reduced_composition(task):
    require_shared(f"{ds.MATBENCH_MP_DIR}/{task}.csv")
    table = ds.load_matbench_mp(task, data_dir=SHARED_DATA)
    raw = pd.read_csv(SHARED_DATA / ds.MATBENCH_MP_DIR / f"{task}.csv")
    assert table.attrs["n_source_rows"] == len(raw) == table["n_reports"].sum()
    assert table["composition"].is_unique and np.isfinite(table["target"]).all()
    assert len(table) == len(_reduced(raw["formula"].unique()))
    # every SiO2 entry (Si3O6, Si4O8, ...) is one row; its value follows the documented polymorph rule
    silica = raw["formula"].str.extract(r"^O(\d+)Si(\d+)$").astype(float)  # the file spells O8Si4
    polymorphs = raw.loc[silica[0] == 2 * silica[1], "target"]
    value = table.set_index("composition").loc["SiO2", "target"]
    expected = polymorphs.min() if task == "mp_e_form" else polymorphs.mean()
    assert len(polymorphs) > 1 and value == pytest.approx(expected)
    fold = ds.load_matbench(task, 0, data_dir=SHARED_DATA)
    assert not set(fold["train"]["composition"]) & set(fold["test"]["composition"])
    assert sum(map(len, fold.values())) == len(table)


@pytest.mark.data
def test_mp_polymorph_counts_match_the_corpus_file():
    require_shared(ds.MP_INDEX_FILE)
    counts = ds.mp_polymorph_counts()
    assert counts.sum() == 144_861  # every structure of mp_structures_id_lt2M.jsonl.gz, before graph checks
    assert counts["SiO2"] >= 2 and (counts >= 2).sum() < len(counts)
    assert counts["NaN"] == 3  # sodium nitride, not a missing value


# --------------------------------------------------------------------------
# task table and the paper's numbers
# --------------------------------------------------------------------------
def test_task_table_matches_tasks_and_scales():
    assert list(ds.TASK_TABLE) == list(ds.TASKS) == list(ds.MAE_SCALE)
    for name, task in ds.TASK_TABLE.items():
        assert task.name == name and task.mae_scale == ds.MAE_SCALE[name]
        assert task.file and task.reference and task.unit and task.expected_rows > 0


@pytest.mark.data
@pytest.mark.parametrize("name", list(ds.TASK_TABLE))
def test_task_table_expected_rows(name):
    task = ds.TASK_TABLE[name]
    require_shared(task.file)
    assert len(task.loader(data_dir=SHARED_DATA)) == task.expected_rows


def test_paper_tables_are_complete():
    from polysrl_sklearn.datasets import paper

    for table, columns in ((paper.TABLE1, paper.WET_LAB_TASKS + ("zt300", "zt600")),
                           (paper.TABLE2, paper.WET_LAB_TASKS), (paper.TABLE6, paper.TABLE6_TASKS)):
        assert {"rand_init", "polysrl"} <= set(table)
        for row in table.values():
            assert tuple(row) == columns
            assert all(0 < mean < 2 and 0 < std < mean for mean, std in row.values())
    assert paper.PAPER_POLYSRL["band_gap"] == paper.TABLE1["polysrl"]["band_gap"][0]
