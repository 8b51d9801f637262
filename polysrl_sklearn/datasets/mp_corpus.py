"""Index of the Materials Project structure files of the pretraining corpus."""

from __future__ import annotations

import os

import pandas as pd

from ._base import data_path

MP_INDEX_FILE = "fxcoudert_topology_databases/mp_structures_index.csv.gz"
MP_STRUCTURES_FILE_NAME = "mp_structures_id_lt2M.jsonl.gz"


def mp_polymorph_counts(data_dir: str | os.PathLike | None = None) -> pd.Series:
    """Number of MP structures per reduced formula in the pretraining corpus file.

    Read from the index of the MP structure files (no structure is parsed).
    Formulas are read as text: pandas would otherwise turn sodium nitride,
    "NaN", into a missing value and drop its structures.

    Parameters
    ----------
    data_dir : path-like, optional
        See :func:`resolve_data_dir`.

    Returns
    -------
    pandas.Series
        Reduced formula -> number of structures in ``mp_structures_id_lt2M.jsonl.gz``.
    """
    index = pd.read_csv(data_path(MP_INDEX_FILE, data_dir), usecols=["file", "formula_reduced"],
                        keep_default_na=False)
    return index[index["file"] == MP_STRUCTURES_FILE_NAME].groupby("formula_reduced").size()
