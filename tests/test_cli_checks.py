"""CLI refusals and messages (issue 16, item 7): resume checks, Ctrl-C, help."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import prototype_structures
from test_cli_pretrain import write_jsonl

from polysrl_sklearn import pretraining
from polysrl_sklearn.cli import main

REPOSITORY = Path(__file__).resolve().parents[1]


def pretrain_args(tmp_path: Path, *extra: str, epochs: int = 1, hidden_dim: int = 8) -> list[str]:
    return ["pretrain", "--data", str(tmp_path / "mp.jsonl.gz"), "--checkpoint", str(tmp_path / "run.ckpt"),
            "--epochs", str(epochs), "--hidden-dim", str(hidden_dim), "--batch-size", "4", "--holdout", "0",
            "--n-jobs", "1", "--cache-dir", str(tmp_path / "cache"), "--device", "cpu", "--seed", "3", *extra]


@pytest.fixture
def corpus_file(tmp_path: Path) -> Path:
    write_jsonl(tmp_path / "mp.jsonl.gz", prototype_structures())
    return tmp_path / "mp.jsonl.gz"


def refusal(argv: list[str]) -> str:
    """The one-line message with which ``polysrl`` refuses ``argv``."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    message = str(info.value.code)
    assert "\n" not in message, message
    return message


@pytest.mark.slow
def test_resume_without_a_checkpoint_says_so_and_starts_a_new_run(tmp_path, corpus_file, capsys):
    assert main(pretrain_args(tmp_path, "--resume")) == 0
    assert f"no checkpoint at {tmp_path / 'run.ckpt'} yet; starting a new run" in capsys.readouterr().err
    assert (tmp_path / "run.ckpt").is_file()


@pytest.mark.slow
def test_resume_of_another_corpus_model_or_file_is_refused(tmp_path, corpus_file):
    assert main(pretrain_args(tmp_path)) == 0
    assert "another corpus" in refusal(pretrain_args(tmp_path, "--resume", "--limit", "10", epochs=2))
    assert "hidden_dim=8" in refusal(pretrain_args(tmp_path, "--resume", epochs=2, hidden_dim=4))
    assert "learning_rate" in refusal(pretrain_args(tmp_path, "--resume", "--learning-rate", "0.5", epochs=2))
    (tmp_path / "run.ckpt").write_text("not a checkpoint")
    assert str(tmp_path / "run.ckpt") in refusal(pretrain_args(tmp_path, "--resume", epochs=2))


@pytest.mark.slow
def test_ctrl_c_says_the_checkpoint_is_safe_and_how_to_resume(tmp_path, corpus_file, monkeypatch, capsys):
    real = pretraining.pretrain

    def interrupt_after_first_epoch(*args, **kwargs):
        def stop(epoch, network, history):
            raise KeyboardInterrupt
        return real(*args, **{**kwargs, "on_epoch_end": stop})

    monkeypatch.setattr(pretraining, "pretrain", interrupt_after_first_epoch)
    assert main(pretrain_args(tmp_path, epochs=2)) == 130
    message = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"safe in {tmp_path / 'run.ckpt'}" in message and message.endswith("--resume")
    monkeypatch.setattr(pretraining, "pretrain", real)
    resume_argv = message.split("resume with: ")[1].split()[1:]  # drop the program name
    assert main(resume_argv) == 0


def test_benchmark_help_lists_every_task(capsys):
    from polysrl_sklearn.datasets import MATBENCH_MP_TASKS, MATBENCH_TASKS, TASKS

    with pytest.raises(SystemExit):
        main(["benchmark", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for task in [*TASKS, *MATBENCH_TASKS, *MATBENCH_MP_TASKS]:
        assert task in text, task


@pytest.mark.slow
def test_help_imports_neither_torch_nor_pandas():
    """``polysrl --help`` stays fast by not importing the heavy libraries (behaviour, not a timing)."""
    code = ("import sys\nfrom polysrl_sklearn.cli import main\ntry:\n    main(['--help'])\n"
            "except SystemExit:\n    pass\nprint(sorted(m for m in ('torch', 'pandas', 'pymatgen') if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPOSITORY), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_export_of_a_damaged_checkpoint_is_refused_in_one_line(tmp_path):
    (tmp_path / "run.ckpt").write_bytes(b"")
    assert "run.ckpt: the file is empty" in refusal(["export", str(tmp_path / "run.ckpt"), str(tmp_path / "m.pt")])
    assert "missing.ckpt" in refusal(["export", str(tmp_path / "missing.ckpt"), str(tmp_path / "m.pt")])
