"""The paper's evaluation head: a three-layer LeakyReLU MLP trained on L1 loss (Appendix E).

One training loop serves both of the paper's protocols:

* representation learning (Table 1): the encoder is frozen, its mean vectors are
  computed once, and only the head trains on them;
* transfer learning (Table 2): the encoder is fine-tuned jointly with the head.

:class:`MLPHeadRegressor` is the same head on any numeric feature matrix (used for
Magpie features in ``polysrl benchmark --head paper``); :class:`~polysrl_sklearn.regressor.
PolySRLRegressor` puts it on a PolySRL encoder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Real
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from .param_constraints import DEVICE, NON_NEGATIVE_INT, POSITIVE_INT
from .pretraining import resolve_device
from .stable_refit import l1_on_rows, refit_in_validation_order
from .torch_threads import one_thread

#: The learning-rate candidates of the paper's transfer-learning protocol (Appendix E).
PAPER_LEARNING_RATES: tuple[float, ...] = (5e-3, 1e-3, 5e-4, 1e-4)


def paper_head(width: int, hidden: int, seed: int | None = None) -> nn.Sequential:
    """Three-layer MLP with LeakyReLU non-linearities (paper Appendix E).

    Parameters
    ----------
    width : int
        Input width (the representation width F, or the number of features).
    hidden : int
        Width of both hidden layers.
    seed : int, optional
        Seeds the initialisation without touching the global torch generator.

    Returns
    -------
    torch.nn.Sequential
        ``Linear(width, hidden) -> LeakyReLU -> Linear(hidden, hidden) -> LeakyReLU -> Linear(hidden, 1)``.
    """
    def build() -> nn.Sequential:
        return nn.Sequential(nn.Linear(width, hidden), nn.LeakyReLU(), nn.Linear(hidden, hidden), nn.LeakyReLU(),
                             nn.Linear(hidden, 1))

    if seed is None:
        return build()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


class StackedHeads(nn.Module):
    """Several heads of one architecture trained side by side on the same batches.

    The learning-rate search of the paper's protocol trains one head per candidate on the
    same rows in the same order; stacking their weights runs the candidates as one batched
    matrix product per layer. Each head keeps its own parameters (and so its own Adam
    parameter group and learning rate), and the summed loss gives each head exactly the
    gradient it would get alone.

    Parameters
    ----------
    heads : sequence of torch.nn.Sequential
        Heads made by :func:`paper_head` (Linear / LeakyReLU layers).
    """

    def __init__(self, heads: Sequence[nn.Sequential]) -> None:
        super().__init__()
        self.heads = nn.ModuleList(heads)
        self.linear_layers = [i for i, layer in enumerate(heads[0]) if isinstance(layer, nn.Linear)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predictions of every head, shape (n_heads, batch)."""
        h = x.unsqueeze(0).expand(len(self.heads), -1, -1)
        for position, i in enumerate(self.linear_layers):
            weight = torch.stack([head[i].weight for head in self.heads])  # (K, out, in)
            bias = torch.stack([head[i].bias for head in self.heads])  # (K, out)
            h = torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))
            if position < len(self.linear_layers) - 1:
                h = F.leaky_relu(h, self.heads[0][i + 1].negative_slope)
        return h.squeeze(-1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.heads)} x {self.heads[0]!r})"


def train_l1(model: nn.Module, inputs_for: Callable[[np.ndarray], Any], targets: np.ndarray, *,
             learning_rate: float | Sequence[float], epochs: int, batch_size: int, weight_decay: float, seed: int,
             device: torch.device) -> nn.Module:
    """Train ``model`` on the mean absolute error with Adam (the paper's head protocol).

    Parameters
    ----------
    model : torch.nn.Module
        Maps a batch (whatever ``inputs_for`` returns) to predictions of shape (batch,) or (batch, 1).
        Every parameter of it is trained: pass the head alone for a frozen encoder, or an
        encoder-plus-head module for fine-tuning. A :class:`StackedHeads` gives (n_heads, batch)
        predictions; its heads' L1 losses are summed, and ``learning_rate`` then holds one rate
        per head.
    inputs_for : callable(rows) -> batch
        The model input of the given row indices (a numpy int array), already on ``device``.
        When one batch holds every row, ``rows`` is ``arange(n)``, in order.
    targets : ndarray of shape (n,)
    learning_rate, epochs, batch_size, weight_decay : see :class:`MLPHeadRegressor`.
    seed : int
        Seeds the order of the rows in each epoch.
    device : torch.device

    Returns
    -------
    torch.nn.Module
        ``model``, trained, on the CPU, in eval mode.
    """
    model.to(device).train()
    if isinstance(model, StackedHeads):
        groups = [{"params": head.parameters(), "lr": lr} for head, lr in zip(model.heads, learning_rate)]
    else:
        groups = [{"params": model.parameters(), "lr": learning_rate}]
    optimizer = torch.optim.Adam(groups, weight_decay=weight_decay)
    rng = np.random.default_rng(seed)
    y = torch.as_tensor(targets, dtype=torch.float32, device=device)
    n = len(targets)
    everything = np.arange(n)
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            rows = order[start:start + batch_size]
            if len(rows) == n:  # one batch holds every row: keep their order, so no gather is needed
                rows, batch_targets = everything, y
            else:
                batch_targets = y[torch.as_tensor(rows, device=device)]
            predictions = model(inputs_for(rows))
            predictions = predictions if isinstance(model, StackedHeads) else predictions.reshape(-1)
            loss = (predictions - batch_targets).abs().mean(dim=-1).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return model.cpu().eval()


def train_l1_measured(model: nn.Module, inputs_for: Callable[[np.ndarray], Any], targets: np.ndarray,
                      **training: Any) -> tuple[nn.Module, float, float]:
    """:func:`train_l1`, with the training-row MAE before and after.

    Returns
    -------
    model : torch.nn.Module
        Trained (CPU, eval mode).
    start, end : float
        Its MAE on the training rows before and after training.
    """
    batch_size, device = training["batch_size"], training["device"]
    start = l1_on_rows(model, inputs_for, targets, batch_size, device)
    model = train_l1(model, inputs_for, targets, **training)
    return model, start, l1_on_rows(model, inputs_for, targets, batch_size, device)


def choose_learning_rate(fit_predict: Callable[[np.ndarray, np.ndarray, list[float]], np.ndarray], y: np.ndarray,
                         learning_rates: Sequence[float], validation_fraction: float,
                         seed: int) -> tuple[float, dict[float, float]]:
    """Pick the learning rate with the lowest MAE on an inner validation split (never the test fold).

    Parameters
    ----------
    fit_predict : callable(train_rows, valid_rows, rates) -> predictions of shape (len(rates), n_valid)
        Trains one model per rate on the training rows and predicts the validation rows.
    y : ndarray of shape (n,)
    learning_rates : sequence of float
        With a single value no split is made and that value is returned.
    validation_fraction : float
    seed : int
        Seed of the split.

    Returns
    -------
    best : float
    validation_mae : dict
        Learning rate -> validation MAE (empty with a single rate).
    """
    rates = list(learning_rates)
    if len(rates) == 1:
        return float(rates[0]), {}
    train, valid = train_test_split(np.arange(len(y)), test_size=validation_fraction, random_state=seed)
    predictions = np.asarray(fit_predict(train, valid, [float(lr) for lr in rates]))
    maes = {float(lr): float(np.abs(p - y[valid]).mean()) for lr, p in zip(rates, predictions)}
    return min(maes, key=maes.get), maes


def fit_head_on_features(features: torch.Tensor, y: np.ndarray, *, learning_rates: Sequence[float],
                         validation_fraction: float, hidden: int, epochs: int, batch_size: int,
                         weight_decay: float, seed: int,
                         device: torch.device) -> tuple[nn.Sequential, float, dict[float, float]]:
    """The paper's head on a fixed feature matrix: learning rate chosen on an inner split, then retrained.

    All candidate rates train at once as one :class:`StackedHeads` (same initialisation,
    same batches). On the CPU the head trains on one torch thread
    (:func:`~polysrl_sklearn.torch_threads.one_thread`).

    Parameters
    ----------
    features : Tensor of shape (n, width)
    y : ndarray of shape (n,)
    learning_rates, validation_fraction, hidden, epochs, batch_size, weight_decay :
        See :class:`MLPHeadRegressor`.
    seed : int
        Seeds the heads' initialisation, the row order and the validation split.
    device : torch.device

    Returns
    -------
    head : torch.nn.Sequential
        Trained on all rows with the chosen rate (CPU, eval mode).
    best_learning_rate : float
    validation_mae : dict
        Learning rate -> validation MAE (empty with a single rate).
    """
    def train(rows: np.ndarray, rates: list[float], trainer: Callable[..., Any] = train_l1) -> Any:
        heads = [paper_head(features.shape[1], hidden, seed) for _ in rates]
        model = heads[0] if len(rates) == 1 else StackedHeads(heads)
        on_device = features[torch.as_tensor(rows)].to(device)
        return trainer(model, lambda r: on_device[torch.as_tensor(r, device=device)], y[rows],
                       learning_rate=rates[0] if len(rates) == 1 else rates, epochs=epochs,
                       batch_size=batch_size, weight_decay=weight_decay, seed=seed, device=device)

    def fit_predict(train_rows: np.ndarray, valid_rows: np.ndarray, rates: list[float]) -> np.ndarray:
        model = train(train_rows, rates)
        with torch.no_grad():
            return model(features[torch.as_tensor(valid_rows)]).reshape(len(rates), -1).double().numpy()

    with one_thread(device):
        best, maes = choose_learning_rate(fit_predict, y, learning_rates, validation_fraction, seed)
        # the retraining on every row; a diverged one falls back to the next rate
        head, best = refit_in_validation_order(lambda rate: train(np.arange(len(y)), [rate], train_l1_measured),
                                               best, maes)
        return head, best, maes



class MLPHeadRegressor(RegressorMixin, BaseEstimator):
    """The paper's evaluation head on a numeric feature matrix.

    A three-layer LeakyReLU MLP trained on the L1 loss with Adam; the learning
    rate is chosen on an inner validation split of the training data, then the
    head is retrained on all of it (paper Appendix E). Put a scaler in front of it
    for features on mixed scales (``polysrl benchmark --head paper`` standardises
    Magpie features).

    Parameters
    ----------
    learning_rates : sequence of float, default=(5e-3, 1e-3, 5e-4, 1e-4)
        Candidates; a single value skips the validation search (the paper's
        representation-learning runs used 1e-3 alone).
    epochs : int, default=300
    batch_size : int, default=256
    hidden : int, default=256
        Width of the two hidden layers.
    weight_decay : float, default=1e-6
        Adam's L2 penalty.
    validation_fraction : float, default=0.2
    device : str, default="cpu"
    random_state : int or None, default=None
        Seeds the initialisation, the row order and the validation split.

    Attributes
    ----------
    head_ : torch.nn.Sequential
    best_learning_rate_ : float
    validation_mae_ : dict
        Learning rate -> validation MAE (empty with a single rate).
    n_features_in_ : int
    """

    _parameter_constraints: dict = {
        "learning_rates": ["array-like"],
        "epochs": [POSITIVE_INT],
        "batch_size": [POSITIVE_INT],
        "hidden": [POSITIVE_INT],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "device": DEVICE,
        "random_state": [NON_NEGATIVE_INT, None],
    }

    def __init__(self, learning_rates: Sequence[float] = PAPER_LEARNING_RATES, epochs: int = 300,
                 batch_size: int = 256, hidden: int = 256, weight_decay: float = 1e-6,
                 validation_fraction: float = 0.2, device: str = "cpu", random_state: int | None = None) -> None:
        self.learning_rates = learning_rates
        self.epochs = epochs
        self.batch_size = batch_size
        self.hidden = hidden
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.device = device
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any) -> "MLPHeadRegressor":
        """Choose the learning rate on an inner split, then train the head on all of ``X``."""
        X, y = validate_data(self, X, y, dtype=np.float32, y_numeric=True)
        self.head_, self.best_learning_rate_, self.validation_mae_ = fit_head_on_features(
            torch.from_numpy(np.ascontiguousarray(X)), np.asarray(y, dtype=np.float64),
            learning_rates=self.learning_rates, validation_fraction=self.validation_fraction, hidden=self.hidden,
            epochs=self.epochs, batch_size=self.batch_size, weight_decay=self.weight_decay,
            seed=0 if self.random_state is None else int(self.random_state), device=resolve_device(self.device))
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets of the rows of ``X``."""
        check_is_fitted(self, "head_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        with torch.no_grad():
            return self.head_(torch.from_numpy(np.ascontiguousarray(X))).reshape(-1).double().numpy()
