"""The chunked on-disk vector cache: resume after an interruption, shards filled side by side."""

from __future__ import annotations

import numpy as np
import pytest

from polysrl_sklearn.vector_cache import VECTORS_FILE, cache_key, cached_vectors


def squares(calls: list[int]):
    def compute(ids: np.ndarray) -> np.ndarray:
        calls.append(int(ids[0]))
        return np.c_[ids, ids ** 2].astype(np.float32)
    return compute


def test_an_interrupted_run_continues_from_its_finished_chunks(tmp_path):
    key = cache_key("squares", "0..9")
    calls: list[int] = []

    def failing(ids: np.ndarray) -> np.ndarray:
        if ids[0] >= 8:
            raise KeyboardInterrupt
        return squares(calls)(ids)

    with pytest.raises(KeyboardInterrupt):
        cached_vectors(failing, 10, tmp_path, key, chunk_size=4)
    assert calls == [0, 4]
    vectors = cached_vectors(squares(calls), 10, tmp_path, key, chunk_size=4)
    assert calls == [0, 4, 8]  # only the missing chunk
    np.testing.assert_array_equal(vectors[:, 1], np.arange(10) ** 2)
    assert (tmp_path / key / VECTORS_FILE).is_file() and not list((tmp_path / key).glob("part-*"))


def test_shards_fill_disjoint_chunks_and_a_whole_call_joins_them(tmp_path):
    key = cache_key("squares", "0..20")
    calls = [[], [], []]
    assert cached_vectors(squares(calls[0]), 21, tmp_path, key, chunk_size=4, shard=(0, 2)) is None
    assert cached_vectors(squares(calls[1]), 21, tmp_path, key, chunk_size=4, shard=(1, 2)) is None
    assert calls[0] == [0, 8, 16] and calls[1] == [4, 12, 20]
    joined = cached_vectors(squares(calls[2]), 21, tmp_path, key, chunk_size=4)
    assert calls[2] == []  # nothing left to compute
    np.testing.assert_array_equal(joined, cached_vectors(squares([]), 21, None, key, chunk_size=4))


def test_bad_shards_are_refused(tmp_path):
    with pytest.raises(ValueError, match="shard"):
        cached_vectors(squares([]), 4, tmp_path, "k", shard=(2, 2))
    with pytest.raises(ValueError, match="cache_dir"):
        cached_vectors(squares([]), 4, None, "k", shard=(0, 2))
