"""Model files: safe loading, checksums, and errors that name the file (issue 16, item 3)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from polysrl_sklearn import SHIPPED_MODELS, PolySRLFeaturizer, model_files
from polysrl_sklearn.model_files import MANIFEST, STATE_CHECKSUM_KEY, ModelFileError, file_sha256, shipped_checksums
from polysrl_sklearn.network import load_checkpoint

FORMULAS = ["Fe2O3", "NaCl", "SiO2", "GaAs", "Hg0.7Cd0.3Te"]


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory) -> Path:
    """A small random-init model written by this version."""
    path = tmp_path_factory.mktemp("model") / "small.pt"
    PolySRLFeaturizer(pretrained=None, hidden_dim=8, random_state=0).fit([]).save(path)
    return path


def flip_bytes(source: Path, target: Path, count: int = 2000) -> Path:
    """Copy ``source`` to ``target`` with ``count`` bytes inverted in the middle of the file."""
    data = bytearray(source.read_bytes())
    start = len(data) // 2 - count // 2
    data[start:start + count] = bytes(b ^ 0xFF for b in data[start:start + count])
    target.write_bytes(bytes(data))
    return target


def test_every_shipped_model_is_in_the_manifest_and_matches_it():
    files = {path.resolve() for path in SHIPPED_MODELS.values()}
    assert files == set(shipped_checksums())
    for path in files:
        assert file_sha256(path) == shipped_checksums()[path], path


def test_shipped_models_load_with_weights_only():
    for name in SHIPPED_MODELS:
        network, payload = load_checkpoint(SHIPPED_MODELS[name])
        assert payload["format"] == 1 and network.config.hidden_dim > 0


def test_a_shipped_model_with_flipped_bytes_fails_its_manifest_check(tmp_path, monkeypatch):
    original = SHIPPED_MODELS["default"]
    damaged = flip_bytes(original, tmp_path / "polysrl_mp.pt")
    monkeypatch.setattr(model_files, "shipped_checksums",
                        lambda: {damaged.resolve(): file_sha256(original)})
    with pytest.raises(ModelFileError, match=f"{damaged}.*sha256 differs.*{MANIFEST.name}"):
        load_checkpoint(damaged)


def test_saved_files_carry_a_weight_checksum_that_catches_flipped_bytes(saved_model, tmp_path):
    payload = torch.load(saved_model, weights_only=True)
    assert len(payload[STATE_CHECKSUM_KEY]) == 64
    name, tensor = next((k, v) for k, v in payload["state_dict"].items() if v.numel() > 10)
    payload["state_dict"][name] = tensor + 1e-3  # a silent change of the weights only
    tampered = tmp_path / "tampered.pt"
    torch.save(payload, tampered)
    with pytest.raises(ModelFileError, match=f"{tampered}.*checksum"):
        load_checkpoint(tampered)
    with pytest.raises(ModelFileError, match=str(tmp_path / "flipped.pt")):
        load_checkpoint(flip_bytes(saved_model, tmp_path / "flipped.pt"))


@pytest.mark.parametrize("content", [
    pytest.param(b"", id="empty"),
    pytest.param(b"weights: [1, 2, 3]\n", id="text"),
    pytest.param(bytes(range(256)) * 40, id="random_bytes"),
    pytest.param("truncated", id="truncated"),
])
def test_damaged_files_raise_an_error_naming_the_file(content, saved_model, tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(saved_model.read_bytes()[:5000] if content == "truncated" else content)
    with pytest.raises(ModelFileError, match=str(path)):
        load_checkpoint(path)
    with pytest.raises(ModelFileError, match=str(path)):
        PolySRLFeaturizer(pretrained=path).fit([])


def test_a_file_with_arbitrary_objects_is_not_unpickled(tmp_path):
    marker = tmp_path / "code_ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    path = tmp_path / "unsafe.pt"
    torch.save({"format": 1, "config": {}, "state_dict": {}, "extra": Payload()}, path)
    with pytest.raises(ModelFileError, match=f"{path}.*refusing to unpickle"):
        load_checkpoint(path)
    assert not marker.exists()


def test_missing_file_and_unknown_name():
    with pytest.raises(FileNotFoundError, match="no_such_file.pt"):
        load_checkpoint("no_such_file.pt")
    with pytest.raises(FileNotFoundError, match="'no_such_model'.*polysrl_nosample.*supervised"):
        PolySRLFeaturizer(pretrained="no_such_model").fit([])


def test_a_file_of_another_format_is_named(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(ModelFileError, match=f"{path}: not a PolySRL model file"):
        load_checkpoint(path)


def test_save_then_load_gives_the_same_features(saved_model):
    original = PolySRLFeaturizer(pretrained=None, hidden_dim=8, random_state=0).fit([])
    np.testing.assert_array_equal(PolySRLFeaturizer.load(saved_model).transform(FORMULAS),
                                  original.transform(FORMULAS))


def test_a_copy_of_a_shipped_model_loads_like_the_original(tmp_path):
    copy = shutil.copy(SHIPPED_MODELS["default"], tmp_path / "copy.pt")
    np.testing.assert_array_equal(PolySRLFeaturizer(pretrained=copy).fit([]).transform(FORMULAS),
                                  PolySRLFeaturizer().fit([]).transform(FORMULAS))


def _variance_stage_of(model: Path, target: Path) -> Path:
    """``model`` with its variance head redrawn (the shape of a variance stage on a first stage)."""
    network, payload = load_checkpoint(model)
    torch.manual_seed(1)
    network.stoichiometry.var_out.reset_parameters()
    from polysrl_sklearn.network import save_checkpoint

    save_checkpoint(target, network, extra={"history": [{"epoch": 1}]})
    return target


def test_a_delta_stores_only_the_changed_weights_and_loads_bit_for_bit(saved_model, tmp_path):
    from polysrl_sklearn.model_files import BASE_KEY, write_delta
    from polysrl_sklearn.network import CHECKPOINT_FORMAT

    base = Path(shutil.copy(saved_model, tmp_path / "first.pt"))
    stage = _variance_stage_of(base, tmp_path / "elsewhere" / "stage.pt")
    counts = write_delta(stage, base, tmp_path / "stage_delta.pt", CHECKPOINT_FORMAT)
    stored = torch.load(tmp_path / "stage_delta.pt", weights_only=True)
    assert stored[BASE_KEY] == "first.pt" and set(stored["state_dict"]) == {"stoichiometry.var_out.weight",
                                                                             "stoichiometry.var_out.bias"}
    assert counts == {"stored": 2, "shared": len(torch.load(stage, weights_only=True)["state_dict"]) - 2}
    original, payload = load_checkpoint(stage)
    completed, delta_payload = load_checkpoint(tmp_path / "stage_delta.pt")
    assert delta_payload["history"] == payload["history"] and BASE_KEY not in delta_payload
    for name, tensor in original.stoichiometry.state_dict().items():  # small files hold only this part
        assert torch.equal(tensor, completed.stoichiometry.state_dict()[name]), name
    np.testing.assert_array_equal(PolySRLFeaturizer(pretrained=stage).fit([]).transform(FORMULAS),
                                  PolySRLFeaturizer(pretrained=tmp_path / "stage_delta.pt").fit([]).transform(FORMULAS))


def test_a_delta_refuses_a_missing_changed_or_delta_base(saved_model, tmp_path):
    from polysrl_sklearn.model_files import BASE_KEY, write_delta
    from polysrl_sklearn.network import CHECKPOINT_FORMAT

    base = Path(shutil.copy(saved_model, tmp_path / "first.pt"))
    stage = _variance_stage_of(base, tmp_path / "stage.pt")
    delta = tmp_path / "delta.pt"
    write_delta(stage, base, delta, CHECKPOINT_FORMAT)
    with pytest.raises(ModelFileError, match="a delta must be written in its base's folder"):
        write_delta(stage, base, tmp_path / "sub" / "delta.pt", CHECKPOINT_FORMAT)
    with pytest.raises(ModelFileError, match="is a delta already"):
        write_delta(delta, base, tmp_path / "again.pt", CHECKPOINT_FORMAT)
    moved = tmp_path / "moved"
    moved.mkdir()
    shutil.copy(delta, moved / "delta.pt")
    with pytest.raises(ModelFileError, match="differ from first.pt, which is neither in .*moved nor among"):
        load_checkpoint(moved / "delta.pt")
    shutil.copy(delta, moved / "first.pt")  # a delta where the base should be
    with pytest.raises(ModelFileError, match="its base first.pt is itself a delta"):
        load_checkpoint(moved / "delta.pt")
    _variance_stage_of(saved_model, moved / "first.pt")  # a complete file, but not the base
    with pytest.raises(ModelFileError, match="is not the file it was written against"):
        load_checkpoint(moved / "delta.pt")
    payload = torch.load(delta, weights_only=True)
    payload[BASE_KEY] = "../first.pt"
    torch.save(payload, tmp_path / "escaping.pt")
    with pytest.raises(ModelFileError, match="must be the name of a model file in the same folder"):
        load_checkpoint(tmp_path / "escaping.pt")


def test_the_shipped_variance_stages_are_deltas_of_their_first_stage():
    from polysrl_sklearn.model_files import BASE_KEY

    first_stage_of = {**dict.fromkeys(("polysrl_chgnet_mt_variance", "polysrl_chgnet_mt_count",
                                       "polysrl_chgnet_mt_mixtures", "polysrl_chgnet_mt_anchored",
                                       "polysrl_chgnet_mt_error"), "polysrl_chgnet_mt"),
                      "polysrl_chgnet_mt_elements_error": "polysrl_chgnet_mt_elements",
                      "polysrl_chgnet_mt_coordinates_error": "polysrl_chgnet_mt_coordinates"}
    for name, first_stage in first_stage_of.items():
        stored = torch.load(SHIPPED_MODELS[name], weights_only=True)
        assert stored[BASE_KEY] == SHIPPED_MODELS[first_stage].name
        assert all(k.startswith(("stoichiometry.var_pool.", "stoichiometry.var_out.")) for k in stored["state_dict"])


def test_export_writes_a_delta_only_beside_its_base(saved_model, tmp_path, capsys):
    from polysrl_sklearn.cli import main

    base = Path(shutil.copy(saved_model, tmp_path / "first.pt"))
    stage = _variance_stage_of(base, tmp_path / "stage.pt")
    assert main(["export", str(stage), str(tmp_path / "small.pt"), "--delta-of", str(base)]) == 0
    assert "2 weight tensors stored" in capsys.readouterr().out
    assert not list(tmp_path.glob("*.tmp"))
    with pytest.raises(SystemExit, match="--delta-of: .*a delta must be written in its base's folder"):
        main(["export", str(stage), str(tmp_path / "sub" / "small.pt"), "--delta-of", str(base)])
    assert not list((tmp_path / "sub").glob("*"))
