"""Featurization on Dask: ``featurize_dask`` and ``polysrl featurize --scheduler`` give transform's bits, in order."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe", reason="needs the dask extra")
distributed = pytest.importorskip("distributed", reason="needs the dask extra")
pq = pytest.importorskip("pyarrow.parquet", reason="needs the dask extra")

from test_featurize_command import BAD, assert_same_table, expected_features, table  # noqa: E402

from polysrl_sklearn.chunk_featurize import ERROR_COLUMN  # noqa: E402
from polysrl_sklearn.distributed import featurize_dask  # noqa: E402
from polysrl_sklearn.featurize_job import featurize_file  # noqa: E402
from polysrl_sklearn.model_cache import load_count  # noqa: E402
from polysrl_sklearn.random_formulas import random_formulas  # noqa: E402


def shuffled_index(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The frame under a shuffled integer index, so that keeping the order is not sorting by index."""
    return frame.set_index(pd.Index(np.random.default_rng(seed).permutation(len(frame)) * 7, name="key"))


def test_featurize_dask_keeps_index_order_and_errors(featurizer, names):
    frame = shuffled_index(table(700))
    out = featurize_dask(dd.from_pandas(frame, npartitions=5, sort=False), "formula", "default", "cpu").compute()
    pd.testing.assert_index_equal(out.index, frame.index)
    pd.testing.assert_frame_equal(out[list(frame.columns)], frame, check_dtype=False)  # dask may store strings as arrow
    np.testing.assert_array_equal(out[names].to_numpy(), expected_features(featurizer, frame["formula"].tolist()))
    assert out[ERROR_COLUMN].notna().sum() == len(BAD)


def test_featurize_dask_refuses_before_any_task_runs():
    ddf = dd.from_pandas(pd.DataFrame({"formula": ["NaCl"]}), npartitions=1)
    with pytest.raises(KeyError, match="no column 'smiles'"):
        featurize_dask(ddf, "smiles")
    with pytest.raises(ValueError, match="random-init encoder"):
        featurize_dask(ddf, "formula", pretrained=None)
    with pytest.raises(FileNotFoundError, match="neither a shipped model"):
        featurize_dask(ddf, "formula", pretrained="missing.pt")


def test_the_scheduler_option_gives_the_in_process_output(tmp_path):
    """--scheduler on a (threaded, quick to start) cluster: the same file as the in-process run."""
    table(900).to_csv(tmp_path / "in.csv", index=False)
    featurize_file(tmp_path / "in.csv", tmp_path / "local.parquet", chunk_size=100, device="cpu", progress=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        summary = featurize_file(tmp_path / "in.csv", tmp_path / "dask.parquet", chunk_size=100, device="cpu",
                                 scheduler=cluster.scheduler_address, progress=False)
    assert (summary.rows, summary.errors, summary.chunks) == (900, len(BAD), 9)
    assert_same_table(pq.read_table(tmp_path / "dask.parquet"), pq.read_table(tmp_path / "local.parquet"))


@pytest.mark.skipif(sys.platform == "win32", reason="no forkserver on Windows")
def test_local_cluster_workers_start_with_the_package_imported():
    from polysrl_sklearn.distributed import connect

    # eval is pickled by name, so the probe itself imports nothing into the worker
    probe = "(sorted({'torch', 'torch_geometric', 'polysrl_sklearn.featurizer'} - set(__import__('sys').modules)), "\
            "__import__('torch').get_num_threads())"
    with connect("local", 1) as client:
        (found,) = client.run(eval, probe).values()
    assert found == ([], 1)  # imported by the forkserver before the fork; one torch thread per worker


def test_importing_without_dask_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.dataframe", None)  # "import dask.dataframe" now raises ImportError
    monkeypatch.delitem(sys.modules, "polysrl_sklearn.distributed")
    with pytest.raises(ImportError, match=r'polysrl_sklearn.distributed needs dask.*pip install "polysrl-sklearn\[dask\]"'):
        importlib.import_module("polysrl_sklearn.distributed")


@pytest.mark.slow
def test_two_worker_processes_match_in_process_transform_bit_for_bit(tmp_path, featurizer, names):
    """The issue's acceptance test: 100,000 formulas on a LocalCluster of 2 processes x 1 thread."""
    formulas = random_formulas(100_000, seed=17)
    frame = shuffled_index(pd.DataFrame({"formula": formulas, "row": np.arange(len(formulas))}))
    reference = featurizer.transform(formulas)  # one in-process call
    frame.to_parquet(tmp_path / "in.parquet")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        out = featurize_dask(dd.from_pandas(frame, npartitions=8, sort=False), "formula", "default",
                             "cpu").compute()
        featurize_file(tmp_path / "in.parquet", tmp_path / "out.parquet", chunk_size=15_000, device="cpu",
                       scheduler=cluster.scheduler_address, progress=False)
        loads = client.run(load_count)
    assert np.array_equal(out[names].to_numpy(), reference)  # bit for bit
    pd.testing.assert_index_equal(out.index, frame.index)
    assert out["row"].tolist() == list(range(len(formulas)))  # input order
    assert out[ERROR_COLUMN].isna().all()
    from_file = pd.read_parquet(tmp_path / "out.parquet")
    pd.testing.assert_index_equal(from_file.index, frame.index)
    assert np.array_equal(from_file[names].to_numpy(), reference)
    # 8 partitions and 7 chunks ran on 2 workers, and each loaded the model once
    assert sorted(loads.values()) == [1, 1], loads
