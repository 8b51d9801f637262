"""Parse compositions into element indices and atomic fractions.

Fractions (not integer counts) are the pooling weights of the stoichiometry
encoder, so ``Fe2O3`` and ``Fe4O6`` map to exactly the same input.

A formula is refused, with a :class:`CompositionError` naming it, rather
than silently read as something else: an element with amount zero
(``"Fe0O3"``), an amount in exponent notation (``"Fe1e3O"``), the isotope
symbols D and T (``"D2O"``: write ``"H2O"``; the element embeddings know no
isotopes), and elements that have no embedding of their own (the
superheavy elements, see
:func:`~polysrl_sklearn.elements.elements_without_embedding`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import numpy as np
from pymatgen.core import Composition

from .elements import element_index, elements_without_embedding


class CompositionError(ValueError):
    """Raised for a composition that cannot be featurized; names the item."""


ParsedComposition = tuple[np.ndarray, np.ndarray]


def _describe(item: Any, position: int | None) -> str:
    where = f" at position {position}" if position is not None else ""
    return f"composition {item!r}{where}"


def _amounts_to_arrays(amounts: dict[str, float], label: str) -> ParsedComposition:
    if not amounts:
        raise CompositionError(f"{label} is empty: it contains no element")
    index = element_index()
    symbols = sorted(amounts)
    unknown = [s for s in symbols if s not in index]
    if unknown:
        raise CompositionError(
            f"{label} contains element(s) {unknown} with no matscholar "
            "embedding; supported elements are those of "
            "matminer.utils.data.MatscholarElementData"
        )
    placeholders = [s for s in symbols if s in elements_without_embedding()]
    if placeholders:
        raise CompositionError(
            f"{label} contains element(s) {placeholders} whose matscholar embedding is a "
            "placeholder shared by all superheavy elements; they cannot be told apart"
        )
    values = np.array([amounts[s] for s in symbols], dtype=np.float64)
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise CompositionError(
            f"{label} has non-positive or non-finite amounts {values.tolist()}"
        )
    fractions = (values / values.sum()).astype(np.float32)
    elements = np.array([index[s] for s in symbols], dtype=np.int64)
    return elements, fractions


#: Symbols that pymatgen silently reads as hydrogen.
ISOTOPE_SYMBOLS = {"D": "deuterium", "T": "tritium"}
_SYMBOL = re.compile(r"[A-Z][a-z]*")
_EXPONENT = re.compile(r"\d\.?[eE][-+]?\d")


def _check_formula_text(formula: str, amounts: dict[str, float], label: str) -> None:
    """Refuse what pymatgen would silently reinterpret (see the module docstring)."""
    mentioned = set(_SYMBOL.findall(formula))
    isotopes = sorted(mentioned & set(ISOTOPE_SYMBOLS))
    if isotopes:
        names = ", ".join(f"{s} ({ISOTOPE_SYMBOLS[s]})" for s in isotopes)
        raise CompositionError(
            f"{label} uses the isotope symbol(s) {names}; the element embeddings have no "
            "isotopes, so write hydrogen as H (e.g. 'H2O' for heavy water) to featurize it as hydrogen"
        )
    if _EXPONENT.search(formula):
        raise CompositionError(
            f"{label} writes an amount in exponent notation; write the number out "
            "(e.g. 'Fe1000O', not 'Fe1e3O')"
        )
    zero = sorted(s for s in mentioned - set(amounts) if s in element_index())
    if zero:
        raise CompositionError(f"{label} gives element(s) {zero} an amount of zero; leave them out")


@lru_cache(maxsize=200_000)
def _parse_formula(formula: str) -> ParsedComposition:
    label = _describe(formula, None)
    if not formula.strip():
        raise CompositionError(f"{label} is empty")
    try:
        amounts = Composition(formula).get_el_amt_dict()
    except Exception as exc:  # pymatgen raises several exception types
        raise CompositionError(f"{label} cannot be parsed: {exc}") from exc
    _check_formula_text(formula, amounts, label)
    return _amounts_to_arrays(amounts, label)


def parse_composition(item: Any, position: int | None = None) -> ParsedComposition:
    """Return the element indices and atomic fractions of one composition.

    Parameters
    ----------
    item : str or pymatgen.core.Composition
        A formula such as ``"Fe2O3"`` or ``"Hg0.7Cd0.3Te"``, or a Composition.
    position : int, optional
        Position of the item in its input, used in error messages.

    Returns
    -------
    elements : ndarray of int64
        Rows of :func:`polysrl_sklearn.elements.element_table`, sorted by symbol.
    fractions : ndarray of float32
        Atomic fractions, summing to one.

    Raises
    ------
    CompositionError
        If the item is missing (None/NaN), empty, unparsable, contains an
        element without an embedding of its own, or a formula that pymatgen
        would silently reinterpret (zero amounts, exponents, D/T isotopes).
        The message names the item.
    """
    if isinstance(item, Composition):
        return _amounts_to_arrays(item.get_el_amt_dict(), _describe(item.formula, position))
    if isinstance(item, str):
        try:
            return _parse_formula(item)
        except CompositionError as exc:
            if position is None:
                raise
            raise CompositionError(f"{exc} (at position {position})") from None
    if item is None or (isinstance(item, float) and math.isnan(item)):
        raise CompositionError(f"{_describe(item, position)} is missing (None/NaN)")
    raise CompositionError(
        f"{_describe(item, position)} has type {type(item).__name__}; "
        "expected a formula string or a pymatgen Composition"
    )


def as_composition_list(X: Any) -> list[Any]:
    """Flatten sklearn-style input (list, array, Series, 1-column frame) to a list.

    Parameters
    ----------
    X : array-like of shape (n_samples,) or (n_samples, 1)
        Compositions as strings or pymatgen Composition objects.

    Returns
    -------
    list
        One item per sample.
    """
    if hasattr(X, "iloc") and getattr(X, "ndim", 1) == 2:  # pandas DataFrame
        if X.shape[1] != 1:
            raise ValueError(
                f"expected a single composition column, got {X.shape[1]} columns"
            )
        return X.iloc[:, 0].tolist()
    if hasattr(X, "tolist") and getattr(X, "ndim", 1) == 2:
        if X.shape[1] != 1:
            raise ValueError(
                f"expected a single composition column, got shape {X.shape}"
            )
        return X[:, 0].tolist()
    if isinstance(X, (str, Composition)):
        raise ValueError(
            "expected a sequence of compositions, got a single composition; "
            "wrap it in a list"
        )
    if not isinstance(X, Iterable):
        raise ValueError(f"expected a sequence of compositions, got {type(X).__name__}")
    return list(X.tolist() if hasattr(X, "tolist") else X)
