"""``polysrl featurize``: CSV and Parquet input, bad rows, chunking, resume, refusals (the in-process path)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pa = pytest.importorskip("pyarrow", reason="polysrl featurize needs the dask extra (pyarrow)")
pq = pytest.importorskip("pyarrow.parquet")

import polysrl_sklearn.featurize_job as featurize_job  # noqa: E402
from polysrl_sklearn import chunk_featurize  # noqa: E402
from polysrl_sklearn.chunk_featurize import ERROR_COLUMN  # noqa: E402
from polysrl_sklearn.cli import main  # noqa: E402
from polysrl_sklearn.featurize_command import DEFAULT_CHUNK_SIZE  # noqa: E402
from polysrl_sklearn.featurize_job import featurize_file, parts_folder  # noqa: E402
from polysrl_sklearn.random_formulas import random_formulas  # noqa: E402

BAD = {"Xx2O3": "Xx", "": "empty", "D2O": "isotope", "Fe0O3": "zero", "Og2": "placeholder"}


def table(n: int = 500, seed: int = 0) -> pd.DataFrame:
    """Random formulas with the bad ones of BAD spread in, a repeat, and two other columns."""
    formulas = random_formulas(n, seed=seed)
    for k, bad in enumerate(BAD):
        formulas[37 * k + 5] = bad
    formulas[-1] = formulas[0]  # a repeated formula
    return pd.DataFrame({"id": np.arange(n) * 3, "formula": formulas, "note": [f"row {i}" for i in range(n)]})


def featurize(tmp_path: Path, frame: pd.DataFrame, *flags: str, suffix: str = ".csv", name: str = "out") -> pd.DataFrame:
    source = tmp_path / f"in{suffix}"
    if not source.exists():
        frame.to_csv(source, index=False) if suffix == ".csv" else frame.to_parquet(source)
    output = tmp_path / f"{name}.parquet"
    assert main(["featurize", str(source), str(output), "--device", "cpu", "--no-progress", *flags]) == 0
    return pd.read_parquet(output)


def expected_features(featurizer, formulas: list[str]) -> np.ndarray:
    """One in-process transform of the good rows; NaN rows for the bad ones."""
    good = [f not in BAD for f in formulas]
    expected = np.full((len(formulas), len(featurizer.get_feature_names_out())), np.nan)
    expected[good] = featurizer.transform([f for f, ok in zip(formulas, good) if ok])
    return expected


def assert_same_table(a: pa.Table, b: pa.Table) -> None:
    """Equal schemas (metadata included) and equal columns, floats bit for bit (NaN included)."""
    assert a.schema.equals(b.schema, check_metadata=True)
    for name in a.column_names:
        x, y = a.column(name), b.column(name)
        if pa.types.is_floating(x.type):
            assert np.array_equal(x.to_numpy().view(np.uint64), y.to_numpy().view(np.uint64)), name
        else:
            assert x.equals(y), name


def test_the_default_chunk_size_is_stated_once():
    assert DEFAULT_CHUNK_SIZE == featurize_job.DEFAULT_CHUNK_SIZE


def test_csv_gives_the_input_columns_features_and_errors_in_input_order(tmp_path, featurizer, names, capsys):
    frame = table()
    out = featurize(tmp_path, frame, "--chunk-size", "128")
    assert list(out.columns) == ["id", "formula", "note", *names, ERROR_COLUMN]
    assert names[-1] == "polysrl_uncertainty"
    pd.testing.assert_frame_equal(out[["id", "formula", "note"]], frame)  # order and values kept
    np.testing.assert_array_equal(out[names].to_numpy(), expected_features(featurizer, frame["formula"].tolist()))
    assert out[names].dtypes.eq(np.float64).all()
    errors = out[ERROR_COLUMN]
    assert errors.notna().sum() == len(BAD)
    for k, (formula, words) in enumerate(BAD.items()):
        row = 37 * k + 5
        assert out.loc[row, names].isna().all()
        assert words in errors[row] and repr(formula) in errors[row] and f"position {row}" in errors[row]
    assert f"wrote {len(frame)} rows" in capsys.readouterr().out


def test_parquet_input_keeps_its_pandas_index_and_column_types(tmp_path, featurizer, names):
    frame = table(300).set_index(pd.Index([f"c{i}" for i in range(300)][::-1], name="candidate"))
    frame["id"] = frame["id"].astype("int32")
    out = featurize(tmp_path, frame, "--chunk-size", "64", suffix=".parquet")
    pd.testing.assert_frame_equal(out[["id", "formula", "note"]], frame)
    np.testing.assert_array_equal(out[names].to_numpy(), expected_features(featurizer, frame["formula"].tolist()))


@pytest.mark.parametrize("rows, chunk_size", [(40, 1), (451, 7), (451, 450), (451, 10_000)])
def test_chunking_never_changes_a_bit(tmp_path, featurizer, names, rows, chunk_size):
    # chunks of 7 leave a last chunk of 3 formulas and chunks of 450 one of 1; a forward pass of 1 to 3
    # compositions rounds differently unless the chunk is padded (chunk_featurize.MIN_PASS)
    frame = pd.DataFrame({"formula": random_formulas(rows, seed=3)})
    out = featurize(tmp_path, frame, "--chunk-size", str(chunk_size))
    large = featurizer.transform([*frame["formula"], *random_formulas(100, seed=6)])[:rows]
    np.testing.assert_array_equal(out[names].to_numpy(), large)


def test_a_single_formula_gets_the_features_of_a_large_transform(featurizer):
    formulas = random_formulas(200, seed=4)
    features, errors = chunk_featurize.featurize_items(formulas[-1:], featurizer)
    assert errors == [None]
    np.testing.assert_array_equal(features[0], featurizer.transform(formulas)[-1])


def test_missing_values_in_a_parquet_column_are_errors(tmp_path, names):
    frame = pd.DataFrame({"formula": pd.array(["NaCl", None, "Fe2O3"], dtype="string")})
    out = featurize(tmp_path, frame, suffix=".parquet")
    assert out[ERROR_COLUMN].isna().tolist() == [True, False, True]
    assert "missing" in out.loc[1, ERROR_COLUMN] and out.loc[1, names].isna().all()


def test_a_model_file_and_another_column_name(tmp_path, small_fitted):
    small_fitted.save(tmp_path / "small.pt")
    frame = pd.DataFrame({"composition": ["NaCl", "Fe2O3", "ZnS"]})
    out = featurize(tmp_path, frame, "--column", "composition", "--model", str(tmp_path / "small.pt"))
    assert out.shape == (3, 1 + 16 + 1 + 1)
    # as in a large transform (a transform of only 3 formulas rounds differently: chunk_featurize.MIN_PASS)
    large = small_fitted.transform([*frame["composition"], *random_formulas(100)])[:3]
    np.testing.assert_array_equal(out.iloc[:, 1:-1].to_numpy(), large)


def test_an_empty_input_gives_an_empty_output_with_every_column(tmp_path, names):
    (tmp_path / "in.csv").write_text("formula,y\n")
    out = featurize(tmp_path, pd.DataFrame())
    assert len(out) == 0 and list(out.columns) == ["formula", "y", *names, ERROR_COLUMN]


class Interrupt:
    """Stands in for ``run_chunk``: runs the first ``after`` chunks, then raises KeyboardInterrupt (Ctrl-C)."""

    def __init__(self, after: int) -> None:
        self.after, self.calls, self.run_chunk = after, 0, featurize_job.run_chunk

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls > self.after:
            raise KeyboardInterrupt
        return self.run_chunk(*args, **kwargs)


def test_resume_after_ctrl_c_equals_an_uninterrupted_run(tmp_path, monkeypatch, capsys):
    frame = table(1000)
    source, whole, resumed = tmp_path / "in.csv", tmp_path / "whole.parquet", tmp_path / "resumed.parquet"
    frame.to_csv(source, index=False)
    args = ["featurize", str(source), str(resumed), "--chunk-size", "128", "--device", "cpu", "--no-progress"]
    assert main(["featurize", str(source), str(whole), "--chunk-size", "128", "--device", "cpu",
                 "--no-progress"]) == 0

    monkeypatch.setattr(featurize_job, "run_chunk", Interrupt(after=3))
    assert main(args) == 130
    assert "--resume" in capsys.readouterr().err
    parts = parts_folder(resumed)
    assert sorted(p.name for p in parts.glob("part-*")) == [f"part-{i:06d}.parquet" for i in range(3)]
    assert not resumed.exists()
    monkeypatch.undo()

    assert main([*args, "--resume"]) == 0
    assert "3 of 8 chunks from the interrupted run" in capsys.readouterr().out
    assert not parts.exists()
    assert_same_table(pq.read_table(resumed), pq.read_table(whole))


def test_resume_refuses_the_parts_of_another_job(tmp_path, monkeypatch, capsys):
    frame = table(300)
    source, output = tmp_path / "in.csv", tmp_path / "out.parquet"
    frame.to_csv(source, index=False)
    args = ["featurize", str(source), str(output), "--chunk-size", "100", "--device", "cpu", "--no-progress"]
    monkeypatch.setattr(featurize_job, "run_chunk", Interrupt(after=1))
    assert main(args) == 130
    monkeypatch.undo()
    with pytest.raises(SystemExit, match="holds the part files of an unfinished run"):
        main(args)  # without --resume
    with pytest.raises(SystemExit, match="chunk_size: 100 then, 50 now"):
        main([*args[:3], "--chunk-size", "50", *args[5:], "--resume"])
    with pytest.raises(SystemExit, match="model_sha256"):
        main([*args, "--resume", "--model", "graphcl"])
    frame.iloc[:200].to_csv(source, index=False)
    with pytest.raises(SystemExit, match="rows: 300 then, 200 now"):
        main([*args, "--resume"])
    manifest = json.loads((parts_folder(output) / "manifest.json").read_text())
    assert manifest["column"] == "formula" and manifest["chunk_size"] == 100


def test_resume_without_parts_starts_a_new_run(tmp_path, capsys):
    out = featurize(tmp_path, table(200), "--resume")
    assert len(out) == 200 and "starting a new run" in capsys.readouterr().err


@pytest.mark.parametrize("flags, message", [
    (["--column", "smiles"], "no column 'smiles' in the input; its columns are ['id', 'formula', 'note']"),
    (["--model", "rand_init"], "random-init encoder"),
    (["--model", "nope.pt"], "neither a shipped model"),
    (["--chunk-size", "0"], "chunk_size must be at least 1"),
])
def test_refusals_name_the_problem(tmp_path, flags, message):
    table(200).to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(SystemExit, match=message.replace("[", r"\[").replace("]", r"\]")):
        main(["featurize", str(tmp_path / "in.csv"), str(tmp_path / "out.parquet"), "--no-progress", *flags])


def test_an_existing_output_or_an_input_with_an_output_column_is_refused(tmp_path, names):
    featurize(tmp_path, table(200))
    args = ["featurize", str(tmp_path / "in.csv"), str(tmp_path / "out.parquet"), "--device", "cpu", "--no-progress"]
    with pytest.raises(SystemExit, match="exists; remove it or pass overwrite=True"):
        main(args)
    assert main([*args, "--overwrite"]) == 0
    table(200).assign(polysrl_uncertainty=1.0).to_csv(tmp_path / "in2.csv", index=False)
    with pytest.raises(SystemExit, match=r"already has column\(s\) \['polysrl_uncertainty'\]"):
        main(["featurize", str(tmp_path / "in2.csv"), str(tmp_path / "out2.parquet"), "--no-progress"])


def test_without_pyarrow_the_error_names_the_extra(tmp_path, monkeypatch):
    table(200).to_csv(tmp_path / "in.csv", index=False)
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # "import pyarrow" now raises ImportError
    with pytest.raises(SystemExit, match=r'pip install "polysrl-sklearn\[dask\]"'):
        main(["featurize", str(tmp_path / "in.csv"), str(tmp_path / "out.parquet"), "--no-progress"])


def test_featurize_file_returns_a_summary(tmp_path):
    table(300).to_csv(tmp_path / "in.csv", index=False)
    summary = featurize_file(tmp_path / "in.csv", tmp_path / "out.parquet", chunk_size=128, device="cpu",
                             progress=False)
    assert (summary.rows, summary.errors, summary.chunks, summary.reused_chunks) == (300, len(BAD), 3, 0)


@pytest.mark.slow
def test_a_killed_process_resumes_to_the_same_output(tmp_path):
    """SIGKILL (no clean-up at all) in the middle of a run; the resumed output equals an uninterrupted one."""
    pd.DataFrame({"formula": random_formulas(60_000, seed=5)}).to_csv(tmp_path / "in.csv", index=False)
    command = [sys.executable, "-m", "polysrl_sklearn.cli", "featurize", str(tmp_path / "in.csv"),
               str(tmp_path / "killed.parquet"), "--chunk-size", "500", "--device", "cpu", "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parts = parts_folder(tmp_path / "killed.parquet")
    deadline = time.time() + 300
    while len(list(parts.glob("part-*.parquet"))) < 10 and process.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    written = len(list(parts.glob("part-*.parquet")))
    assert 10 <= written < 120, f"the run was not killed in the middle ({written} of 120 parts)"
    resumed = subprocess.run([*command, "--resume"], env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{written} of 120 chunks from the interrupted run" in resumed.stdout  # every part left is whole
    assert main(["featurize", str(tmp_path / "in.csv"), str(tmp_path / "whole.parquet"), "--chunk-size", "500",
                 "--device", "cpu", "--no-progress"]) == 0
    assert_same_table(pq.read_table(tmp_path / "killed.parquet"), pq.read_table(tmp_path / "whole.parquet"))


def test_part_assembler_keeps_input_order_whatever_order_parts_finish_in(tmp_path):
    from polysrl_sklearn.table_io import PartAssembler

    parts = [tmp_path / f"part-{i}.parquet" for i in range(3)]
    for i, part in enumerate(parts):
        pq.write_table(pa.table({"formula": [f"Fe{i}O", f"Ni{i}O"], "x": [float(i), float(i) + 0.5]}), part)
    schema = pa.schema([("formula", pa.string())])
    output = tmp_path / "out.parquet"
    with PartAssembler(parts, output, schema, ["x"]) as assembler:
        assembler.ready(2)
        assert assembler.written == 0  # part 2 waits for parts 0 and 1
        assembler.ready(0)
        assert assembler.written == 1
        with pytest.raises(RuntimeError, match="2 of 3 parts are not in yet"):
            assembler.finish()
        assembler.ready(1)
        assert assembler.written == 3
        assembler.finish()
    assert pq.read_table(output).column("x").to_pylist() == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert not list(tmp_path.glob("out.parquet.tmp-*"))


def test_part_assembler_removes_its_temporary_file_when_left_unfinished(tmp_path):
    from polysrl_sklearn.table_io import PartAssembler

    part = tmp_path / "part-0.parquet"
    pq.write_table(pa.table({"formula": ["NaCl"], "x": [1.0]}), part)
    output = tmp_path / "out.parquet"
    with PartAssembler([part, tmp_path / "part-1.parquet"], output, pa.schema([("formula", pa.string())]),
                       ["x"]) as assembler:
        assembler.ready(0)
    assert not output.exists() and not list(tmp_path.glob("out.parquet.tmp-*"))
