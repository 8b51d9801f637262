"""Reading model files safely: tensors and plain data only, checksums, errors that name the file.

* Files are read with ``torch.load(weights_only=True)``: only tensors and
  plain Python data (dict, list, str, numbers) are unpickled, so a file can
  never run code when loaded.
* Each model shipped with the package has its sha256 in
  ``pretrained/SHA256SUMS`` (the format of ``sha256sum -c``), checked every
  time the file is loaded. Whoever replaces a shipped model regenerates it:
  ``cd polysrl_sklearn/pretrained && sha256sum polysrl_mp.pt polysrl_chgnet_mt.pt
  polysrl_chgnet_mt_variance.pt polysrl_chgnet_mt_count.pt polysrl_chgnet_mt_mixtures.pt
  polysrl_chgnet_mt_anchored.pt polysrl_chgnet_mt_error.pt polysrl_chgnet_mt_elements.pt
  polysrl_chgnet_mt_elements_error.pt polysrl_chgnet_mt_coordinates.pt polysrl_chgnet_mt_coordinates_error.pt
  baselines/*.pt baselines_chgnet_mt/*.pt > SHA256SUMS``.
* Files written by this version also store a sha256 of their weights
  (:func:`state_checksum`), checked at load, so flipped bytes in the
  weights of any file are found too.
* A file may store only the weights in which it differs from another model
  file in the same folder, its *base* (:func:`write_delta`): the shipped
  models that differ from ``polysrl_chgnet_mt`` only in the variance head are
  stored that way, which keeps the package a third smaller. Loading
  completes the weights from the base (looked up beside the delta, then
  among the shipped models, so a copy of a shipped delta loads anywhere),
  checks that the base is the very file the delta was written against, and
  checks the completed weights against the checksum of the original file,
  so a delta loads bit for bit as the model it was made from.
* Every failure (missing, empty, truncated, text, corrupted, foreign or
  unsafe file) raises an error whose message starts with the file's path.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from .shipped import PRETRAINED_DIR

#: The checksum list of the models shipped with the package (``sha256sum -c`` format).
MANIFEST = PRETRAINED_DIR / "SHA256SUMS"

#: Payload key holding the sha256 of the stored weights (see :func:`state_checksum`).
STATE_CHECKSUM_KEY = "state_sha256"
#: Payload keys of a delta file (:func:`write_delta`): its base's file name and weight checksum.
BASE_KEY = "base"
BASE_CHECKSUM_KEY = "base_state_sha256"


class ModelFileError(ValueError):
    """A model file that cannot be used; the message names the file and the reason."""


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=1)
def shipped_checksums() -> dict[Path, str]:
    """Resolved path -> expected sha256 of every shipped model, read from :data:`MANIFEST`."""
    checksums = {}
    for line in MANIFEST.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            checksums[(PRETRAINED_DIR / name.lstrip("*")).resolve()] = digest
    return checksums


def verify_shipped(path: str | os.PathLike) -> None:
    """Check a shipped model's sha256 against the manifest; other files pass unchecked.

    Raises
    ------
    ModelFileError
        If ``path`` is a shipped model whose bytes differ from the release.
    """
    expected = shipped_checksums().get(Path(path).resolve())
    if expected is not None and file_sha256(path) != expected:
        raise ModelFileError(
            f"{path}: sha256 differs from the shipped model's ({MANIFEST.name}); the file is "
            "corrupted or was modified. Reinstall polysrl-sklearn to restore it.")


def state_checksum(state_dict: dict[str, torch.Tensor]) -> str:
    """Hex sha256 over the names, dtypes, shapes and bytes of the tensors of a state dict."""
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def read_model_file(path: str | os.PathLike, expected_format: int,
                    map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load the payload of a PolySRL model file, refusing anything but tensors and plain data.

    Parameters
    ----------
    path : path
        A file written by :func:`polysrl_sklearn.network.save_checkpoint`.
    expected_format : int
        The ``"format"`` entry the payload must carry.
    map_location : str or torch.device, default="cpu"

    Returns
    -------
    dict
        The payload (``config``, ``state_dict`` and any extra entries).

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ModelFileError
        If the file is empty, truncated, corrupted, not a PolySRL model, holds
        Python objects other than tensors and plain data, or fails its
        checksum. The message starts with the path.
    """
    path = Path(path)
    payload = _read_payload(path, expected_format, map_location)
    if BASE_KEY in payload:
        _complete_from_base(path, payload, expected_format, map_location)
    _check_weights(path, payload)
    return payload


def _read_payload(path: Path, expected_format: int, map_location: str | torch.device) -> dict[str, Any]:
    """The file's payload as stored (a delta's weights not completed), after the file-level checks."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    if path.stat().st_size == 0:
        raise ModelFileError(f"{path}: the file is empty (0 bytes), not a PolySRL model")
    verify_shipped(path)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only load failed" in str(exc).lower() and "unsupported global" in str(exc).lower():
            raise ModelFileError(
                f"{path}: holds Python objects other than tensors and plain data; refusing to "
                "unpickle it, since that could run code. Only files written by polysrl-sklearn "
                "are loaded.") from None
        raise ModelFileError(f"{path}: not a readable PolySRL model file ({_first_line(exc)})") from None
    except Exception as exc:  # torch raises RuntimeError, EOFError, KeyError... for damaged files
        raise ModelFileError(
            f"{path}: not a readable PolySRL model file; it is truncated, corrupted or in "
            f"another format ({_first_line(exc)})") from None
    if not isinstance(payload, dict) or payload.get("format") != expected_format \
            or not isinstance(payload.get("state_dict"), dict) or not isinstance(payload.get("config"), dict):
        raise ModelFileError(f"{path}: not a PolySRL model file of format {expected_format}")
    return payload


def _check_weights(path: Path, payload: dict[str, Any]) -> None:
    expected = payload.get(STATE_CHECKSUM_KEY)
    if expected is not None and state_checksum(payload["state_dict"]) != expected:
        raise ModelFileError(f"{path}: the weights do not match the checksum stored in the file; "
                             "the file is corrupted")


def _base_path(path: Path, name: Any) -> Path:
    if not isinstance(name, str) or not name or Path(name).name != name or name in (".", ".."):
        raise ModelFileError(f"{path}: its base must be the name of a model file in the same folder, got {name!r}")
    return path.parent / name


def _complete_from_base(path: Path, payload: dict[str, Any], expected_format: int,
                        map_location: str | torch.device) -> None:
    """Replace a delta payload's weights by its base's weights updated with its own (in place)."""
    base_path = _base_path(path, payload.pop(BASE_KEY))
    base_checksum = payload.pop(BASE_CHECKSUM_KEY, None)
    if STATE_CHECKSUM_KEY not in payload:
        raise ModelFileError(f"{path}: a delta file must store the checksum of its completed weights")
    if not base_path.is_file():  # a copy of a shipped delta, away from its folder: the package's base
        base_path = PRETRAINED_DIR / base_path.name
    if not base_path.is_file():
        raise ModelFileError(f"{path}: stores only the weights that differ from {base_path.name}, which is "
                             f"neither in {path.parent} nor among the shipped models")
    base = _read_payload(base_path, expected_format, map_location)
    if BASE_KEY in base:
        raise ModelFileError(f"{path}: its base {base_path.name} is itself a delta; a base must be complete")
    _check_weights(base_path, base)
    if state_checksum(base["state_dict"]) != base_checksum:
        raise ModelFileError(f"{path}: its base {base_path.name} is not the file it was written against "
                             "(the base's weights differ)")
    payload["state_dict"] = {**base["state_dict"], **payload["state_dict"]}


def write_delta(model_path: str | os.PathLike, base_path: str | os.PathLike,
                output_path: str | os.PathLike, expected_format: int) -> dict[str, int]:
    """Write ``model_path`` as a delta on ``base_path``: only the weights that differ are stored.

    Everything else in the model file (configuration, history, held-out
    formulas, the checksum of the complete weights) is kept, so that
    :func:`read_model_file` of the output returns what it returns for
    ``model_path``.

    Parameters
    ----------
    model_path, base_path : path
        Complete model files of the same architecture.
    output_path : path
        Where to write the delta; it must be in ``base_path``'s folder.
    expected_format : int
        The ``"format"`` entry both files must carry
        (:data:`polysrl_sklearn.network.CHECKPOINT_FORMAT`).

    Returns
    -------
    dict
        ``{"stored": tensors kept, "shared": tensors taken from the base}``.

    Raises
    ------
    ModelFileError
        If either input is a delta or unreadable, if the model has weights the
        base lacks (or of another shape), or if the output is in another folder.
    """
    model_path, base_path, output_path = Path(model_path), Path(base_path), Path(output_path)
    if output_path.resolve().parent != base_path.resolve().parent:
        raise ModelFileError(f"{output_path}: a delta must be written in its base's folder ({base_path.parent})")
    model = _read_payload(model_path, expected_format, "cpu")
    base = _read_payload(base_path, expected_format, "cpu")
    for given, payload in ((model_path, model), (base_path, base)):
        if BASE_KEY in payload:
            raise ModelFileError(f"{given}: is a delta already; write deltas of complete model files")
        _check_weights(given, payload)
    weights, shared = model["state_dict"], base["state_dict"]
    foreign = [k for k, v in weights.items() if k not in shared or shared[k].shape != v.shape]
    if foreign:
        raise ModelFileError(f"{model_path}: weights {foreign[:3]} are not in {base_path.name} with the same "
                             "shape; a delta needs the same architecture")
    stored = {k: v for k, v in weights.items()
              if not (v.dtype == shared[k].dtype and torch.equal(v, shared[k]))}
    payload = {**model, "state_dict": stored, STATE_CHECKSUM_KEY: state_checksum(weights),
               BASE_KEY: base_path.name, BASE_CHECKSUM_KEY: state_checksum(shared)}
    tmp = Path(f"{output_path}.tmp")
    torch.save(payload, tmp)
    os.replace(tmp, output_path)
    return {"stored": len(stored), "shared": len(weights) - len(stored)}
