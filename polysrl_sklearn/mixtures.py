"""Synthetic doped and alloyed compositions: a host compound with a share of a guest compound.

A composition between two known compounds, such as ``Bi2Te3`` with a few per cent of
``Sb2Te3``, has no crystal structure of its own in a structure database: it may take the
host's structure, the guest's, or separate into both. The ``variance_mixtures`` lever of
the soft contrastive loss (:class:`~polysrl_sklearn.soft_contrastive.SoftContrastiveLoss`)
trains the variance of such mixtures of a batch's formulas towards the spread of their two
parents' polymorphs together (a form of outlier exposure: Hendrycks, Mazeika and
Dietterich, "Deep anomaly detection with outlier exposure", ICLR 2019). The representation
study measures the same idea on the MP formulas held out of pretraining
(:func:`polysrl_sklearn.validation.held_out_mixture_measures`).

The guest's share ``x`` is drawn log-uniformly between :data:`MIXTURE_SHARES` (1 % to 50 %),
so that dopant levels and alloys are equally represented.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .composition import ParsedComposition
from .elements import element_table

#: Range of the guest's share in a mixture (log-uniform between the two).
MIXTURE_SHARES: tuple[float, float] = (0.01, 0.5)


def mix(host: ParsedComposition, guest: ParsedComposition, share: float) -> ParsedComposition:
    """The composition ``(1 - share) * host + share * guest`` (atomic fractions; shared elements merged).

    Elements come out in the order :func:`~polysrl_sklearn.composition.parse_composition`
    gives (the rows of the element table), fractions as float32 summing to one.
    """
    if not 0.0 < share < 1.0:
        raise ValueError(f"a mixture's guest share must lie strictly between 0 and 1, got {share}")
    elements = np.concatenate([host[0], guest[0]])
    fractions = np.concatenate([(1.0 - share) * host[1].astype(np.float64), share * guest[1].astype(np.float64)])
    merged_elements, inverse = np.unique(elements, return_inverse=True)
    merged = np.bincount(inverse, weights=fractions)
    return merged_elements.astype(np.int64), (merged / merged.sum()).astype(np.float32)


def draw_partners(n: int, rng: np.random.Generator) -> np.ndarray:
    """A guest for each of ``n`` hosts: a random cyclic permutation, so no host is its own guest (n >= 2)."""
    if n < 2:
        raise ValueError(f"mixtures need at least 2 compositions, got {n}")
    order = rng.permutation(n)
    partner = np.empty(n, dtype=np.int64)
    partner[order] = np.roll(order, -1)
    return partner


def draw_shares(n: int, rng: np.random.Generator, shares: tuple[float, float] = MIXTURE_SHARES) -> np.ndarray:
    """``n`` guest shares, log-uniform between ``shares``."""
    low, high = np.log(shares[0]), np.log(shares[1])
    return np.exp(rng.uniform(low, high, size=n))


def batch_mixtures(parsed: Sequence[ParsedComposition],
                   rng: np.random.Generator) -> tuple[list[ParsedComposition], np.ndarray]:
    """One mixture per composition of ``parsed``: itself as host, another of them as guest.

    Returns
    -------
    mixtures : list of ParsedComposition
        ``mixtures[i]`` mixes host ``parsed[i]`` with guest ``parsed[partner[i]]``.
    partner : ndarray of int64
        The guest of each host.
    """
    partner = draw_partners(len(parsed), rng)
    shares = draw_shares(len(parsed), rng)
    return [mix(parsed[i], parsed[j], s) for i, (j, s) in enumerate(zip(partner, shares))], partner


def composition_formula(parsed: ParsedComposition) -> str:
    """A formula string of ``parsed`` with its atomic fractions as amounts (e.g. ``"Sb0.02Te0.6Bi0.38"``)."""
    symbols, _ = element_table()
    return "".join(f"{symbols[e]}{f:.6g}" for e, f in zip(parsed[0], parsed[1]))
