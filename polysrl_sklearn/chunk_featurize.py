"""Featurize one chunk of a table: features, uncertainty and an error column, never raising on a bad row.

Each row is checked on its own by
:func:`~polysrl_sklearn.composition.parse_composition` (the package's one
set of composition checks); a row that fails gets NaN features and the
error's message in :data:`ERROR_COLUMN`, and the valid rows are encoded by
:meth:`PolySRLFeaturizer.transform
<polysrl_sklearn.featurizer.PolySRLFeaturizer.transform>`, as in
:class:`~polysrl_sklearn.matminer_featurizer.PolySRLComposition`. Output
columns are the input's, then ``get_feature_names_out()`` (the mean vector
and ``polysrl_uncertainty``), then :data:`ERROR_COLUMN` (None when fine).

**The same bits as one big transform.** On the CPU a row's features do not
depend on the other rows of its forward pass, except in a pass of one to
three compositions, which takes another matrix-product path and rounds
differently (differences of about 1e-7, measured). So the valid rows of a
chunk are encoded in nearly equal passes of at most ``transform_batch_size``
distinct formulas, and a chunk with fewer than :data:`MIN_PASS` distinct
formulas is padded with filler formulas whose rows are dropped. Chunks of
any size then give exactly the features that ``transform`` gives for the
whole input at once (tested on 100,000 formulas, and on chunks of one row).

Examples
--------
>>> import pandas as pd
>>> from polysrl_sklearn.chunk_featurize import ERROR_COLUMN, featurize_pandas
>>> from polysrl_sklearn.model_cache import cached_featurizer
>>> out = featurize_pandas(pd.DataFrame({"formula": ["Fe2O3", "Xx2"]}), "formula", cached_featurizer("default", "cpu"))
>>> out.shape, out[ERROR_COLUMN].isna().tolist()
((2, 203), [True, False])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pymatgen.core import Composition

from .composition import parse_composition
from .elements import element_index, elements_without_embedding

if TYPE_CHECKING:
    import pyarrow as pa

    from .featurizer import PolySRLFeaturizer

#: Name of the output column holding each bad row's error message (None for a good row).
ERROR_COLUMN = "polysrl_error"
#: Fewest distinct compositions per forward pass (smaller chunks are padded; see the module docstring).
MIN_PASS = 64


def output_names(featurizer: PolySRLFeaturizer) -> list[str]:
    """The columns a chunk gains: the featurizer's feature names, then :data:`ERROR_COLUMN`."""
    return [str(name) for name in featurizer.get_feature_names_out()] + [ERROR_COLUMN]


def check_input_columns(columns: Sequence[str], column: str, featurizer: PolySRLFeaturizer) -> None:
    """Refuse an input without ``column``, or with a column the output would add.

    Raises
    ------
    KeyError
        If ``column`` is not among ``columns`` (the message lists them).
    ValueError
        If an input column has the name of a feature or of :data:`ERROR_COLUMN`.
    """
    if column not in columns:
        raise KeyError(f"no column {column!r} in the input; its columns are {list(columns)}")
    clash = sorted(set(map(str, columns)) & set(output_names(featurizer)))
    if clash:
        raise ValueError(f"the input already has column(s) {clash}, which the output adds; rename them")


def _key(item: Any) -> str | None:
    """What ``transform`` deduplicates an item by (None: not deduplicated)."""
    return item if isinstance(item, str) else item.formula if isinstance(item, Composition) else None


def _fillers(taken: set, count: int) -> list[str]:
    """``count`` single-element formulas whose keys are not in ``taken``."""
    symbols = sorted(set(element_index()) - elements_without_embedding())
    fillers = [s for s in symbols if s not in taken][:count]
    fillers += [f"{s}2" for s in symbols if f"{s}2" not in taken][:count - len(fillers)]
    return fillers


def _encode(items: list[Any], featurizer: PolySRLFeaturizer) -> np.ndarray:
    """Features of valid, distinct items, in passes that give the bits of one big ``transform``."""
    if not items:
        return np.zeros((0, len(featurizer.get_feature_names_out())))
    if len(items) < MIN_PASS:
        padded = items + _fillers({_key(item) for item in items}, MIN_PASS - len(items))
        return featurizer.transform(padded)[:len(items)]
    passes = math.ceil(len(items) / featurizer.transform_batch_size)
    bounds = np.linspace(0, len(items), passes + 1).round().astype(int)  # nearly equal passes
    return np.concatenate([featurizer.transform(items[a:b]) for a, b in zip(bounds[:-1], bounds[1:])])


def featurize_items(items: Sequence[Any], featurizer: PolySRLFeaturizer,
                    first_position: int | None = None) -> tuple[np.ndarray, list[str | None]]:
    """Features and error messages of a list of compositions; a bad one never raises.

    Parameters
    ----------
    items : sequence
        Formula strings or pymatgen Compositions; None, NaN or ``pd.NA`` is a missing value (an error).
    featurizer : PolySRLFeaturizer
        Fitted.
    first_position : int, optional
        Position of ``items[0]`` in the whole input, so that error messages
        say ``(at position N)`` with the row's position in the input.

    Returns
    -------
    features : ndarray of shape (len(items), n_features), float64
        NaN in the rows of bad items.
    errors : list of str or None
        The error message of each bad item; None for the others.
    """
    items = [None if item is pd.NA else item for item in items]
    width = len(featurizer.get_feature_names_out())
    features = np.full((len(items), width), np.nan)
    errors: list[str | None] = [None] * len(items)
    row_of_key: dict[str, int] = {}
    distinct: list[Any] = []
    rows: list[int] = []  # index into `distinct` of each good item, in order
    good: list[int] = []
    for i, item in enumerate(items):
        try:
            parse_composition(item, None if first_position is None else first_position + i)
        except Exception as exc:  # noqa: BLE001 - every failure becomes the row's error text
            errors[i] = str(exc)
            continue
        key = _key(item)
        if key is None or key not in row_of_key:
            distinct.append(item)
            if key is not None:
                row_of_key[key] = len(distinct) - 1
        good.append(i)
        rows.append(row_of_key[key] if key is not None else len(distinct) - 1)
    if not good:
        return features, errors
    try:
        encoded = _encode(distinct, featurizer)
    except Exception:  # noqa: BLE001 - an unexpected failure of the pass: find the culprit(s) one by one
        encoded = np.full((len(distinct), width), np.nan)
        failed: dict[int, str] = {}
        for j, item in enumerate(distinct):
            try:
                encoded[j] = _encode([item], featurizer)[0]
            except Exception as exc:  # noqa: BLE001
                failed[j] = f"{type(exc).__name__}: {exc}"
        for i, j in zip(good, rows):
            errors[i] = failed.get(j)
    features[good] = encoded[rows]
    return features, errors


def featurize_pandas(frame: pd.DataFrame, column: str, featurizer: PolySRLFeaturizer,
                     first_position: int | None = None) -> pd.DataFrame:
    """A DataFrame's columns, then its features and :data:`ERROR_COLUMN`; same index and row order.

    Parameters
    ----------
    frame : DataFrame
    column : str
        The column of formulas.
    featurizer : PolySRLFeaturizer
        Fitted.
    first_position : int, optional
        See :func:`featurize_items`.

    Returns
    -------
    DataFrame
        Features as float64, errors as object (str or None).
    """
    check_input_columns(list(frame.columns), column, featurizer)
    features, errors = featurize_items(frame[column].tolist(), featurizer, first_position)
    names = output_names(featurizer)
    added = pd.DataFrame(features, index=frame.index, columns=names[:-1])
    added[ERROR_COLUMN] = pd.Series(errors, index=frame.index, dtype=object)
    return pd.concat([frame, added], axis=1)


def featurize_arrow(table: pa.Table, column: str, featurizer: PolySRLFeaturizer,
                    first_position: int | None = None) -> pa.Table:
    """An Arrow table's columns, then its features and :data:`ERROR_COLUMN` (what a part file holds).

    Parameters
    ----------
    table : pyarrow.Table
    column : str
        The column of formulas.
    featurizer : PolySRLFeaturizer
        Fitted.
    first_position : int, optional
        See :func:`featurize_items`.

    Returns
    -------
    pyarrow.Table
        Features as float64, errors as string (null when fine); no schema metadata.
    """
    import pyarrow as pa

    check_input_columns(table.column_names, column, featurizer)
    features, errors = featurize_items(table.column(column).to_pylist(), featurizer, first_position)
    features = np.asfortranarray(features)  # contiguous columns: no copy into Arrow
    names = output_names(featurizer)
    columns = [*table.columns, *(pa.array(features[:, j]) for j in range(features.shape[1])),
               pa.array(errors, type=pa.string())]
    return pa.Table.from_arrays(columns, names=[*table.column_names, *names])
