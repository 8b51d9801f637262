"""Distributed (data-parallel) pretraining: sharding, and 2 gloo ranks against one process.

The 2-rank runs (one ``torch.multiprocessing.spawn`` of 2 CPU processes, a
file store, gloo) train every scenario of ``ddp_scenarios.py`` on the
prototype crystals and compare with the same training in one process.

Tolerances. A 2-rank step is the single-process step of the same global batch
up to float32 rounding: each rank's encoders run on its share of the batch (other
matrix shapes, so other blocking of the sums), and a weight's gradient is the sum
of two partial sums instead of one. Measured: gradients differ by at most
2e-6 of the largest entry of their tensor, weights after 6 to 9 Adam steps by at
most 1.5e-7. The checks allow 1e-5 of the largest gradient entry (a lost or
doubled share of the batch, or a missing world-size factor, changes gradients by
tens of percent) and 1e-5 absolute on the weights (1 % of one Adam step at the
learning rate 1e-3). Adam's update hardly depends on the scale of a gradient,
so the gradient comparison, not the weight comparison, is the check of the
scaling.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import ddp_scenarios as scenarios
import numpy as np
import pytest
import torch
from test_cli_pretrain import write_jsonl

from polysrl_sklearn import ddp
from polysrl_sklearn.network import load_checkpoint
from polysrl_sklearn.sampler import PolymorphBatch, PolymorphBatchSampler

GRADIENT_TOLERANCE = 1e-5  # of the largest entry of each gradient tensor
WEIGHT_TOLERANCE = 1e-5  # absolute


# ------------------------------------------------------------------------------------------------
# Sharding and set-up, in one process


@pytest.mark.parametrize("world_size", [1, 2, 3, 4, 7])
def test_shards_keep_polymorphs_with_their_formula_and_rebuild_the_global_batch(world_size):
    rng = np.random.default_rng(0)
    formula_of_structure = np.repeat(np.arange(40), rng.integers(1, 6, size=40))
    sampler = PolymorphBatchSampler(formula_of_structure, batch_size=9, max_polymorphs=3, seed=1)
    for batch in sampler:  # 9, 9, 9, 9, 4 formulas: fewer than 7 ranks in the last batch
        shards = [scenarios_local(batch, world_size, rank) for rank in range(world_size)]
        counts = [len(local.formulas) for local, _ in shards]
        assert max(counts) - min(counts) <= 1 and sum(counts) == len(batch.formulas)
        assert np.array_equal(np.concatenate([local.formulas for local, _ in shards]), batch.formulas)
        assert np.array_equal(np.concatenate([local.structures for local, _ in shards]), batch.structures)
        owners = [local.owner + shard.formulas.start for local, shard in shards]
        assert np.array_equal(np.concatenate(owners), batch.owner)
        for local, _ in shards:  # every structure of a rank belongs to one of its own formulas
            assert set(formula_of_structure[local.structures]) <= set(local.formulas)
            assert np.array_equal(formula_of_structure[local.structures], local.formulas[local.owner])


def scenarios_local(batch, world_size, rank):
    shard = ddp.shard_batch(batch, world_size, rank)
    assert shard.world_size == world_size and shard.rank == rank
    return ddp.local_batch(batch, shard), shard


def test_shard_batch_refuses_unordered_batches_and_bad_ranks():
    batch = PolymorphBatch(np.array([4, 5]), np.array([0, 1, 2]), np.array([1, 0, 1]))
    with pytest.raises(ValueError, match="grouped by formula"):
        ddp.shard_batch(batch, 2, 0)
    with pytest.raises(ValueError, match="rank 2 is not in 0..1"):
        ddp.shard_batch(PolymorphBatch(np.array([4]), np.array([0]), np.array([0])), 2, 2)


def test_outside_torchrun_there_is_no_process_group():
    assert not ddp.launched_by_torchrun({})
    assert ddp.init_from_environment(environ={"RANK": "0"}) is None
    assert ddp.launched_by_torchrun({"RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2"})
    with pytest.raises(ValueError, match="must be integers"):
        ddp.init_from_environment(environ={"RANK": "x", "LOCAL_RANK": "0", "WORLD_SIZE": "2"})
    with ddp.distributed_from_environment() as context:
        assert context is None
    assert ddp.main_then_broadcast(None, lambda: 42) == 42
    with ddp.main_first(None):
        pass


def test_devices_of_ranks():
    assert ddp.rank_device("cpu", 3) == torch.device("cpu")
    with pytest.raises(ValueError, match="cuda:LOCAL_RANK"):
        ddp.rank_device("cuda:1", 0)
    with pytest.raises(ValueError, match="'cpu' \\(gloo\\) or 'cuda' \\(NCCL\\)"):
        ddp.rank_device("meta", 0)
    if not torch.cuda.is_available():
        assert ddp.rank_device("auto", 1) == torch.device("cpu")
        with pytest.raises(ValueError, match="CUDA is not available"):
            ddp.rank_device("cuda", 0)
    context = ddp.DistributedContext(1, 2, 1, torch.device("cpu"), "gloo")
    assert not context.is_main
    assert context.training_device("auto") == context.training_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="asks for another device"):
        context.training_device("cuda")


def test_gather_rows_checks_the_row_count():
    with pytest.raises(ValueError, match="rank 1 has 2 rows, but counts say 3"):
        ddp.gather_rows(torch.zeros(2, 4), [1, 3], 1)


def test_init_process_group_refuses_a_rank_outside_the_world(tmp_path):
    with pytest.raises(ValueError, match="rank 3 is not in 0..1"):
        ddp.init_process_group(3, 2, "cpu", init_method=f"file://{tmp_path / 'store'}")


# ------------------------------------------------------------------------------------------------
# 2 gloo ranks against one process


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """Every rank's results (see ddp_scenarios.rank_worker), and the folder of their checkpoints."""
    folder = tmp_path_factory.mktemp("ddp")
    corpus = scenarios.make_corpus()
    # the single-process checkpoint of one epoch that the 2 ranks continue (1 -> 2 ranks)
    scenarios.train("polysrl", corpus, epochs=1, checkpoint=folder / "one_rank.ckpt")
    return scenarios.run_ranks(folder, corpus), folder, corpus


def assert_weights_close(expected: dict, got: dict) -> None:
    assert expected.keys() == got.keys()
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=0, atol=WEIGHT_TOLERANCE, msg=key)


def test_every_rank_ends_with_the_same_weights(two_ranks):
    (rank0, rank1), _, _ = two_ranks
    for name in scenarios.SCENARIOS:
        for key, value in rank0["train"][name]["state"].items():
            assert torch.equal(value, rank1["train"][name]["state"][key]), (name, key)
        # every rank computes the loss of the whole global batch: the same history, bit for bit
        assert [h["loss"] for h in rank0["train"][name]["history"]] == [h["loss"] for h in
                                                                        rank1["train"][name]["history"]]


@pytest.mark.parametrize("name", ["polysrl", "supervised"])
def test_averaged_gradient_of_a_global_batch_equals_the_single_process_gradient(two_ranks, name):
    (rank0, rank1), _, corpus = two_ranks
    expected = scenarios.gradient(name, corpus)
    for got in (rank0["gradient"][name], rank1["gradient"][name]):
        torch.testing.assert_close(got["loss"], expected["loss"], rtol=1e-6, atol=0)
        assert expected["grads"].keys() == got["grads"].keys()
        for key, grad in expected["grads"].items():
            # unused parameters (the variance head under "supervised") keep no gradient, as in one process
            assert (grad is None) == (got["grads"][key] is None), key
            if grad is not None:
                scale = float(grad.abs().max())
                torch.testing.assert_close(got["grads"][key], grad, rtol=0, atol=GRADIENT_TOLERANCE * scale + 1e-12,
                                           msg=key)


@pytest.mark.parametrize("name", list(scenarios.SCENARIOS))
def test_two_ranks_train_like_one_process(two_ranks, name):
    (rank0, _), _, corpus = two_ranks
    expected = scenarios.train(name, corpus)
    got = rank0["train"][name]
    assert_weights_close(expected["state"], got["state"])
    assert [h["structure_side"] for h in got["history"]] == [h["structure_side"] for h in expected["history"]]
    assert all(h["ranks"] == 2 and "ranks" not in e for h, e in zip(got["history"], expected["history"]))
    np.testing.assert_allclose([h["loss"] for h in got["history"]], [h["loss"] for h in expected["history"]],
                               rtol=1e-5)


def test_resume_from_one_rank_on_two(two_ranks):
    (rank0, _), _, corpus = two_ranks
    straight = scenarios.train("polysrl", corpus)
    resumed = rank0["resumed_from_1"]
    assert "ranks" not in resumed["history"][0] and resumed["history"][1]["ranks"] == 2
    assert_weights_close(straight["state"], resumed["state"])


def test_resume_from_two_ranks_in_one_process(two_ranks):
    _, folder, corpus = two_ranks
    _, payload = load_checkpoint(folder / "two_ranks.ckpt")
    assert [h["ranks"] for h in payload["history"]] == [2]
    straight = scenarios.train("polysrl", corpus)
    resumed = scenarios.train("polysrl", corpus, checkpoint=folder / "two_ranks.ckpt", resume=True)
    assert_weights_close(straight["state"], resumed["state"])
    np.testing.assert_allclose([h["loss"] for h in resumed["history"]], [h["loss"] for h in straight["history"]],
                               rtol=1e-5)


# ------------------------------------------------------------------------------------------------
# The command line under torchrun


@pytest.mark.slow
def test_torchrun_pretrain_command_and_resume_in_one_process(tmp_path):
    from conftest import prototype_structures

    from polysrl_sklearn.cli import main

    write_jsonl(tmp_path / "mp.jsonl.gz", prototype_structures())

    def args(name, epochs):
        return ["pretrain", "--data", str(tmp_path / "mp.jsonl.gz"), "--checkpoint", str(tmp_path / f"{name}.ckpt"),
                "--export", str(tmp_path / f"{name}.pt"), "--epochs", str(epochs), "--hidden-dim", "8",
                "--batch-size", "5", "--holdout", "0", "--n-jobs", "1", "--cache-dir", str(tmp_path / "cache"),
                "--device", "cpu", "--seed", "3", "--threads", "1"]

    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "polysrl_sklearn.cli", *args("ddp", 1)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stderr[-5000:]
    # rank 0 alone prints the corpus, the export and the history
    assert result.stdout.count("corpus: 14 structures") == 1 and result.stdout.count('"ranks": 2') == 1
    exported, payload = load_checkpoint(tmp_path / "ddp.pt")
    assert [h["ranks"] for h in payload["history"]] == [2] and "optimizer" not in payload
    # continue the 2-rank run in one process; it ends where an uninterrupted single-process run ends
    assert main(args("ddp", 2) + ["--resume"]) == 0
    assert main(args("single", 2)) == 0
    resumed, a = load_checkpoint(tmp_path / "ddp.ckpt")
    single, b = load_checkpoint(tmp_path / "single.ckpt")
    assert [h.get("ranks") for h in a["history"]] == [2, None]
    assert_weights_close(single.state_dict(), resumed.state_dict())
    np.testing.assert_allclose([h["loss"] for h in a["history"]], [h["loss"] for h in b["history"]], rtol=1e-5)
