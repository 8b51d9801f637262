"""DFT band gaps of Materials Project non-metals (``CompRhys_roost/mp-non-metals.csv``).

The shared data's only MP property table (43,921 entries). It serves the
``supervised`` baseline (MPBandG), the multi-task lever of pretraining, and a
validation measure of the representation study: the band gaps of the MP
formulas held out of pretraining (see :mod:`polysrl_sklearn.validation`).
"""

from __future__ import annotations

import os

import pandas as pd
from pymatgen.core import Composition

from ._base import data_path

MP_BAND_GAP_FILE = "CompRhys_roost/mp-non-metals.csv"


def load_mp_dft_band_gap(data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """MP DFT band gaps (eV) of non-metals, averaged per pymatgen reduced formula.

    MP has several entries (polymorphs) for many formulas and the table has
    no energies to pick the ground state, so the entries of a formula are
    averaged.

    Parameters
    ----------
    data_dir : path-like, optional
        See :func:`~polysrl_sklearn.datasets.resolve_data_dir`.

    Returns
    -------
    pandas.DataFrame
        Columns ``composition`` (reduced formula), ``target`` (eV), ``n_entries``;
        sorted by composition.
    """
    raw = pd.read_csv(data_path(MP_BAND_GAP_FILE, data_dir), keep_default_na=False)
    reduced = [Composition(c).reduced_formula for c in raw["composition"]]
    grouped = raw.assign(composition=reduced).groupby("composition")["band_gap"]
    frame = pd.DataFrame({"target": grouped.mean(), "n_entries": grouped.size()}).reset_index()
    frame.attrs.update(task="mp_dft_band_gap", unit="eV", n_source_rows=len(raw))
    return frame
