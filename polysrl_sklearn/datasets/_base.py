"""Shared pieces of the dataset loaders: the data folder, canonical formulas, report averaging."""

from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pymatgen.core import Composition
from pymatgen.util.string import formula_double_format

GroupBy = Literal["raw", "canonical"]

DATA_DIR_ENV = "POLYSRL_DATA_DIR"


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Return the shared data directory.

    Parameters
    ----------
    data_dir : path-like, optional
        Explicit directory. When omitted, ``$POLYSRL_DATA_DIR`` is used, else
        ``<repository>/../shared/data``.

    Returns
    -------
    pathlib.Path
        The directory (not checked for existence).
    """
    if data_dir is not None:
        return Path(data_dir)
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV])
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def data_path(relative: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Return the path of a data file, raising a clear error when it is missing.

    Parameters
    ----------
    relative : str
        Path of the file inside the data directory.
    data_dir : path-like, optional
        See :func:`resolve_data_dir`.

    Returns
    -------
    pathlib.Path
        The existing file.

    Raises
    ------
    FileNotFoundError
        If the file does not exist; the message names the path and
        ``POLYSRL_DATA_DIR``.
    """
    path = resolve_data_dir(data_dir) / relative
    if not path.exists():
        raise FileNotFoundError(
            f"dataset file {path} not found; pass data_dir=... or set the "
            f"{DATA_DIR_ENV} environment variable to the shared data folder"
        )
    return path


def _electronegativity_key(element) -> tuple[float, str]:
    x = element.X
    return (x if not math.isnan(x) else math.inf, element.symbol)


@lru_cache(maxsize=300_000)
def canonical_formula(formula: str | Composition) -> str:
    """Canonical string of a composition (see :mod:`polysrl_sklearn.datasets`).

    Parameters
    ----------
    formula : str or pymatgen.core.Composition
        Any formula pymatgen's :class:`~pymatgen.core.Composition` parses,
        or a composition.

    Returns
    -------
    str
        E.g. ``"NaCl"`` for ``"Na1Cl1"``, ``"Sn0.1Pb0.9Se"`` for
        ``"Pb0.9Se0.9Sn0.1Se0.1"``.
    """
    comp = formula if isinstance(formula, Composition) else Composition(formula)
    elements = sorted(comp.elements, key=_electronegativity_key)
    return "".join(f"{el.symbol}{formula_double_format(comp[el])}" for el in elements)


def _with_compositions(frame: pd.DataFrame, formula_col: str) -> pd.DataFrame:
    formula = frame[formula_col].astype(str).str.strip()
    return frame.assign(formula=formula, composition=formula.map(canonical_formula))


def _average_reports(frame: pd.DataFrame, values: list[str], group_by: GroupBy) -> pd.DataFrame:
    """Mean of ``values`` per group; keeps the first formula/composition seen."""
    if group_by not in ("raw", "canonical"):
        raise ValueError(f"group_by must be 'raw' or 'canonical', got {group_by!r}")
    key = "formula" if group_by == "raw" else "composition"
    other = "composition" if key == "formula" else "formula"
    grouped = frame.groupby(key, sort=False)
    out = grouped[values].mean()
    out.insert(0, other, grouped[other].first())
    out["n_reports"] = grouped.size()
    return out.reset_index()[["composition", "formula", *values, "n_reports"]]


def _finish(frame: pd.DataFrame, source_col: str, **attrs) -> pd.DataFrame:
    """Copy ``source_col`` into ``target`` (float) and set the common attrs."""
    out = frame.assign(target=frame[source_col].astype(float))
    cols = ["composition", "target"] + [c for c in out.columns if c not in ("composition", "target")]
    out = out[cols].reset_index(drop=True)
    out.attrs.update(attrs)
    out.attrs["n_duplicate_compositions"] = int(out["composition"].duplicated().sum())
    return out


def _drop_missing(frame: pd.DataFrame, column: str) -> tuple[pd.DataFrame, int]:
    """Coerce ``column`` to float (``'-'``/blank -> NaN) and drop NaN rows."""
    values = pd.to_numeric(frame[column].replace({"-": np.nan, "": np.nan}), errors="coerce")
    keep = values.notna()
    return frame.assign(**{column: values})[keep], int((~keep).sum())
