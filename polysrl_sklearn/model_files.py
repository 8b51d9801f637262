"""Reading model files safely: tensors and plain data only, checksums, errors that name the file.

* Files are read with ``torch.load(weights_only=True)``: only tensors and
  plain Python data (dict, list, str, numbers) are unpickled, so a file can
  never run code when loaded.
* Each model shipped with the package has its sha256 in
  ``pretrained/SHA256SUMS`` (the format of ``sha256sum -c``), checked every
  time the file is loaded. Whoever replaces a shipped model regenerates it:
  ``cd polysrl_sklearn/pretrained && sha256sum polysrl_mp.pt polysrl_chgnet_mt.pt
  polysrl_chgnet_mt_variance.pt polysrl_chgnet_mt_count.pt polysrl_chgnet_mt_mixtures.pt
  polysrl_chgnet_mt_anchored.pt baselines/*.pt baselines_chgnet_mt/*.pt > SHA256SUMS``.
* Files written by this version also store a sha256 of their weights
  (:func:`state_checksum`), checked at load, so flipped bytes in the
  weights of any file are found too.
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
    expected = payload.get(STATE_CHECKSUM_KEY)
    if expected is not None and state_checksum(payload["state_dict"]) != expected:
        raise ModelFileError(f"{path}: the weights do not match the checksum stored in the file; "
                             "the file is corrupted")
    return payload
