"""Matbench DFT tasks of the paper's Table 6 on CrabNet's ``matbench_cv`` folds, and one loader for all."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ._base import _finish, _with_compositions, data_path
from .matbench_mp import MATBENCH_MP_TASKS, load_matbench_mp, matbench_mp_split

MATBENCH_DIR = "anthony-wang_CrabNet/matbench_cv"


#: CrabNet ``matbench_cv`` tasks (5 folds each, with train/val/test splits).
MATBENCH_TASKS: tuple[str, ...] = (
    "castelli",
    "dielectric",
    "elasticity_log10(G_VRH)",
    "elasticity_log10(K_VRH)",
    "jdft2d",
    "phonons",
)


#: Matbench tasks whose targets are strictly positive in every fold and are
#: therefore natural-logged. ``castelli`` has negative formation energies and
#: the two elasticity tasks are already log10 with exact zeros, so they stay.
MATBENCH_LOG_TASKS: frozenset[str] = frozenset({"dielectric", "jdft2d", "phonons"})


def _matbench_split(path: Path, log_target: bool) -> pd.DataFrame:
    raw = _with_compositions(pd.read_csv(path), "formula")
    values = np.log(raw["target"]) if log_target else raw["target"]
    frame = raw.assign(target_raw=raw["target"].astype(float), target=values.astype(float))
    return _finish(frame[["composition", "target", "formula", "target_raw"]], "target",
                   log_target=log_target, source=str(path))


def load_matbench_crabnet(task: str, fold: int, data_dir: str | os.PathLike | None = None) -> dict[str, pd.DataFrame]:
    """One CrabNet ``matbench_cv`` fold (the folds of the paper's Table 6).

    Targets of :data:`MATBENCH_LOG_TASKS` (dielectric, jdft2d, phonons: the
    tasks whose targets are strictly positive) are natural-logged, as the
    paper's loader does; the others are returned as stored. The untransformed
    value is kept in ``target_raw``.

    Parameters
    ----------
    task : str
        One of :data:`MATBENCH_TASKS`.
    fold : int
        Fold index, 0 to 4.
    data_dir : path-like, optional
        See :func:`resolve_data_dir`.

    Returns
    -------
    dict of str to pandas.DataFrame
        Keys ``"train"``, ``"val"``, ``"test"``; columns ``composition``,
        ``target``, ``formula``, ``target_raw``.
    """
    if task in MATBENCH_MP_TASKS:
        raise ValueError(f"matbench task {task!r} has no CrabNet folds; use load_matbench({task!r}, fold)")
    if task not in MATBENCH_TASKS:
        raise ValueError(f"unknown matbench task {task!r}; choose from {MATBENCH_TASKS + MATBENCH_MP_TASKS}")
    log_target = task in MATBENCH_LOG_TASKS
    return {split: _matbench_split(data_path(f"{MATBENCH_DIR}/{task}/{split}{fold}.csv", data_dir), log_target)
            for split in ("train", "val", "test")}


def load_matbench(task: str, fold: int, data_dir: str | os.PathLike | None = None) -> dict[str, pd.DataFrame]:
    """One fold of any Matbench task of the paper's Table 6.

    CrabNet's folds (:func:`load_matbench_crabnet`) for :data:`MATBENCH_TASKS`;
    seeded folds of :func:`load_matbench_mp` for :data:`MATBENCH_MP_TASKS`.

    Parameters
    ----------
    task : str
        One of :data:`MATBENCH_TASKS` or :data:`MATBENCH_MP_TASKS`.
    fold : int
        Fold index, 0 to 4.
    data_dir : path-like, optional
        See :func:`resolve_data_dir`.

    Returns
    -------
    dict of str to pandas.DataFrame
        Keys ``"train"``, ``"val"``, ``"test"``.
    """
    if task in MATBENCH_MP_TASKS:
        table = load_matbench_mp(task, data_dir)
        return {name: table.iloc[rows].reset_index(drop=True)
                for name, rows in matbench_mp_split(len(table), fold).items()}
    return load_matbench_crabnet(task, fold, data_dir)
