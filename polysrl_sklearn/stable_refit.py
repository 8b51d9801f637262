"""The retraining after the learning-rate choice, guarded against a diverged run.

The paper's head protocol picks a learning rate on an inner validation split and then retrains
on all the training rows at that rate. At the largest candidate (5e-3), fine-tuning an encoder
can diverge in that retraining although it did not on the inner split. Measured with the default
model on ESTM 300 K thermal conductivity (seed 1, fold 1): training L1 0.90 at the first epoch,
686 at the last, every test prediction near -370, test MAE 217 where the other folds have 0.21-0.24.
A retraining that ends worse on its own training rows than where it started has diverged: it is
discarded with a :class:`~sklearn.exceptions.ConvergenceWarning` and the next learning rate in
order of validation MAE is trained instead.

Examples
--------
>>> import warnings
>>> from torch import nn
>>> def train_at(rate):  # a stand-in: the largest rate "diverges"
...     return nn.Identity(), 1.0, (500.0 if rate == 5e-3 else 0.2)
>>> with warnings.catch_warnings(record=True):
...     warnings.simplefilter("always")
...     _, rate = refit_in_validation_order(train_at, 5e-3, {5e-3: 0.19, 1e-3: 0.20, 1e-4: 0.25})
>>> rate
0.001
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from torch import nn


@torch.no_grad()
def l1_on_rows(model: nn.Module, inputs_for: Callable[[np.ndarray], Any], targets: np.ndarray,
               batch_size: int, device: torch.device) -> float:
    """Mean absolute error of ``model`` (eval mode) on every row, in batches of ``batch_size``.

    Leaves ``model`` on the CPU in eval mode (as :func:`~polysrl_sklearn.head.train_l1` does).
    """
    model.to(device).eval()
    total = 0.0
    for start in range(0, len(targets), batch_size):
        rows = np.arange(start, min(start + batch_size, len(targets)))
        predictions = model(inputs_for(rows)).reshape(-1).double().cpu().numpy()
        total += float(np.abs(predictions - targets[rows]).sum())
    model.cpu()
    return total / max(len(targets), 1)


def refit_in_validation_order(train_at: Callable[[float], tuple[nn.Module, float, float]], best: float,
                              validation_mae: dict[float, float]) -> tuple[nn.Module, float]:
    """Retrain at ``best``; if that run diverges, at the next rate in order of validation MAE.

    Parameters
    ----------
    train_at : callable(rate) -> (model, start, end)
        Trains a fresh model on all training rows at ``rate`` (see :func:`~polysrl_sklearn.head.train_l1_measured`).
    best : float
        The rate chosen on the inner validation split.
    validation_mae : dict
        Rate -> validation MAE (empty when a single rate was given: no fallback).

    Returns
    -------
    model : torch.nn.Module
    rate : float
        The rate of the returned model.

    Raises
    ------
    RuntimeError
        If every rate diverges, naming each with its training MAEs.
    """
    ranked = [best] + sorted((rate for rate in validation_mae if rate != best), key=validation_mae.get)
    failures = []
    for rate in ranked:
        model, start, end = train_at(rate)
        if math.isfinite(end) and end <= start:
            return model, rate
        failures.append(f"{rate:g} (training MAE {start:.4g} -> {end:.4g})")
        warnings.warn(f"training at learning rate {rate:g} diverged (training MAE {start:.4g} before, {end:.4g} "
                      "after); discarded" + ("" if rate == ranked[-1] else ", retraining at the next rate in "
                                             "order of validation MAE"), ConvergenceWarning, stacklevel=2)
    raise RuntimeError("training diverged at every learning rate: " + ", ".join(failures))
