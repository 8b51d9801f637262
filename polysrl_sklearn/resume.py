"""Whether a pretraining checkpoint may be resumed: same corpus, same model, same optimisation.

A checkpoint stores a fingerprint of the corpus it was trained on
(:func:`corpus_fingerprint`), the model configuration and the training
settings. Resuming on another corpus (another data file or ``--limit``),
with another architecture or other optimisation settings would silently
continue a different experiment, so :func:`check_resumable` refuses it
with a one-line reason. Only the number of epochs (and the seed, whose random states the
checkpoint restores) may change.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import asdict
from typing import Any

import numpy as np

#: Payload key of the corpus fingerprint.
FINGERPRINT_KEY = "corpus_fingerprint"
#: Training settings that may differ between a checkpoint and its continuation: more epochs,
#: and the seed, since every random state (sampler, torch) is restored from the checkpoint.
RESUMABLE_CHANGES = ("epochs", "seed")


class ResumeError(ValueError):
    """A checkpoint that cannot be resumed with the given corpus, model or settings (one line)."""


def structures_fingerprint(corpus: Any) -> str:
    """Hex sha256 of the formulas and structure identifiers of a corpus, not its targets.

    What a cache of per-structure vectors (e.g. CHGNet's) depends on: two
    corpora of the same structures share it whatever targets they carry.
    Equal to :func:`corpus_fingerprint` for a corpus without targets.
    """
    return _corpus_digest(corpus, with_targets=False)


def corpus_fingerprint(corpus: Any) -> str:
    """Hex sha256 of the formulas, structure identifiers and targets of a training corpus."""
    return _corpus_digest(corpus, with_targets=True)


def _corpus_digest(corpus: Any, with_targets: bool) -> str:
    digest = hashlib.sha256()
    digest.update("\n".join(corpus.formulas).encode())
    digest.update(b"\0" + "\n".join(map(str, corpus.names)).encode())
    digest.update(np.ascontiguousarray(corpus.formula_of_structure, dtype=np.int64).tobytes())
    if with_targets and getattr(corpus, "targets", None) is not None:
        digest.update(np.ascontiguousarray(corpus.targets, dtype=np.float64).tobytes())
    return digest.hexdigest()


def check_resumable(payload: dict[str, Any], config: Any, settings: Any, fingerprint: str,
                    path: str | os.PathLike) -> None:
    """Raise :class:`ResumeError` unless ``payload`` continues this exact run.

    Parameters
    ----------
    payload : dict
        Content of the checkpoint at ``path``.
    config : ModelConfig
        Configuration of the network to train.
    settings : TrainingSettings
        Optimisation settings of the run.
    fingerprint : str
        :func:`corpus_fingerprint` of the training corpus.
    path : path
        The checkpoint, for messages.
    """
    for key in ("optimizer", "sampler", "torch_rng", "history"):
        if key not in payload:
            raise ResumeError(f"cannot resume from {path}: it is an exported model, not a full "
                              f"training checkpoint (no {key!r})")
    stored_fingerprint = payload.get(FINGERPRINT_KEY)
    if stored_fingerprint is None:
        warnings.warn(f"{path} has no corpus fingerprint (written by an older version); "
                      "cannot check that it was trained on the same corpus", stacklevel=3)
    elif stored_fingerprint != fingerprint:
        stored_corpus = payload.get("corpus", {})
        described = f" ({stored_corpus})" if stored_corpus else ""
        raise ResumeError(f"cannot resume from {path}: it was trained on another corpus{described}; "
                          "use the same data file and --limit, or another --checkpoint")
    wanted = asdict(config)
    stored = dict(payload["config"])
    stored["element_symbols"] = tuple(stored.get("element_symbols", ()))
    wanted["element_symbols"] = tuple(wanted.get("element_symbols", ()))
    for name, value in wanted.items():
        if name in stored and stored[name] != value:
            raise ResumeError(f"cannot resume from {path}: its model has {name}={stored[name]!r}, "
                              f"this run asks for {name}={value!r}")
    for name, value in vars(settings).items():
        saved = payload.get("settings", {}).get(name, value)
        if name not in RESUMABLE_CHANGES and saved != value:
            raise ResumeError(f"cannot resume from {path}: it was trained with {name}={saved!r}, "
                              f"this run asks for {name}={value!r}")
