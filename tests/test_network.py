"""ModelConfig, PolySRLNetwork and the checkpoint file format (save, load and its errors)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from polysrl_sklearn.network import CHECKPOINT_FORMAT, ModelConfig, PolySRLNetwork, load_checkpoint, save_checkpoint
from polysrl_sklearn.recipes import get_recipe


def small_network(objective: str = "polysrl") -> PolySRLNetwork:
    torch.manual_seed(0)
    return PolySRLNetwork(ModelConfig(hidden_dim=8, objective=objective))


def test_small_checkpoint_keeps_only_the_stoichiometry_encoder(tmp_path):
    network = small_network()
    save_checkpoint(tmp_path / "m.pt", network, extra={"history": [{"epoch": 1}]})
    loaded, payload = load_checkpoint(tmp_path / "m.pt")
    assert payload["format"] == CHECKPOINT_FORMAT and payload["history"] == [{"epoch": 1}]
    assert all(key.startswith("stoichiometry.") for key in payload["state_dict"])
    assert loaded.config == network.config
    for key, value in network.stoichiometry.state_dict().items():
        assert torch.equal(loaded.stoichiometry.state_dict()[key], value), key


def test_full_checkpoint_round_trips_every_weight(tmp_path):
    network = small_network("supervised")
    save_checkpoint(tmp_path / "full.ckpt", network, full=True)
    loaded, _ = load_checkpoint(tmp_path / "full.ckpt")
    assert set(loaded.state_dict()) == set(network.state_dict())
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in network.state_dict().items())


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="no_such.pt"):
        load_checkpoint(tmp_path / "no_such.pt")


def test_other_format_is_refused(tmp_path):
    network = small_network()
    save_checkpoint(tmp_path / "m.pt", network)
    payload = torch.load(tmp_path / "m.pt", weights_only=False)
    payload["format"] = CHECKPOINT_FORMAT + 1
    torch.save(payload, tmp_path / "future.pt")
    with pytest.raises(ValueError, match="future.pt.*format"):
        load_checkpoint(tmp_path / "future.pt")


def test_mismatched_weights_are_refused(tmp_path):
    network = small_network()
    save_checkpoint(tmp_path / "m.pt", network)
    payload = torch.load(tmp_path / "m.pt", weights_only=False)
    payload["config"]["hidden_dim"] = 16  # the weights are 8 wide
    torch.save(payload, tmp_path / "wide.pt")
    with pytest.raises(ValueError, match="wide.pt: the weights do not fit.*size mismatch"):
        load_checkpoint(tmp_path / "wide.pt")
    del payload["state_dict"]["stoichiometry.input.weight"]
    del payload["state_sha256"]  # as a file of an older version, which stored no weight checksum
    payload["config"]["hidden_dim"] = 8
    torch.save(payload, tmp_path / "partial.pt")
    with pytest.raises(ValueError, match="partial.pt: mismatched weights.*input.weight"):
        load_checkpoint(tmp_path / "partial.pt")


def test_other_element_table_is_refused(tmp_path):
    network = small_network()
    save_checkpoint(tmp_path / "m.pt", network)
    payload = torch.load(tmp_path / "m.pt", weights_only=False)
    payload["config"]["element_symbols"] = tuple(reversed(payload["config"]["element_symbols"]))
    torch.save(payload, tmp_path / "elements.pt")
    with pytest.raises(ValueError, match="element table"):
        load_checkpoint(tmp_path / "elements.pt")


def test_unknown_objective_is_refused():
    with pytest.raises(ValueError, match="unknown objective 'magic'"):
        PolySRLNetwork(ModelConfig(hidden_dim=8, objective="magic"))


def test_config_from_a_recipe_and_the_property_head():
    config = ModelConfig(**get_recipe("paper").architecture(), objective="supervised")
    assert dataclasses.asdict(config)["structure_pooling"] == "sum" and config.hidden_dim == 200
    network = small_network("supervised")
    assert network.property_head.out_features == 1
    assert not hasattr(small_network("infomax"), "property_head")
    assert repr(network).splitlines()[1].strip() == "objective='supervised'"
