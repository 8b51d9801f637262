"""Element feature table: matminer's shipped matscholar element embeddings.

The stoichiometry graph of a composition has one node per element; its input
features are the 200-dimensional matscholar word embeddings of that element
(Tshitoyan et al., 2019) as shipped with matminer, so nothing is downloaded.
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
