"""CHGNet crystal feature vectors (optional ``chgnet`` extra): shapes, inputs, cache resume, errors."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from polysrl_sklearn import chgnet_vectors
from polysrl_sklearn.chgnet_vectors import (
    CHGNET_DIM,
    CHGNET_EXTRA_MESSAGE,
    ChgnetStructureError,
    chgnet_cache_key,
    chgnet_structure_vectors,
    fingerprint_lines,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def chgnet():
    """The chgnet package, or a skip that says how to install it."""
    return pytest.importorskip("chgnet", reason=CHGNET_EXTRA_MESSAGE)


def record(structure: Structure, material_id: str) -> dict:
    """An MP JSON-lines record of a structure (the corpus file's format)."""
    return {"material_id": material_id, "formula": structure.composition.reduced_formula,
            "nsites": len(structure), "lattice": list(structure.lattice.parameters),
            "species": [site.specie.symbol for site in structure], "frac_coords": structure.frac_coords.tolist()}


@pytest.fixture(scope="module")
def small(structures) -> list[Structure]:
    """Five small prototypes (2 to 8 atoms) from conftest, rebuilt from their records.

    Rebuilding makes Structures, records and lines describe the same lattice to the last bit.
    """
    from polysrl_sklearn.crystal_graph import structure_from_record

    return [structure_from_record(record(s, f"mp-{i}")) for i, s in enumerate(structures[:5])]


@pytest.fixture(scope="module")
def reference(chgnet, small) -> np.ndarray:
    return chgnet_structure_vectors(small, device="cpu")


def isolated_atom() -> Structure:
    """One atom alone in a 20 A cell: no neighbour within CHGNet's 6 A cutoff."""
    return Structure(Lattice.cubic(20.0), ["Na"], [[0, 0, 0]])


def test_missing_chgnet_says_how_to_install(monkeypatch, small):
    for name in ("chgnet", "chgnet.model"):
        monkeypatch.setitem(sys.modules, name, None)  # makes `import chgnet` raise ImportError
    with pytest.raises(ImportError, match=r'pip install "polysrl-sklearn\[chgnet\]"'):
        chgnet_structure_vectors(small)
    with pytest.raises(ImportError, match=r'pip install "polysrl-sklearn\[chgnet\]"'):
        chgnet_vectors.load_chgnet()


def test_cache_dir_needs_key_parts(tmp_path, small):
    with pytest.raises(ValueError, match="key_parts"):
        chgnet_structure_vectors(small, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="on_error"):
        chgnet_structure_vectors(small, on_error="skip")


def test_shapes_and_inputs(reference, small):
    assert reference.shape == (5, CHGNET_DIM) and reference.dtype == np.float32
    assert np.isfinite(reference).all()
    assert chgnet_vectors.chgnet_dim() == CHGNET_DIM
    records = [record(s, f"mp-{i}") for i, s in enumerate(small)]
    lines = [json.dumps(r) for r in records]
    np.testing.assert_array_equal(chgnet_structure_vectors(records, device="cpu"), reference)
    np.testing.assert_array_equal(chgnet_structure_vectors(lines, device="cpu", batch_size=2), reference)
    assert chgnet_structure_vectors([], device="cpu").shape == (0, CHGNET_DIM)
    # distinct structures, distinct vectors
    assert len({row.tobytes() for row in reference}) == len(reference)


def test_cache_key_names_version_model_and_corpus(chgnet):
    key = chgnet_cache_key(5, ["corpus-a"])
    assert key == chgnet_cache_key(5, ["corpus-a"], "0.3.0")
    assert len({key, chgnet_cache_key(5, ["corpus-b"]), chgnet_cache_key(6, ["corpus-a"]),
                chgnet_cache_key(5, ["corpus-a"], "r2scan")}) == 4
    assert fingerprint_lines(["a", "b"]) != fingerprint_lines(["a", "b", ""])


def test_resume_after_interruption_equals_uninterrupted(tmp_path, monkeypatch, small, reference):
    key_parts = [fingerprint_lines(s.to(fmt="poscar") for s in small)]
    real = chgnet_vectors.chgnet_compute
    calls: list[list[int]] = []

    def interrupted(*args, **kwargs):
        compute = real(*args, **kwargs)

        def first_chunk_only(ids):
            calls.append(ids.tolist())
            if len(calls) > 1:
                raise KeyboardInterrupt  # like Ctrl-C after the first chunk
            return compute(ids)
        return first_chunk_only

    monkeypatch.setattr(chgnet_vectors, "chgnet_compute", interrupted)
    with pytest.raises(KeyboardInterrupt):
        chgnet_structure_vectors(small, tmp_path, key_parts, chunk_size=2, device="cpu")
    folder = tmp_path / chgnet_cache_key(len(small), key_parts)
    assert sorted(p.name for p in folder.glob("part-*.npy")) == ["part-00000.npy"]

    def counting(*args, **kwargs):
        compute = real(*args, **kwargs)

        def counted(ids):
            calls.append(ids.tolist())
            return compute(ids)
        return counted

    calls.clear()
    monkeypatch.setattr(chgnet_vectors, "chgnet_compute", counting)
    resumed = chgnet_structure_vectors(small, tmp_path, key_parts, chunk_size=2, device="cpu")
    assert calls == [[2, 3], [4]]  # the first chunk came from the cache
    np.testing.assert_array_equal(resumed, reference)  # bit for bit
    assert (folder / "vectors.npy").is_file() and not list(folder.glob("part-*.npy"))
    # a finished cache computes nothing
    calls.clear()
    np.testing.assert_array_equal(chgnet_structure_vectors(small, tmp_path, key_parts, chunk_size=2), reference)
    assert calls == []


def test_a_bad_structure_is_named_or_nan(tmp_path, small, reference):
    lines = [json.dumps(record(s, f"mp-{i}")) for i, s in enumerate(small[:2])]
    lines.insert(1, json.dumps(record(isolated_atom(), "mp-lonely")))
    with pytest.raises(ChgnetStructureError, match=r"structures\[1\] \(mp-lonely\).*isolated atom"):
        chgnet_structure_vectors(lines, device="cpu")
    with pytest.raises(ChgnetStructureError, match=r"structures\[2\].*JSONDecodeError"):
        chgnet_structure_vectors([lines[0], lines[2], "{not json"], device="cpu")
    with pytest.raises(ChgnetStructureError, match=r"structures\[0\].*TypeError"):
        chgnet_structure_vectors([42], device="cpu")

    vectors = chgnet_structure_vectors(lines, tmp_path, ["three lines"], device="cpu", on_error="nan")
    assert np.isnan(vectors[1]).all()
    np.testing.assert_array_equal(vectors[[0, 2]], reference[:2])
    # the NaN row is cached; a call that asks for errors names it instead of returning it
    with pytest.raises(ChgnetStructureError, match=r"on_error='nan'.*structures\[1\] \(mp-lonely\)"):
        chgnet_structure_vectors(lines, tmp_path, ["three lines"], device="cpu")


def test_benchmark_script_runs_and_resumes(tmp_path, monkeypatch, capsys, chgnet, small, reference):
    data = tmp_path / "mp.jsonl.gz"
    with gzip.open(data, "wt") as handle:
        for i, s in enumerate(small):
            handle.write(json.dumps(record(s, f"mp-{i}")) + "\n")
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import chgnet_targets

    argv = ["chgnet_targets.py", "--data", str(data), "--limit", "4", "--cache-dir", str(tmp_path / "cache"),
            "--chunk-size", "2", "--device", "cpu"]
    monkeypatch.setattr(sys, "argv", argv)
    chgnet_targets.main()
    out = capsys.readouterr().out
    assert "5 structures" in out and "structures/s" in out and "ETA" in out and "0 from the cache" in out
    chgnet_targets.main()
    assert "4 from the cache, 0 computed" in capsys.readouterr().out
    cached = next((tmp_path / "cache").glob("*/vectors.npy"))
    np.testing.assert_array_equal(np.load(cached), reference[:4])


def test_benchmark_script_fills_the_pretraining_cache_in_shards(tmp_path, monkeypatch, capsys, chgnet, small):
    from polysrl_sklearn.chgnet_vectors import corpus_chgnet_vectors
    from polysrl_sklearn.corpus import corpus_from_mp_jsonl

    data = tmp_path / "mp.jsonl.gz"
    with gzip.open(data, "wt") as handle:
        for i, s in enumerate(small):
            handle.write(json.dumps(record(s, f"mp-{i}")) + "\n")
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import chgnet_targets

    cache = tmp_path / "cache"
    argv = ["chgnet_targets.py", "--data", str(data), "--cache-dir", str(cache), "--chunk-size", "2",
            "--device", "cpu", "--corpus"]
    for shard in ("0/2", "1/2"):
        monkeypatch.setattr(sys, "argv", [*argv, "--shard", shard])
        chgnet_targets.main()
        assert f"shard {shard}" in capsys.readouterr().out
    monkeypatch.setattr(sys, "argv", argv)
    chgnet_targets.main()
    out = capsys.readouterr().out
    assert "0 computed" in out and "from the cache" in out
    folders = sorted(p.name for p in cache.iterdir() if p.is_dir())
    # polysrl pretrain --structure-encoder chgnet finds the same cache, and computes nothing
    corpus = corpus_from_mp_jsonl(data, cache_dir=cache, n_jobs=1, verbose=False)
    vectors = corpus_chgnet_vectors(data, corpus, cache, device="cpu", on_error="nan")
    assert sorted(p.name for p in cache.iterdir() if p.is_dir()) == folders
    assert vectors.shape == (len(corpus.names), 64)
    np.testing.assert_array_equal(vectors, np.load(next(cache.glob("*/vectors.npy"))))
