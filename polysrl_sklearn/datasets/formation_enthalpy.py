"""Experimental formation enthalpies (Kim et al. 2017): the paper's formation-enthalpy task."""

from __future__ import annotations

import os

import pandas as pd

from ._base import GroupBy, _average_reports, _drop_missing, _finish, _with_compositions, data_path

FORMATION_ENTHALPY_FILE = "ngs00_CroMEL/efe.xlsx"


def load_formation_enthalpy(data_dir: str | os.PathLike | None = None, group_by: GroupBy = "raw") -> pd.DataFrame:
    """Experimental formation enthalpies (Kim et al. 2017), eV/atom.

    Column ``form_eng_exp`` of ``ngs00_CroMEL/efe.xlsx``; rows whose value is
    ``-`` (missing) are dropped and counted in ``attrs["n_missing_dropped"]``;
    repeated compositions are averaged. The paper reports MAE x10.

    Parameters
    ----------
    data_dir : path-like, optional
        See :func:`resolve_data_dir`.
    group_by : {"raw", "canonical"}
        How repeated reports are grouped (see :mod:`polysrl_sklearn.datasets`).

    Returns
    -------
    pandas.DataFrame
        Columns ``composition``, ``target`` (eV/atom), ``formula``,
        ``form_eng_exp``, ``n_reports``.
    """
    raw = pd.read_excel(data_path(FORMATION_ENTHALPY_FILE, data_dir))
    kept, n_missing = _drop_missing(raw, "form_eng_exp")
    frame = _average_reports(_with_compositions(kept, "composition"), ["form_eng_exp"], group_by)
    return _finish(frame, "form_eng_exp", task="formation_enthalpy", unit="eV/atom", group_by=group_by,
                   n_source_rows=len(raw), n_missing_dropped=n_missing)
