"""Pandas loaders for the PolySRL paper's downstream (property prediction) tasks.

One module per data source, as in :mod:`sklearn.datasets`:

* :mod:`~polysrl_sklearn.datasets.band_gap` -- experimental band gaps (Zhuo et al. 2018)
* :mod:`~polysrl_sklearn.datasets.mp_dft_band_gap` -- MP DFT band gaps of non-metals (validation, multi-task)
* :mod:`~polysrl_sklearn.datasets.formation_enthalpy` -- experimental formation enthalpies (Kim et al. 2017)
* :mod:`~polysrl_sklearn.datasets.metallic_glass` -- metallic-glass reduced glass-transition temperature (Morgan 2018)
* :mod:`~polysrl_sklearn.datasets.estm` -- ESTM thermoelectrics at 300 K and 600 K (Na & Chang 2022)
* :mod:`~polysrl_sklearn.datasets.matbench` -- Matbench on CrabNet's folds, and :func:`load_matbench` for all
* :mod:`~polysrl_sklearn.datasets.matbench_mp` -- Matbench MP band gap and formation energy
* :mod:`~polysrl_sklearn.datasets.mp_corpus` -- index of the MP structures of the pretraining corpus
* :mod:`~polysrl_sklearn.datasets.tasks` -- the task table (``TASK_TABLE``, ``TASKS``)
* :mod:`~polysrl_sklearn.datasets.paper` -- every number quoted from the paper

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
else ``<repository>/../shared/data`` (:func:`resolve_data_dir`).

Examples
--------
>>> from polysrl_sklearn.datasets import TASK_TABLE, canonical_formula
>>> canonical_formula("Pb0.9Se0.9Sn0.1Se0.1")
'Sn0.1Pb0.9Se'
>>> TASK_TABLE["band_gap"].unit
'eV'
"""

from importlib import import_module
from typing import Any

# Name -> submodule. Imported on first use, so that importing one submodule (``paper``, which
# the recipes read) does not import pandas and every loader.
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(["DATA_DIR_ENV", "GroupBy", "canonical_formula", "data_path", "resolve_data_dir"], "_base"),
    **dict.fromkeys(["BAND_GAP_FILE", "BAND_GAP_REFERENCE_FILE", "check_band_gap_against_reference",
                     "load_band_gap"], "band_gap"),
    **dict.fromkeys(["ESTM_FILE", "ESTM_TARGETS", "ESTM_WINDOWS", "EstmTarget", "load_estm", "seebeck_from_scaled",
                     "thermoelectric_zt"], "estm"),
    **dict.fromkeys(["FORMATION_ENTHALPY_FILE", "load_formation_enthalpy"], "formation_enthalpy"),
    **dict.fromkeys(["MATBENCH_DIR", "MATBENCH_LOG_TASKS", "MATBENCH_TASKS", "load_matbench",
                     "load_matbench_crabnet"], "matbench"),
    **dict.fromkeys(["MATBENCH_MP_DIR", "MATBENCH_MP_FOLD_SEED", "MATBENCH_MP_TASKS", "load_matbench_mp",
                     "matbench_mp_split"], "matbench_mp"),
    **dict.fromkeys(["METALLIC_FILE", "load_metallic"], "metallic_glass"),
    **dict.fromkeys(["MP_INDEX_FILE", "MP_STRUCTURES_FILE_NAME", "mp_polymorph_counts"], "mp_corpus"),
    **dict.fromkeys(["MP_BAND_GAP_FILE", "load_mp_dft_band_gap"], "mp_dft_band_gap"),
    "MAE_SCALE": "paper",
    **dict.fromkeys(["TASK_TABLE", "TASKS", "Task"], "tasks"),
}


def __getattr__(name: str) -> Any:
    """Import a public name from its submodule on first use."""
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = [
    "BAND_GAP_FILE", "BAND_GAP_REFERENCE_FILE", "DATA_DIR_ENV", "ESTM_FILE", "ESTM_TARGETS", "ESTM_WINDOWS",
    "EstmTarget", "FORMATION_ENTHALPY_FILE", "GroupBy", "MAE_SCALE", "MATBENCH_DIR", "MATBENCH_LOG_TASKS",
    "MATBENCH_MP_DIR", "MATBENCH_MP_FOLD_SEED", "MATBENCH_MP_TASKS", "MATBENCH_TASKS", "METALLIC_FILE",
    "MP_BAND_GAP_FILE", "MP_INDEX_FILE", "MP_STRUCTURES_FILE_NAME", "TASKS", "TASK_TABLE", "Task", "canonical_formula",
    "check_band_gap_against_reference", "data_path", "load_band_gap", "load_estm", "load_formation_enthalpy",
    "load_matbench", "load_matbench_crabnet", "load_matbench_mp", "load_metallic", "matbench_mp_split",
    "load_mp_dft_band_gap", "mp_polymorph_counts", "resolve_data_dir", "seebeck_from_scaled", "thermoelectric_zt",
]
