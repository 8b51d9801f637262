"""One loaded featurizer per process and model: what Dask workers and ``polysrl featurize`` share.

A featurization task names its model (a shipped name or a file path) rather
than carrying the network, so nothing heavy is pickled per task: the first
task a process runs loads the model through the usual
``PolySRLFeaturizer(pretrained=...).fit([])`` path, and every later task in
that process reuses it. The cache key is the model file's resolved path,
size and modification time (a file replaced in place is loaded again) and
the device.

A random-init encoder (``pretrained=None`` or ``"rand_init"``) is refused:
each process would draw other weights. Save one with
``PolySRLFeaturizer(pretrained=None, random_state=0).fit([]).save(path)``
and pass the path.

Examples
--------
>>> from polysrl_sklearn.model_cache import cached_featurizer, load_count
>>> first = cached_featurizer("default", "cpu")
>>> cached_featurizer("polysrl_chgnet_mt_elements_error", "cpu") is first  # "default" is an alias of this file
True
>>> load_count() >= 1
True
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from .shipped import RANDOM_INIT, SHIPPED_MODELS, resolve_pretrained

if TYPE_CHECKING:
    from .featurizer import PolySRLFeaturizer

#: Most distinct (model, device) pairs kept loaded in one process.
MAX_CACHED_MODELS = 4


def model_file(pretrained: str | os.PathLike | None) -> Path:
    """Resolved path of a shipped model name or model file, refusing a random-init encoder.

    Raises
    ------
    ValueError
        For ``None`` or ``"rand_init"`` (each process would draw other weights).
    FileNotFoundError
        For a name that is neither shipped nor an existing file (the message lists the shipped names).
    """
    if pretrained is None or str(pretrained) == RANDOM_INIT:
        raise ValueError(f"pretrained={pretrained!r} (a random-init encoder) cannot be featurized in chunks or on "
                         "workers: each process would draw other weights; save one with "
                         "PolySRLFeaturizer(pretrained=None, random_state=0).fit([]).save(path) and pass the path")
    return resolve_pretrained(pretrained).resolve()


def worker_model_name(pretrained: str | os.PathLike) -> str:
    """How to name a model to another process: a shipped name as it is, a file by its absolute path.

    Examples
    --------
    >>> worker_model_name("default")
    'default'
    """
    return str(pretrained) if str(pretrained) in SHIPPED_MODELS else str(model_file(pretrained))


_cache: OrderedDict[tuple[str, int, int, str], PolySRLFeaturizer] = OrderedDict()
_lock = threading.Lock()  # a Dask worker may run several tasks at once
_loads = 0


def cached_featurizer(pretrained: str | os.PathLike, device: str = "auto") -> PolySRLFeaturizer:
    """The fitted featurizer of a model, loaded at most once per process.

    Parameters
    ----------
    pretrained : str or path
        A shipped model name (or alias) or a model file path; names of one
        file share one entry.
    device : str, default="auto"
        The featurizer's ``device``.

    Returns
    -------
    PolySRLFeaturizer
        Fitted; shared by every caller in this process (do not change its parameters).

    Raises
    ------
    ValueError, FileNotFoundError
        See :func:`model_file`.
    """
    global _loads
    from .featurizer import PolySRLFeaturizer

    path = model_file(pretrained)
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns, str(device))
    with _lock:
        if key not in _cache:
            _cache[key] = PolySRLFeaturizer(pretrained=str(path), device=device).fit([])
            _loads += 1
            while len(_cache) > MAX_CACHED_MODELS:
                _cache.popitem(last=False)
        _cache.move_to_end(key)
        return _cache[key]


def load_count() -> int:
    """How many times this process has loaded a model through :func:`cached_featurizer`."""
    return _loads
