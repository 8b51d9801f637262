"""ESTM thermoelectric properties at 300 K and 600 K (Na & Chang 2022), and ZT from predictions."""

from __future__ import annotations

import os
from typing import Literal

import numpy as np
import pandas as pd

from ._base import GroupBy, _average_reports, _finish, _with_compositions, data_path

EstmTarget = Literal["electrical_conductivity", "thermal_conductivity", "seebeck"]

ESTM_FILE = "KRICT-DATA_SIMD/estm.xlsx"


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
