"""Experimental band gaps of non-metals (Zhuo et al. 2018): the paper's band-gap task."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from ._base import GroupBy, _average_reports, _finish, _with_compositions, data_path

BAND_GAP_FILE = "CompRhys_roost/expt-non-metals.csv"
BAND_GAP_REFERENCE_FILE = "Namkyeong_PolySRL_AI4Science/ebg_polysrl_processed.csv"


def load_band_gap(data_dir: str | os.PathLike | None = None, group_by: GroupBy = "raw") -> pd.DataFrame:
    """Experimental band gaps of non-metals (Zhuo et al. 2018), eV.

    Mean ``Eg`` per composition of ``CompRhys_roost/expt-non-metals.csv``.
    With ``group_by="raw"`` this is the paper's band-gap set (2,482 rows);
    ``group_by="canonical"`` merges 9 pairs of equivalent spellings (2,473).

    Parameters
    ----------
    data_dir : path-like, optional
        See :func:`resolve_data_dir`.
    group_by : {"raw", "canonical"}
        How repeated reports are grouped (see :mod:`polysrl_sklearn.datasets`).

    Returns
    -------
    pandas.DataFrame
        Columns ``composition``, ``target`` (eV), ``formula``, ``Eg``,
        ``n_reports``.
    """
    raw = pd.read_csv(data_path(BAND_GAP_FILE, data_dir))
    frame = _average_reports(_with_compositions(raw, "composition"), ["Eg"], group_by)
    return _finish(frame, "Eg", task="band_gap", unit="eV", group_by=group_by, n_source_rows=len(raw))


def check_band_gap_against_reference(data_dir: str | os.PathLike | None = None) -> float:
    """Compare :func:`load_band_gap` with the authors' processed band-gap set.

    Parameters
    ----------
    data_dir : path-like, optional
        See :func:`resolve_data_dir`.

    Returns
    -------
    float
        Maximum absolute difference of the targets after matching formulas.

    Raises
    ------
    ValueError
        If the two sets of formulas differ.
    """
    ours = load_band_gap(data_dir, group_by="raw").set_index("formula")["target"]
    ref = pd.read_csv(data_path(BAND_GAP_REFERENCE_FILE, data_dir)).set_index("formula")
    if set(ours.index) != set(ref.index) or len(ours) != len(ref):
        raise ValueError(f"formula sets differ: {len(ours)} loaded vs {len(ref)} reference rows")
    return float(np.abs(ours.reindex(ref.index).to_numpy() - ref["exp_band_gap_mean_eV"].to_numpy()).max())
