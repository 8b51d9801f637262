"""Seeded random formulas that the featurizer accepts: inputs for scaling benchmarks and tests.

Each formula has two to ``max_elements`` distinct elements, drawn
uniformly from those with an embedding of their own (no superheavy
elements, no D/T), each with an integer amount from 1 to ``max_amount``
written out (``"Fe2O3"``, ``"Na1Cl1"``). Like a screening set of generated
candidates, nearly all are distinct (98% of a million), so ``transform``'s
deduplication does not flatter the throughput.

Examples
--------
>>> from polysrl_sklearn.random_formulas import random_formulas
>>> random_formulas(3, seed=0) == random_formulas(3, seed=0)
True
>>> len(random_formulas(1000, seed=1))
1000
"""

from __future__ import annotations

import numpy as np

from .elements import element_index, elements_without_embedding

#: Formulas drawn per vectorised block (bounds the memory of the draw).
BLOCK = 100_000


def usable_elements() -> list[str]:
    """The element symbols a formula may contain (those with an embedding of their own), sorted."""
    return sorted(set(element_index()) - elements_without_embedding())


def random_formulas(n: int, seed: int = 0, max_elements: int = 5, max_amount: int = 12) -> list[str]:
    """``n`` random valid formulas, the same for the same arguments.

    Parameters
    ----------
    n : int
        Number of formulas.
    seed : int, default=0
        Seed of ``numpy.random.default_rng``.
    max_elements : int, default=5
        Most distinct elements per formula (at least two).
    max_amount : int, default=12
        Largest integer amount of an element.

    Returns
    -------
    list of str
    """
    symbols = np.array(usable_elements())
    rng = np.random.default_rng(seed)
    formulas: list[str] = []
    for start in range(0, n, BLOCK):
        size = min(BLOCK, n - start)
        # distinct elements per row: the first columns of a random permutation of the symbols
        elements = np.argpartition(rng.random((size, len(symbols))), max_elements, axis=1)[:, :max_elements]
        counts = rng.integers(2, max_elements + 1, size)
        amounts = rng.integers(1, max_amount + 1, (size, max_elements))
        names = symbols[elements]
        formulas += ["".join(f"{names[i, j]}{amounts[i, j]}" for j in range(counts[i])) for i in range(size)]
    return formulas
