"""Element feature tables, shipped with matminer (nothing is downloaded).

The stoichiometry graph of a composition has one node per element. Its input
features are one of the tables of :data:`ELEMENT_TABLES` (``ModelConfig.element_features``):

* ``"matscholar"`` -- the 200-dimensional matscholar word embeddings (Tshitoyan et
  al., 2019), the default and the table of the shipped models;
* ``"magpie"`` -- the 22 elemental properties behind Magpie's composition features
  (Ward et al., 2016), each standardised over the elements;
* ``"both"`` -- the two concatenated (222 columns).

Every table has the rows of :func:`element_table` (the matscholar symbols), so
the set of accepted elements does not depend on the choice.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1)
def element_table() -> tuple[tuple[str, ...], np.ndarray]:
    """Return the element symbols and their matscholar feature matrix.

    Returns
    -------
    symbols : tuple of str
        Element symbols, in the row order of ``features``.
    features : ndarray of shape (n_elements, 200), float32
        Matscholar embedding of each element.
    """
    from matminer.utils.data import MatscholarElementData

    data = MatscholarElementData()
    symbols = tuple(sorted(data.all_element_data))
    names = list(data.prop_names)  # "embedding 1" ... "embedding 200"
    features = np.array(
        [[data.all_element_data[s][n] for n in names] for s in symbols], dtype=np.float32
    )
    return symbols, features


@lru_cache(maxsize=1)
def element_index() -> dict[str, int]:
    """Map each supported element symbol to its row in :func:`element_table`."""
    symbols, _ = element_table()
    return {s: i for i, s in enumerate(symbols)}


@lru_cache(maxsize=1)
def elements_without_embedding() -> frozenset[str]:
    """Symbols whose matscholar row is a placeholder shared with other elements.

    matminer's table gives the superheavy elements (Rf, Db, Sg, ... Og) one
    and the same vector: the word embeddings had no data on them. Such
    elements would be indistinguishable, so compositions containing them
    are refused.
    """
    symbols, features = element_table()
    _, first, counts = np.unique(features, axis=0, return_inverse=True, return_counts=True)
    return frozenset(s for s, row in zip(symbols, first) if counts[row] > 1)


#: Rows of :func:`element_table_by_atomic_number` (atomic numbers 0..118; row 0 unused).
MAX_ATOMIC_NUMBER = 118


@lru_cache(maxsize=1)
def element_table_by_atomic_number() -> np.ndarray:
    """The matscholar table indexed by atomic number, shape (119, 200); rows without an embedding are zero.

    Used by the species-aware structure encoder, whose crystal graphs store
    atomic numbers.
    """
    from pymatgen.core import Element

    symbols, features = element_table()
    table = np.zeros((MAX_ATOMIC_NUMBER + 1, features.shape[1]), dtype=np.float32)
    for symbol, row in zip(symbols, features):
        table[Element(symbol).Z] = row
    return table


#: Names of the element input tables (``ModelConfig.element_features``).
ELEMENT_TABLES: tuple[str, ...] = ("matscholar", "magpie", "both")


@lru_cache(maxsize=1)
def magpie_element_table() -> np.ndarray:
    """Magpie's 22 elemental properties for the rows of :func:`element_table`, standardised, (n_elements, 22)."""
    from matminer.featurizers.composition import ElementProperty
    from pymatgen.core import Element

    preset = ElementProperty.from_preset("magpie")
    symbols, _ = element_table()
    values = np.array([[preset.data_source.get_elemental_property(Element(s), p) for p in preset.features]
                       for s in symbols], dtype=np.float64)
    values = np.where(np.isfinite(values), values, np.nanmean(values, axis=0))
    scale = values.std(axis=0)
    return ((values - values.mean(axis=0)) / np.where(scale > 0, scale, 1.0)).astype(np.float32)


def element_features(name: str = "matscholar") -> np.ndarray:
    """The element input table ``name`` (see :data:`ELEMENT_TABLES`), rows as in :func:`element_table`."""
    if name == "matscholar":
        return element_table()[1]
    if name == "magpie":
        return magpie_element_table()
    if name == "both":
        return np.concatenate([element_table()[1], magpie_element_table()], axis=1)
    raise ValueError(f"unknown element_features {name!r}; choose one of {ELEMENT_TABLES}")
