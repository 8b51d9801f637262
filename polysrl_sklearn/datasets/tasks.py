"""The wet-lab task table: name -> loader, source file, reference, unit and expected rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import pandas as pd

from .band_gap import BAND_GAP_FILE, load_band_gap
from .estm import ESTM_FILE, ESTM_WINDOWS, load_estm
from .formation_enthalpy import FORMATION_ENTHALPY_FILE, load_formation_enthalpy
from .metallic_glass import METALLIC_FILE, load_metallic
from .paper import MAE_SCALE, PAPER_ROWS


@dataclass(frozen=True)
class Task:
    """One downstream regression task of the paper's Tables 1 and 2.

    Attributes
    ----------
    name : str
        Task name (a key of :data:`TASKS`).
    loader : callable
        Returns the task's DataFrame; takes ``data_dir=`` and ``group_by=``.
    file : str
        Source file, relative to the data folder (:func:`~polysrl_sklearn.datasets.resolve_data_dir`).
    reference : str
        Where the data comes from.
    unit : str
        Unit of the ``target`` column (after the paper's transform).
    expected_rows : int
        Rows the loader returns from the shared data (``group_by="raw"``).
    paper_rows : int
        Rows the paper states (Appendix C); can differ from ``expected_rows``.
    mae_scale : float
        Factor the paper multiplies the MAE by (:data:`~polysrl_sklearn.datasets.paper.MAE_SCALE`).
    """

    name: str
    loader: Callable[..., pd.DataFrame]
    file: str
    reference: str
    unit: str
    expected_rows: int
    paper_rows: int
    mae_scale: float


_ESTM_REFERENCE = "Na & Chang 2022, ESTM (KRICT-DATA SIMD)"
_ESTM_TARGETS = {"ec": ("electrical_conductivity", "ln(S/m)"), "tc": ("thermal_conductivity", "ln(W/mK)"),
                 "seebeck": ("seebeck", "min-max scaled uV/K")}
_ESTM_ROWS = {300: 358, 600: 188}

#: Every wet-lab task, in the paper's column order.
TASK_TABLE: dict[str, Task] = {task.name: task for task in [
    Task("band_gap", load_band_gap, BAND_GAP_FILE, "Zhuo et al. 2018 (via Roost)", "eV", 2482,
         PAPER_ROWS["band_gap"], MAE_SCALE["band_gap"]),
    Task("formation_enthalpy", load_formation_enthalpy, FORMATION_ENTHALPY_FILE, "Kim et al. 2017 (via CroMEL)",
         "eV/atom", 1145, PAPER_ROWS["formation_enthalpy"], MAE_SCALE["formation_enthalpy"]),
    Task("metallic", load_metallic, METALLIC_FILE, "Morgan 2018, MAST-ML metallic glasses", "1 (Trg)", 584,
         PAPER_ROWS["metallic"], MAE_SCALE["metallic"]),
    *(Task(f"estm{t}_{short}", partial(load_estm, temperature=t, target=target), ESTM_FILE, _ESTM_REFERENCE,
           unit, _ESTM_ROWS[t], PAPER_ROWS[f"estm{t}"], MAE_SCALE[f"estm{t}_{short}"])
      for t in ESTM_WINDOWS for short, (target, unit) in _ESTM_TARGETS.items()),
]}

#: Task name -> loader; call as ``TASKS[name]()`` or ``TASKS[name](data_dir=...)``.
TASKS: dict[str, Callable[..., pd.DataFrame]] = {name: task.loader for name, task in TASK_TABLE.items()}
