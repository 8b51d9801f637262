import numpy as np
import pytest
from conftest import rocksalt
from pymatgen.core import Lattice, Structure

from polysrl_sklearn.crystal_graph import CrystalGraphSet, StructureGraphError, build_graph_set, structure_graph


def test_rocksalt_has_six_nearest_neighbours():
    nacl = rocksalt(5.64, "Na", "Cl")
    n, src, dst, dist = structure_graph(nacl, cutoff=3.0, max_neighbors=12)
    assert n == 8
    assert np.bincount(dst, minlength=n).tolist() == [6] * 8
    assert np.allclose(dist, 2.82, atol=1e-3)


def test_max_neighbours_keeps_nearest():
    nacl = rocksalt(5.64, "Na", "Cl")
    n, src, dst, dist = structure_graph(nacl, cutoff=6.0, max_neighbors=6)
    assert np.bincount(dst, minlength=n).tolist() == [6] * 8
    assert dist.max() < 2.83


def test_graph_is_species_agnostic():
    a = structure_graph(rocksalt(5.0, "Na", "Cl"), 4.0, 12)
    b = structure_graph(rocksalt(5.0, "Mg", "O"), 4.0, 12)
    for x, y in zip(a[1:], b[1:]):
        assert np.array_equal(x, y)


def test_isolated_atom_raises_naming_structure():
    lonely = Structure(Lattice.cubic(10.0), ["Xe"], [[0, 0, 0]])
    with pytest.raises(StructureGraphError, match="Xe"):
        structure_graph(lonely, cutoff=5.0)
    with pytest.raises(StructureGraphError, match="mp-lonely"):
        build_graph_set([lonely], cutoff=5.0, names=["mp-lonely"], n_jobs=1)


def test_parallel_equals_serial_and_cache(structures, tmp_path):
    serial = build_graph_set(structures, 6.0, 12, n_jobs=1)
    parallel = build_graph_set(structures, 6.0, 12, n_jobs=2, chunk_size=3)
    for field in ("num_nodes", "edge_ptr", "src", "dst", "distance"):
        assert np.array_equal(getattr(serial, field), getattr(parallel, field))
    cache = tmp_path / "g.npz"
    build_graph_set(structures, 6.0, 12, n_jobs=1, cache_path=cache)
    loaded = CrystalGraphSet.load(cache)
    assert np.array_equal(loaded.distance, serial.distance)


def test_collate_offsets_and_take(structures):
    graphs = build_graph_set(structures, 6.0, 12, n_jobs=1)
    batch = graphs.collate(np.array([2, 0]))
    n2, n0 = graphs.num_nodes[2], graphs.num_nodes[0]
    assert batch.batch.numel() == n2 + n0
    src, dst = batch.edge_index.numpy()
    e2 = graphs.edge_ptr[3] - graphs.edge_ptr[2]
    assert src[:e2].max() < n2 and src[e2:].min() >= n2
    sub = graphs.take(np.array([2]))
    assert np.array_equal(sub.distance, graphs.distance[graphs.edge_ptr[2]:graphs.edge_ptr[3]])


def test_overlapping_atoms_raise():
    broken = Structure.from_prototype("rocksalt", ["Na", "Cl"], a=5.64)  # pymatgen puts Na and Cl on one site
    with pytest.raises(StructureGraphError, match="overlap"):
        structure_graph(broken, cutoff=5.0)
