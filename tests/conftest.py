"""Shared fixtures: small prototype structures and the optional real data folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure

from polysrl_sklearn.datasets import resolve_data_dir

SHARED_DATA = resolve_data_dir()


FCC = [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]


def rocksalt(a: float, cation: str, anion: str) -> Structure:
    """Rock-salt crystal (pymatgen's own prototype puts both species on one site)."""
    coords = FCC + [[x + 0.5 if i == 0 else x for i, x in enumerate(c)] for c in FCC]
    return Structure(Lattice.cubic(a), [cation] * 4 + [anion] * 4, coords)


def prototype_structures() -> list[Structure]:
    """Tiny crystals with known polymorphs (ZnS, SiO2-like, C) plus singletons."""
    structures = [
        rocksalt(5.64, "Na", "Cl"),
        rocksalt(4.21, "Mg", "O"),
        Structure.from_prototype("zincblende", ["Zn", "S"], a=5.41),
        rocksalt(5.06, "Zn", "S"),
        Structure.from_prototype("fluorite", ["Ca", "F"], a=5.46),
        Structure.from_prototype("fluorite", ["Zr", "O"], a=5.07),
        Structure.from_prototype("cscl", ["Cs", "Cl"], a=4.12),
        Structure.from_prototype("cscl", ["Na", "Cl"], a=3.35),
        Structure.from_prototype("perovskite", ["Sr", "Ti", "O"], a=3.91),
        Structure.from_prototype("antifluorite", ["Li", "O"], a=4.61),
        Structure(Lattice.cubic(3.57), ["C"] * 8, [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5],
                                                   [0.25, 0.25, 0.25], [0.75, 0.75, 0.25],
                                                   [0.75, 0.25, 0.75], [0.25, 0.75, 0.75]]),
        Structure(Lattice.hexagonal(2.46, 6.7), ["C"] * 4, [[0, 0, 0.25], [0, 0, 0.75],
                                                            [1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]]),
        Structure(Lattice.cubic(2.87), ["Fe", "Fe"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
        Structure(Lattice.cubic(3.61), ["Cu"] * 4, [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]),
    ]
    return structures


@pytest.fixture(scope="session")
def structures() -> list[Structure]:
    return prototype_structures()


@pytest.fixture(scope="session")
def small_fitted(structures):
    """A small featurizer pretrained on the prototypes (seconds on a CPU)."""
    from polysrl_sklearn import PolySRLFeaturizer

    featurizer = PolySRLFeaturizer(pretrained=None, hidden_dim=16, epochs=4, batch_size=8,
                                   random_state=0, n_jobs=1, device="cpu")
    X = [s.composition.reduced_formula for s in structures]
    return featurizer.fit(X, structures=structures)


@pytest.fixture(scope="module")
def featurizer():
    """The shipped model on the CPU, loaded once per process (the featurize and Dask tests)."""
    from polysrl_sklearn.model_cache import cached_featurizer

    return cached_featurizer("default", "cpu")


@pytest.fixture(scope="module")
def names(featurizer):
    """The shipped model's output column names."""
    return [str(name) for name in featurizer.get_feature_names_out()]


def require_shared(relative: str) -> Path:
    """Path of a file under shared/data, or skip the test naming what is missing."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"needs {path} (the project's shared data folder, or set POLYSRL_DATA_DIR)")
    return path


def pytest_collection_modifyitems(config, items):
    """A test that reads the shared data folder must be marked ``data`` (so ``-m "not data"`` skips it)."""
    import inspect

    unmarked = [item.nodeid for item in items if hasattr(item, "function")
                and "require_shared(" in inspect.getsource(item.function) and item.get_closest_marker("data") is None]
    if unmarked:
        raise pytest.UsageError(f"tests calling require_shared() need @pytest.mark.data: {unmarked}")
