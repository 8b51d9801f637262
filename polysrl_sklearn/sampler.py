"""Batches that keep every sampled polymorph next to its formula.

The authors' code only saw two polymorphs of one formula together when the
shuffle happened to put them in one batch. Here a batch is a set of distinct
formulas, and each formula brings (a random subset of) its own structures, so
every positive set is explicit and no two rows of a batch share a formula.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass
class PolymorphBatch:
    """One training batch.

    Attributes
    ----------
    formulas : ndarray (n_formulas,)
        Distinct formula ids in the batch.
    structures : ndarray (n_structures,)
        Structure ids of their sampled polymorphs.
    owner : ndarray (n_structures,)
        Position in ``formulas`` of each structure's formula.
    """

    formulas: np.ndarray
    structures: np.ndarray
    owner: np.ndarray


class PolymorphBatchSampler:
    """Iterate over formulas in random order, each with up to ``max_polymorphs`` structures.

    Parameters
    ----------
    formula_of_structure : ndarray of int (n_structures,)
        Formula id of each structure (ids ``0..n_formulas-1``).
    batch_size : int
        Distinct formulas per batch.
    max_polymorphs : int
        Polymorphs drawn per formula and batch (fresh random subset each epoch).
    seed : int, optional
        Seed of the shuffling.
    """

    def __init__(self, formula_of_structure: np.ndarray, batch_size: int = 256,
                 max_polymorphs: int = 4, seed: int | None = None) -> None:
        self.formula_of_structure = np.asarray(formula_of_structure, dtype=np.int64)
        self.batch_size = int(batch_size)
        self.max_polymorphs = int(max_polymorphs)
        self.rng = np.random.default_rng(seed)
        order = np.argsort(self.formula_of_structure, kind="stable")
        counts = np.bincount(self.formula_of_structure)
        if np.any(counts == 0):
            raise ValueError("every formula id must own at least one structure")
        self._members = np.split(order, np.cumsum(counts)[:-1])

    @property
    def n_formulas(self) -> int:
        """Number of distinct formulas."""
        return len(self._members)

    def __len__(self) -> int:
        return -(-self.n_formulas // self.batch_size)

    def __iter__(self) -> Iterator[PolymorphBatch]:
        order = self.rng.permutation(self.n_formulas)
        for start in range(0, len(order), self.batch_size):
            formulas = order[start:start + self.batch_size]
            picked = []
            for members in (self._members[f] for f in formulas):
                if len(members) > self.max_polymorphs:
                    members = self.rng.choice(members, self.max_polymorphs, replace=False)
                picked.append(members)
            sizes = np.fromiter((len(p) for p in picked), dtype=np.int64, count=len(picked))
            yield PolymorphBatch(
                formulas=formulas,
                structures=np.concatenate(picked),
                owner=np.repeat(np.arange(len(formulas)), sizes),
            )

    def state(self) -> dict:
        """RNG state, for resuming an interrupted run."""
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        """Restore an RNG state saved by :meth:`state`."""
        self.rng.bit_generator.state = state
