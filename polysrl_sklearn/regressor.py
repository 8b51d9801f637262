"""Transfer learning: fine-tune the pretrained stoichiometry encoder with an MLP head."""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from numbers import Real
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted
from torch import nn

from .composition import as_composition_list, parse_composition
from .featurizer import PolySRLFeaturizer
from .param_constraints import DEVICE, NON_NEGATIVE_INT, POSITIVE_INT, PRETRAINED
from .pretraining import resolve_device
from .stoichiometry_graph import build_stoichiometry_batch
from .torch_threads import threads_for


def _head(width: int, hidden: int) -> nn.Sequential:
    """Three-layer MLP with LeakyReLU (paper Appendix E)."""
    return nn.Sequential(nn.Linear(width, hidden), nn.LeakyReLU(), nn.Linear(hidden, hidden), nn.LeakyReLU(),
                         nn.Linear(hidden, 1))


class PolySRLRegressor(RegressorMixin, BaseEstimator):
    """Fine-tune a pretrained PolySRL encoder jointly with a 3-layer MLP head.

    The learning rate is chosen on an inner validation split of the data
    given to ``fit`` (never on test folds); the model is then retrained on
    all of it with that rate (paper Appendix E).

    Parameters
    ----------
    pretrained : str, path or None, default="default"
        Encoder weights, as in :class:`PolySRLFeaturizer` (None: random init).
    learning_rates : sequence of float, default=(5e-3, 1e-3, 5e-4, 1e-4)
        Candidates; a single value skips the validation search.
    epochs : int, default=300
        Paper: 500.
    batch_size : int, default=256
    hidden : int, default=256
        Width of the head's hidden layers.
    validation_fraction : float, default=0.2
    hidden_dim : int or None, default=None
        Encoder width. None: the checkpoint's width, or 64 with
        ``pretrained=None``; a value that conflicts with the checkpoint
        raises ``ValueError``.
    device : str, default="auto"
    random_state : int or None, default=None
    verbose : bool, default=False

    Attributes
    ----------
    best_learning_rate_ : float
    validation_mae_ : dict
        Learning rate -> validation MAE (empty with a single rate).
    encoder_ : StoichiometryEncoder
    head_ : torch.nn.Module
    """

    _parameter_constraints: dict = {
        "pretrained": PRETRAINED,
        "finetune": ["boolean"],
        "learning_rates": ["array-like"],
        "epochs": [POSITIVE_INT],
        "batch_size": [POSITIVE_INT],
        "hidden": [POSITIVE_INT],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "hidden_dim": [POSITIVE_INT, None],
        "device": DEVICE,
        "random_state": [NON_NEGATIVE_INT, None],
        "verbose": ["verbose"],
    }

    def __init__(self, pretrained: str | os.PathLike | None = "default",
                 learning_rates: Sequence[float] = (5e-3, 1e-3, 5e-4, 1e-4), epochs: int = 300,
                 batch_size: int = 256, hidden: int = 256, validation_fraction: float = 0.2,
                 hidden_dim: int | None = None, device: str = "auto", random_state: int | None = None,
                 verbose: bool = False) -> None:
        self.pretrained = pretrained
        self.learning_rates = learning_rates
        self.epochs = epochs
        self.batch_size = batch_size
        self.hidden = hidden
        self.validation_fraction = validation_fraction
        self.hidden_dim = hidden_dim
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _fresh(self, seed: int) -> tuple[nn.Module, nn.Module]:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            network = PolySRLFeaturizer(pretrained=self.pretrained, hidden_dim=self.hidden_dim,
                                        random_state=seed).fit([]).network_
            encoder = copy.deepcopy(network.stoichiometry)
            return encoder, _head(network.config.hidden_dim, self.hidden)

    def _train(self, parsed: list, y: np.ndarray, lr: float, seed: int, device: torch.device
               ) -> tuple[nn.Module, nn.Module]:
        encoder, head = self._fresh(seed)
        encoder.to(device).train()
        head.to(device).train()
        optimizer = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=lr)
        rng = np.random.default_rng(seed)
        targets = torch.as_tensor(y, dtype=torch.float32, device=device)
        # a data set that fits in one batch is built and moved to the device once
        whole = build_stoichiometry_batch(parsed).to(device) if len(parsed) <= self.batch_size else None
        for _ in range(self.epochs):
            order = rng.permutation(len(parsed))
            for start in range(0, len(order), self.batch_size):
                if whole is not None:
                    batch, batch_targets = whole, targets
                else:
                    rows = order[start:start + self.batch_size]
                    batch = build_stoichiometry_batch([parsed[i] for i in rows]).to(device)
                    batch_targets = targets[torch.as_tensor(rows, device=device)]
                loss = (head(encoder.mean_vector(batch)).squeeze(-1) - batch_targets).abs().mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        return encoder.cpu().eval(), head.cpu().eval()

    @torch.no_grad()
    def _predict(self, encoder: nn.Module, head: nn.Module, parsed: list) -> np.ndarray:
        out = []
        with threads_for(len(parsed), torch.device("cpu")):  # few rows: one thread (see torch_threads)
            for start in range(0, len(parsed), 8192):
                mean = encoder.mean_vector(build_stoichiometry_batch(parsed[start:start + 8192]))
                out.append(head(mean).squeeze(-1).numpy())
        return np.concatenate(out).astype(np.float64)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any) -> "PolySRLRegressor":
        """Fine-tune on compositions ``X`` and targets ``y``."""
        items = as_composition_list(X)
        parsed = [parse_composition(item, i) for i, item in enumerate(items)]
        y = np.asarray(y, dtype=np.float64).ravel()
        if len(y) != len(parsed):
            raise ValueError(f"X has {len(parsed)} compositions but y has {len(y)} values")
        seed = 0 if self.random_state is None else int(self.random_state)
        device = resolve_device(self.device)
        rates = list(self.learning_rates)
        validation_mae = {}
        if len(rates) > 1:
            train, valid = train_test_split(np.arange(len(y)), test_size=self.validation_fraction,
                                            random_state=seed)
            for lr in rates:
                encoder, head = self._train([parsed[i] for i in train], y[train], lr, seed, device)
                pred = self._predict(encoder, head, [parsed[i] for i in valid])
                validation_mae[lr] = float(np.abs(pred - y[valid]).mean())
            best_learning_rate = min(validation_mae, key=validation_mae.get)
        else:
            best_learning_rate = rates[0]
        encoder, head = self._train(parsed, y, best_learning_rate, seed, device)
        # atomic: the fitted attributes appear together, once training has finished
        self.validation_mae_, self.best_learning_rate_ = validation_mae, best_learning_rate
        self.encoder_, self.head_, self.n_features_in_ = encoder, head, 1
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets of compositions ``X``."""
        check_is_fitted(self, "head_")
        items = as_composition_list(X)
        return self._predict(self.encoder_, self.head_, [parse_composition(it, i) for i, it in enumerate(items)])

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags
