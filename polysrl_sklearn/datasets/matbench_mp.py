"""The two Materials Project Matbench tasks (``mp_gap``, ``mp_e_form``) with seeded 72/8/20 folds."""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
import pandas as pd
from pymatgen.core import Composition

from ._base import _finish, canonical_formula, data_path, resolve_data_dir

MATBENCH_MP_DIR = "pypi_crabnet-2.0.8/matbench"


#: The paper's two large Materials Project Matbench tasks. The shared data has
#: no CrabNet folds for them, so :func:`load_matbench_mp` makes seeded 72/8/20
#: folds of the full Matbench table.
MATBENCH_MP_TASKS: tuple[str, ...] = ("mp_gap", "mp_e_form")

#: Seed of the folds of :data:`MATBENCH_MP_TASKS` (Matbench's own KFold seed).
MATBENCH_MP_FOLD_SEED = 18012019


@lru_cache(maxsize=4)
def _matbench_mp_table(task: str, data_dir: str) -> pd.DataFrame:
    path = data_path(f"{MATBENCH_MP_DIR}/{task}.csv", data_dir)
    raw = pd.read_csv(path)
    formula = raw["formula"].astype(str).str.strip()
    unique = formula.drop_duplicates()
    reduced_of = dict(zip(unique, (canonical_formula(Composition(f).reduced_composition) for f in unique)))
    reduced = formula.map(reduced_of)
    frame = raw.assign(formula=formula, composition=reduced, target=raw["target"].astype(float))
    grouped = frame.groupby("composition", sort=True)
    if task == "mp_e_form":  # the lowest formation energy: the paper's rule for polymorphs
        pick = frame.loc[grouped["target"].idxmin()].set_index("composition")
        value = pick["target"]
    else:  # no per-entry energy in this table, so the polymorphs' band gaps are averaged
        pick = grouped.first()
        value = grouped["target"].mean()
    table = pd.DataFrame({"composition": value.index, "target": value.to_numpy(),
                          "formula": pick.loc[value.index, "formula"].to_numpy(),
                          "target_raw": value.to_numpy(), "n_reports": grouped.size().loc[value.index].to_numpy()})
    return _finish(table, "target", log_target=False, source=str(path), n_source_rows=len(raw),
                   polymorph_rule="lowest" if task == "mp_e_form" else "mean")


def load_matbench_mp(task: str, data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """A Materials Project Matbench task, one row per reduced composition.

    The source is the full Matbench table (``formula``, ``target``; one row
    per MP entry, formulas unreduced). Entries are grouped by reduced
    composition. For ``mp_e_form`` the lowest formation energy is kept, the
    paper's rule (the value of the lowest-energy polymorph). ``mp_gap`` has no
    per-entry formation energy, so that rule cannot be applied there and the
    polymorphs' band gaps are averaged instead (``attrs["polymorph_rule"]``).

    Parameters
    ----------
    task : {"mp_gap", "mp_e_form"}
        One of :data:`MATBENCH_MP_TASKS`.
    data_dir : path-like, optional
        See :func:`resolve_data_dir`.

    Returns
    -------
    pandas.DataFrame
        Columns ``composition`` (canonical, reduced), ``target`` (eV or
        eV/atom, not transformed), ``formula`` (one source spelling),
        ``target_raw`` and ``n_reports`` (entries grouped into the row).
    """
    if task not in MATBENCH_MP_TASKS:
        raise ValueError(f"unknown Materials Project matbench task {task!r}; choose from {MATBENCH_MP_TASKS}")
    # cached per resolved folder; the copy (attrs included) keeps callers from editing the cache
    return _matbench_mp_table(task, str(resolve_data_dir(data_dir))).copy()


def matbench_mp_split(n_rows: int, fold: int) -> dict[str, np.ndarray]:
    """Row indices of fold ``fold`` of a :data:`MATBENCH_MP_TASKS` table: 72/8/20.

    ``KFold(5, shuffle=True, random_state=MATBENCH_MP_FOLD_SEED)`` gives the
    test rows; 10 % of the rest (seeded by the fold) is the validation split.

    Parameters
    ----------
    n_rows : int
        Rows of the table.
    fold : int
        Fold index, 0 to 4.

    Returns
    -------
    dict of str to numpy.ndarray
        Keys ``"train"``, ``"val"``, ``"test"``.
    """
    from sklearn.model_selection import KFold, train_test_split

    if fold not in range(5):
        raise ValueError(f"fold must be 0 to 4, got {fold!r}")
    splits = list(KFold(5, shuffle=True, random_state=MATBENCH_MP_FOLD_SEED).split(np.arange(n_rows)))
    rest, test = splits[fold]
    train, val = train_test_split(rest, test_size=0.1, random_state=MATBENCH_MP_FOLD_SEED + fold)
    return {"train": np.sort(train), "val": np.sort(val), "test": test}
