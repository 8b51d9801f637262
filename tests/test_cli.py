"""The ``polysrl`` command: its sub-commands, the recipe flags and ``export``."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import prototype_structures
from test_cli_pretrain import write_jsonl

from polysrl_sklearn.cli import build_parser, main
from polysrl_sklearn.network import load_checkpoint
from polysrl_sklearn.recipes import RECIPES, get_recipe


def subcommands() -> dict:
    parser = build_parser()
    return next(a for a in parser._actions if a.dest == "command").choices


def test_every_subcommand_has_help():
    commands = subcommands()
    assert set(commands) == {"pretrain", "benchmark", "export", "featurize"}
    for name, sub in commands.items():
        assert sub.format_help().startswith(f"usage: polysrl {name}"), name


def test_pretrain_help_lists_each_recipe_and_its_description():
    text = " ".join(subcommands()["pretrain"].format_help().split())
    for name, recipe in RECIPES.items():
        assert f"{name}: {' '.join(recipe.description.split())}" in text


def pretrain(tmp_path, *flags: str) -> dict:
    write_jsonl(tmp_path / "mp.jsonl.gz", prototype_structures())
    args = ["pretrain", "--data", str(tmp_path / "mp.jsonl.gz"), "--checkpoint", str(tmp_path / "run.ckpt"),
            "--export", str(tmp_path / "model.pt"), "--epochs", "1", "--hidden-dim", "8", "--batch-size", "4",
            "--holdout", "0", "--n-jobs", "1", "--cache-dir", str(tmp_path / "cache"), "--device", "cpu", *flags]
    assert main(args) == 0
    _, payload = load_checkpoint(tmp_path / "model.pt")
    return payload


@pytest.mark.parametrize("flags", [("--paper",), ("--recipe", "paper")])
def test_recipe_reaches_the_checkpoint_and_flags_override_it(tmp_path, flags):
    payload = pretrain(tmp_path, *flags, "--cutoff", "5.5")
    expected = get_recipe("paper").replace(hidden_dim=8, epochs=1, batch_size=4, cutoff=5.5)
    config = {k: v for k, v in payload["config"].items()
              if k not in ("objective", "element_symbols", "structure_target_dim", "property_count")}
    assert config == expected.architecture()
    assert {k: payload["settings"][k] for k in expected.training()} == expected.training()


def test_export_writes_the_small_model_of_a_full_checkpoint(tmp_path, capsys):
    pretrain(tmp_path)
    assert main(["export", str(tmp_path / "run.ckpt"), str(tmp_path / "small.pt")]) == 0
    assert "small.pt" in capsys.readouterr().out
    network, payload = load_checkpoint(tmp_path / "small.pt")
    assert network.config.hidden_dim == 8 and len(payload["history"]) == 1
    assert all(key.startswith("stoichiometry.") for key in payload["state_dict"])


@pytest.mark.slow
def test_module_runs_as_the_polysrl_command():
    result = subprocess.run([sys.executable, "-m", "polysrl_sklearn.cli", "--help"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and "pretrain" in result.stdout and "benchmark" in result.stdout


def test_threads_flag_does_not_outlive_the_command(tmp_path):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        write_jsonl(tmp_path / "mp.jsonl.gz", prototype_structures())
        assert main(["pretrain", "--data", str(tmp_path / "mp.jsonl.gz"), "--checkpoint", str(tmp_path / "r.ckpt"),
                     "--epochs", "1", "--hidden-dim", "8", "--batch-size", "4", "--holdout", "0", "--n-jobs", "1",
                     "--cache-dir", str(tmp_path / "cache"), "--device", "cpu", "--threads", "1"]) == 0
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
