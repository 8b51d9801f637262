"""Chunked, resumable on-disk cache of one vector per item (e.g. per corpus structure).

Computing a frozen encoder's vector for every structure of a corpus can take
hours on a CPU (CHGNet: about 50 structures/s on 2 cores). :func:`cached_vectors`
computes them chunk by chunk, writes each finished chunk atomically to
``DIR/KEY/part-00000.npy``, ``part-00001.npy``, ..., and on a later call
(an interrupted run, or simply the next training run) loads the parts that
exist and computes only the missing ones. When all parts exist they are joined
into ``DIR/KEY/vectors.npy`` and the parts are removed.

The key must identify both the encoder (its name, version or weight checksum)
and the items (a corpus fingerprint): :func:`cache_key` hashes any strings
into one.

Examples
--------
>>> import numpy as np, tempfile
>>> from polysrl_sklearn.vector_cache import cached_vectors, cache_key
>>> with tempfile.TemporaryDirectory() as tmp:
...     key = cache_key("squares", "0..9")
...     v = cached_vectors(lambda ids: np.c_[ids, ids ** 2].astype(np.float32), 10, tmp, key, chunk_size=4)
...     v.shape, float(v[3, 1])
((10, 2), 9.0)
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

#: File name of the finished cache inside ``DIR/KEY``.
VECTORS_FILE = "vectors.npy"


def cache_key(*parts: str) -> str:
    """A short hex key naming one (encoder, items) pair; give every string that defines it."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(str(part).encode())
        digest.update(b"\0")
    return digest.hexdigest()[:20]


def _atomic_save(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)


def cached_vectors(compute: Callable[[np.ndarray], np.ndarray], n_items: int,
                   cache_dir: str | os.PathLike | None, key: str, chunk_size: int = 2048,
                   verbose: bool = False, description: str = "structure vectors",
                   shard: tuple[int, int] = (0, 1)) -> np.ndarray | None:
    """Return ``compute`` over items ``0..n_items-1`` as one (n_items, D) float32 array, cached.

    Parameters
    ----------
    compute : callable
        ``compute(ids)`` returns the vectors of items ``ids`` (an int64 array),
        shape ``(len(ids), D)``.
    n_items : int
    cache_dir : path or None
        Parent directory of the cache; ``None`` computes everything in memory
        and writes nothing.
    key : str
        Sub-directory name; see :func:`cache_key`.
    chunk_size : int
        Items per part file (the work lost at most when interrupted).
    verbose : bool
        Show a tqdm bar over the chunks still to compute.
    description : str
        Label of the progress bar.
    shard : (int, int)
        ``(k, n)``: compute only the missing chunks whose index is ``k`` modulo
        ``n``, so that ``n`` processes (one per core: CHGNet gains little
        from a second torch thread) fill one cache side by side. Needs
        ``cache_dir``. The call returns ``None`` unless the cache is complete
        afterwards; any later call with the default ``(0, 1)`` joins the parts.

    Returns
    -------
    ndarray (n_items, D), float32, or None
        ``None`` only for a shard call that leaves parts of other shards missing.

    Raises
    ------
    ValueError
        If a chunk's row count differs from its ids, widths differ between
        chunks, or a finished cache holds another number of rows.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    index, count = shard
    if not 0 <= index < count:
        raise ValueError(f"shard must be (k, n) with 0 <= k < n, got {shard}")
    if count > 1 and cache_dir is None:
        raise ValueError("a shard of the work needs cache_dir (the shards meet in its part files)")
    starts = list(range(0, n_items, chunk_size))
    folder = None if cache_dir is None else Path(cache_dir) / key
    if folder is not None:
        finished = folder / VECTORS_FILE
        if finished.is_file():
            vectors = np.load(finished)
            if len(vectors) != n_items:
                raise ValueError(f"{finished} holds {len(vectors)} vectors, expected {n_items}; "
                                 "delete it or use another cache directory")
            return vectors
        folder.mkdir(parents=True, exist_ok=True)
        meta = folder / "meta.json"
        if not meta.is_file():
            meta.write_text(json.dumps({"n_items": n_items, "chunk_size": chunk_size, "key": key}))
        stored = json.loads(meta.read_text())
        if stored["n_items"] != n_items or stored["chunk_size"] != chunk_size:
            raise ValueError(f"{folder} was started with n_items={stored['n_items']}, "
                             f"chunk_size={stored['chunk_size']}; this call asks for {n_items}, {chunk_size}")
    parts: list[np.ndarray | None] = [None] * len(starts)
    todo = []
    for k in range(len(starts)):
        part = None if folder is None else folder / f"part-{k:05d}.npy"
        if part is not None and part.is_file():
            parts[k] = np.load(part) if count == 1 else None  # a shard does not need the others' parts
        elif k % count == index:
            todo.append(k)
    chunks = todo
    if verbose and todo:
        from tqdm.auto import tqdm

        chunks = tqdm(todo, desc=description, unit="chunk")
    for k in chunks:
        ids = np.arange(starts[k], min(starts[k] + chunk_size, n_items), dtype=np.int64)
        vectors = np.asarray(compute(ids), dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(ids):
            raise ValueError(f"compute returned shape {vectors.shape} for {len(ids)} items")
        parts[k] = vectors
        if folder is not None:
            _atomic_save(folder / f"part-{k:05d}.npy", vectors)
    if count > 1:  # shards only write parts; joining them is the next whole call's (no race between shards)
        return None
    if not parts:
        return np.zeros((0, 0), np.float32)
    widths = {p.shape[1] for p in parts}
    if len(widths) > 1:
        raise ValueError(f"chunks of {folder or 'the computation'} have different widths {sorted(widths)}")
    vectors = np.concatenate(parts)
    if folder is not None:
        _atomic_save(folder / VECTORS_FILE, vectors)
        for k in range(len(starts)):
            (folder / f"part-{k:05d}.npy").unlink(missing_ok=True)
    return vectors
