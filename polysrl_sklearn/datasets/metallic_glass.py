"""Reduced glass-transition temperature of metallic glasses (Morgan 2018): the paper's metallic task."""

from __future__ import annotations

import os

import pandas as pd

from ._base import GroupBy, _average_reports, _drop_missing, _finish, _with_compositions, data_path

METALLIC_FILE = "wongshiyuen_reduced-glass-temp-pso-svr/Metallic_Glass_Forming_with_features2.xlsx"


def load_metallic(data_dir: str | os.PathLike | None = None, group_by: GroupBy = "raw") -> pd.DataFrame:
    """Reduced glass-transition temperature ``Trg`` of metallic glasses.

    Columns ``Material compositions`` (at.%) and ``Trg`` of the MAST-ML
    metallic-glass sheet; rows without ``Trg`` are dropped (counted in
    ``attrs["n_missing_dropped"]``) and repeats averaged. The paper reports
    MAE x10.

    Parameters
    ----------
    data_dir : path-like, optional
        See :func:`resolve_data_dir`.
    group_by : {"raw", "canonical"}
        How repeated reports are grouped (see :mod:`polysrl_sklearn.datasets`).

    Returns
    -------
    pandas.DataFrame
        Columns ``composition``, ``target`` (dimensionless), ``formula``,
        ``Trg``, ``n_reports``.
    """
    raw = pd.read_excel(data_path(METALLIC_FILE, data_dir), usecols=["Material compositions", "Trg"])
    kept, n_missing = _drop_missing(raw, "Trg")
    frame = _average_reports(_with_compositions(kept, "Material compositions"), ["Trg"], group_by)
    return _finish(frame, "Trg", task="metallic", unit="1", group_by=group_by,
                   n_source_rows=len(raw), n_missing_dropped=n_missing)
