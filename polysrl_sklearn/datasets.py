"""Pandas loaders for the PolySRL paper's downstream (property prediction) tasks.

Every loader returns a :class:`pandas.DataFrame` with at least

``composition``
    Canonical composition string (see :func:`canonical_formula`).
``target``
    The float regression target, already transformed as in the paper
    (natural log or min-max scaling where the paper does so).

plus ``formula`` (the spelling found in the source file), ``n_reports`` (how
many source rows were averaged into the row) and task-specific raw columns.
Bookkeeping (dropped rows, scaling constants, ...) is kept in ``df.attrs``.

Canonical composition
---------------------
``composition`` is ``pymatgen.core.Composition(raw)`` written with the
elements in pymatgen's ``Composition.formula`` order (increasing Pauling
electronegativity, ties broken by symbol), the amounts *not* reduced, and an
amount of exactly 1 omitted: ``"NaCl"``, ``"Fe2O3"``, ``"Zr55Cu35Ag10"``,
``"Hg0.7Cd0.3Te"``. Repeated elements are merged
(``"Pb0.9Se0.9Sn0.1Se0.1"`` -> ``"Sn0.1Pb0.9Se"``) and amounts are rounded
to 8 decimals (pymatgen's ``formula_double_format``).

Grouping of repeated reports
----------------------------
``group_by="raw"`` (the default) averages repeated reports of the *same
source spelling*, which is what the paper did: it reproduces the paper's
2,482-formula band-gap set exactly. A few distinct spellings share one
canonical composition (e.g. ``SnGe``/``GeSn``), so the ``composition`` column
may then hold a handful of duplicates (counted in
``df.attrs["n_duplicate_compositions"]``). ``group_by="canonical"`` averages
on the canonical composition instead, so every composition appears once.

Data directory
--------------
Files are looked up under ``data_dir`` if given, else ``$POLYSRL_DATA_DIR``,
else ``<repository>/../shared/data``.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache, partial
from pathlib import Path
from typing import Callable, Literal

import numpy as np
import pandas as pd
from pymatgen.core import Composition
from pymatgen.util.string import formula_double_format

GroupBy = Literal["raw", "canonical"]
EstmTarget = Literal["electrical_conductivity", "thermal_conductivity", "seebeck"]

DATA_DIR_ENV = "POLYSRL_DATA_DIR"

BAND_GAP_FILE = "CompRhys_roost/expt-non-metals.csv"
BAND_GAP_REFERENCE_FILE = "Namkyeong_PolySRL_AI4Science/ebg_polysrl_processed.csv"
FORMATION_ENTHALPY_FILE = "ngs00_CroMEL/efe.xlsx"
METALLIC_FILE = "wongshiyuen_reduced-glass-temp-pso-svr/Metallic_Glass_Forming_with_features2.xlsx"
ESTM_FILE = "KRICT-DATA_SIMD/estm.xlsx"
MATBENCH_DIR = "anthony-wang_CrabNet/matbench_cv"
MATBENCH_MP_DIR = "pypi_crabnet-2.0.8/matbench"
MP_INDEX_FILE = "fxcoudert_topology_databases/mp_structures_index.csv.gz"
MP_STRUCTURES_FILE_NAME = "mp_structures_id_lt2M.jsonl.gz"

#: Measurement-temperature windows (K, inclusive) of the paper's ESTM sets.
ESTM_WINDOWS: dict[int, tuple[float, float]] = {300: (295.0, 305.0), 600: (593.0, 608.0)}

ESTM_TARGETS: tuple[str, ...] = ("electrical_conductivity", "thermal_conductivity", "seebeck")

_ESTM_COLUMNS: dict[str, str] = {
    "temperature(K)": "temperature_K",
    "seebeck_coefficient(\u03bcV/K)": "seebeck_uV_per_K",
    "electrical_conductivity(S/m)": "electrical_conductivity",
    "thermal_conductivity(W/mK)": "thermal_conductivity",
    "power_factor(W/mK2)": "power_factor",
    "ZT": "ZT",
}

#: CrabNet ``matbench_cv`` tasks (5 folds each, with train/val/test splits).
MATBENCH_TASKS: tuple[str, ...] = (
    "castelli",
    "dielectric",
    "elasticity_log10(G_VRH)",
    "elasticity_log10(K_VRH)",
    "jdft2d",
    "phonons",
)

#: The paper's two large Materials Project Matbench tasks. The shared data has
#: no CrabNet folds for them, so :func:`load_matbench_mp` makes seeded 72/8/20
#: folds of the full Matbench table.
MATBENCH_MP_TASKS: tuple[str, ...] = ("mp_gap", "mp_e_form")

#: Seed of the folds of :data:`MATBENCH_MP_TASKS` (Matbench's own KFold seed).
MATBENCH_MP_FOLD_SEED = 18012019

#: Matbench tasks whose targets are strictly positive in every fold and are
#: therefore natural-logged. ``castelli`` has negative formation energies and
#: the two elasticity tasks are already log10 with exact zeros, so they stay.
MATBENCH_LOG_TASKS: frozenset[str] = frozenset({"dielectric", "jdft2d", "phonons"})


# --------------------------------------------------------------------------
# paths and formulas
# --------------------------------------------------------------------------
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
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


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


def _electronegativity_key(element) -> tuple[float, str]:
    x = element.X
    return (x if not math.isnan(x) else math.inf, element.symbol)


@lru_cache(maxsize=300_000)
def canonical_formula(formula: str | Composition) -> str:
    """Canonical string of a composition (see the module docstring).

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


# --------------------------------------------------------------------------
# shared aggregation
# --------------------------------------------------------------------------
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


# --------------------------------------------------------------------------
# experimental datasets
# --------------------------------------------------------------------------
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
        How repeated reports are grouped (see the module docstring).

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
        How repeated reports are grouped (see the module docstring).

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
        How repeated reports are grouped (see the module docstring).

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


# --------------------------------------------------------------------------
# ESTM thermoelectrics
# --------------------------------------------------------------------------
def _estm_window(temperature: float, window: tuple[float, float] | None) -> tuple[float, float]:
    if window is not None:
        return (float(window[0]), float(window[1]))
    if temperature not in ESTM_WINDOWS:
        raise ValueError(f"no default window for {temperature} K; pass window=(low, high) "
                         f"(defaults exist for {sorted(ESTM_WINDOWS)})")
    return ESTM_WINDOWS[temperature]


def _estm_rows(low: float, high: float, data_dir: str | os.PathLike | None) -> pd.DataFrame:
    """ESTM rows measured in ``[low, high]`` K, columns renamed."""
    raw = pd.read_excel(data_path(ESTM_FILE, data_dir)).rename(columns=_ESTM_COLUMNS)
    return raw[raw["temperature_K"].between(low, high)]


def _estm_target(frame: pd.DataFrame, target: EstmTarget) -> tuple[pd.Series, dict]:
    """Transformed target and the attrs needed to undo the transform."""
    if target in ("electrical_conductivity", "thermal_conductivity"):
        return np.log(frame[target]), {"transform": "log"}
    if target == "seebeck":
        s = frame["seebeck_uV_per_K"]
        lo, hi = float(s.min()), float(s.max())
        return (s - lo) / (hi - lo), {"transform": "minmax", "seebeck_min": lo, "seebeck_max": hi}
    raise ValueError(f"target must be one of {ESTM_TARGETS}, got {target!r}")


def load_estm(
    temperature: float = 300,
    target: EstmTarget = "electrical_conductivity",
    *,
    window: tuple[float, float] | None = None,
    data_dir: str | os.PathLike | None = None,
    group_by: GroupBy = "raw",
) -> pd.DataFrame:
    """ESTM thermoelectric properties at one temperature (Na & Chang 2022).

    Temperature rule (from the paper): the "300 K" set is every row measured
    in 295-305 K and the "600 K" set every row measured in 593-608 K, both
    bounds inclusive (:data:`ESTM_WINDOWS`). Repeated rows of a composition
    inside the window are averaged (raw quantities first, then the target
    transform is applied to the means).

    Targets: ``"electrical_conductivity"`` -> ln(sigma / (S/m));
    ``"thermal_conductivity"`` -> ln(kappa / (W/mK)); ``"seebeck"`` -> the
    Seebeck coefficient min-max scaled to [0, 1] over the loaded rows, with
    ``attrs["seebeck_min"]``/``["seebeck_max"]`` (uV/K) to undo it (see
    :func:`seebeck_from_scaled`). Raw columns are kept so that
    ZT = S^2 sigma T / kappa can be formed from predictions
    (:func:`thermoelectric_zt`).

    Parameters
    ----------
    temperature : float
        Nominal temperature in K (300 or 600 have default windows).
    target : {"electrical_conductivity", "thermal_conductivity", "seebeck"}
        Which property becomes ``target``.
    window : tuple of float, optional
        Inclusive measured-temperature window in K; overrides the default.
    data_dir : path-like, optional
        See :func:`resolve_data_dir`.
    group_by : {"raw", "canonical"}
        How repeated reports are grouped (see the module docstring).

    Returns
    -------
    pandas.DataFrame
        Columns ``composition``, ``target``, ``formula``, ``temperature_K``,
        ``seebeck_uV_per_K``, ``electrical_conductivity`` (S/m),
        ``thermal_conductivity`` (W/mK), ``power_factor`` (W/mK^2), ``ZT``,
        ``n_reports`` (all means over the window).
    """
    low, high = _estm_window(temperature, window)
    rows = _with_compositions(_estm_rows(low, high, data_dir), "Formula")
    frame = _average_reports(rows, list(_ESTM_COLUMNS.values()), group_by)
    values, extra = _estm_target(frame, target)
    frame = frame.assign(_target=values)
    return _finish(frame, "_target", task=f"estm{temperature:g}_{target}", temperature=temperature,
                   window=(low, high), target=target, group_by=group_by, n_source_rows=len(rows),
                   **extra).drop(columns="_target")


def seebeck_from_scaled(scaled: np.ndarray, attrs: dict) -> np.ndarray:
    """Undo the Seebeck min-max scaling of :func:`load_estm`.

    Parameters
    ----------
    scaled : array-like
        Values on the [0, 1] scale (e.g. model predictions).
    attrs : dict
        ``df.attrs`` of the loaded frame (needs ``seebeck_min``/``seebeck_max``).

    Returns
    -------
    numpy.ndarray
        Seebeck coefficients in uV/K.
    """
    lo, hi = attrs["seebeck_min"], attrs["seebeck_max"]
    return np.asarray(scaled, dtype=float) * (hi - lo) + lo


def thermoelectric_zt(seebeck_uV_per_K, electrical_conductivity, thermal_conductivity, temperature_K) -> np.ndarray:
    """Figure of merit ZT = S^2 sigma T / kappa.

    Parameters
    ----------
    seebeck_uV_per_K : array-like
        Seebeck coefficient S in uV/K.
    electrical_conductivity : array-like
        sigma in S/m (exponentiate a log-target prediction first).
    thermal_conductivity : array-like
        kappa in W/mK.
    temperature_K : array-like
        Temperature in K.

    Returns
    -------
    numpy.ndarray
        Dimensionless ZT.
    """
    s = np.asarray(seebeck_uV_per_K, dtype=float) * 1e-6
    return s**2 * np.asarray(electrical_conductivity, dtype=float) * np.asarray(temperature_K, dtype=float) \
        / np.asarray(thermal_conductivity, dtype=float)


# --------------------------------------------------------------------------
# matbench (CrabNet folds)
# --------------------------------------------------------------------------
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


# --------------------------------------------------------------------------
# task registry
# --------------------------------------------------------------------------
def _estm_tasks() -> dict[str, Callable[..., pd.DataFrame]]:
    short = {"ec": "electrical_conductivity", "tc": "thermal_conductivity", "seebeck": "seebeck"}
    return {f"estm{t}_{name}": partial(load_estm, temperature=t, target=target)
            for t in ESTM_WINDOWS for name, target in short.items()}


#: Task name -> loader; call as ``TASKS[name]()`` or ``TASKS[name](data_dir=...)``.
TASKS: dict[str, Callable[..., pd.DataFrame]] = {
    "band_gap": load_band_gap,
    "formation_enthalpy": load_formation_enthalpy,
    "metallic": load_metallic,
    **_estm_tasks(),
}

#: Factor the paper multiplies each task's MAE by when reporting it.
MAE_SCALE: dict[str, float] = {
    name: 10.0 if name in ("formation_enthalpy", "metallic") or name.endswith("_seebeck") else 1.0
    for name in TASKS
}
