"""PolySRL encoder + the paper's MLP head: frozen (representation learning) or fine-tuned (transfer learning)."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.utils.validation import check_is_fitted
from torch import nn

from .composition import as_composition_list, parse_composition
from .encoders import mean_vectors
from .featurizer import PolySRLFeaturizer
from .head import (
    PAPER_LEARNING_RATES,
    MLPHeadRegressor,
    choose_learning_rate,
    fit_head_on_features,
    paper_head,
    train_l1,
    train_l1_measured,
)
from .param_constraints import POSITIVE_INT, PRETRAINED
from .pretraining import resolve_device
from .stable_refit import refit_in_validation_order
from .stoichiometry_graph import build_stoichiometry_batch
from .torch_threads import threads_for


class EncoderWithHead(nn.Module):
    """Stoichiometry batch -> mean vector (the encoder's f^a and f^a_mu) -> head -> prediction."""

    def __init__(self, encoder: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, batch: Any) -> torch.Tensor:  # noqa: D102
        return self.head(self.encoder.mean_vector(batch)).squeeze(-1)


def _standardiser(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Column means and standard deviations of the training features (a constant column keeps scale 1)."""
    std = features.std(dim=0, unbiased=False)
    return features.mean(dim=0), torch.where(std > 0, std, torch.ones_like(std))


def _apply(scale: tuple[torch.Tensor, torch.Tensor] | None, features: torch.Tensor) -> torch.Tensor:
    return features if scale is None else (features - scale[0]) / scale[1]


class PolySRLRegressor(RegressorMixin, BaseEstimator):
    """A PolySRL encoder with the paper's three-layer MLP head, frozen or fine-tuned.

    ``finetune=True`` is the paper's transfer-learning protocol (Table 2): the
    encoder trains jointly with the head. ``finetune=False`` is its
    representation-learning protocol (Table 1): the encoder's weights stay
    exactly as loaded, its mean vectors are computed once per ``fit`` and only
    the head trains on them. Both share one training loop
    (:func:`~polysrl_sklearn.head.train_l1`): L1 loss, Adam with
    ``weight_decay``, ``epochs`` passes, and a learning rate chosen on an inner
    validation split of the data given to ``fit`` (never on test folds), after
    which the model is retrained on all of it with that rate (paper Appendix E).

    Parameters
    ----------
    pretrained : str, path or None, default="default"
        Encoder weights, as in :class:`PolySRLFeaturizer`: a shipped model
        name, a checkpoint path, or None (random init seeded by ``random_state``).
    finetune : bool, default=True
        Train the encoder with the head (True) or keep it frozen (False).
    scale_features : bool, default=True
        With ``finetune=False``: standardise each mean-vector column on the
        training rows before the head (as is done for Magpie features). The
        paper does not say whether it did; an untrained encoder's columns have
        standard deviations near 0.006, on which the head trains poorly (see
        docs/benchmarks.md). Not used when fine-tuning.
    learning_rates : sequence of float, default=(5e-3, 1e-3, 5e-4, 1e-4)
        Candidates; a single value skips the validation search. The final
        retraining on all rows at the chosen rate falls back to the next rate in
        order of validation MAE if it diverges (ends worse on its training rows
        than it started; :mod:`~polysrl_sklearn.stable_refit`, with a
        ``ConvergenceWarning``); if every rate diverges, ``fit`` raises
        RuntimeError.
    epochs : int, default=300
        Paper: 300 for representation learning, 500 for transfer learning.
    batch_size : int, default=256
    hidden : int, default=256
        Width of the head's hidden layers.
    weight_decay : float, default=1e-6
        Adam's L2 penalty on every trained parameter.
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
        Fine-tuned, or (``finetune=False``) bit-identical to the loaded one.
    feature_scale_ : tuple of Tensor or None
        Column means and standard deviations of the training mean vectors
        (``finetune=False, scale_features=True``), else None.
    head_ : torch.nn.Module
    n_features_in_ : int
        Always 1 (one composition column).
    """

    _parameter_constraints: dict = {
        **MLPHeadRegressor._parameter_constraints,  # the head's training parameters, shared
        "pretrained": PRETRAINED,
        "finetune": ["boolean"],
        "scale_features": ["boolean"],
        "hidden_dim": [POSITIVE_INT, None],
        "verbose": ["verbose"],
    }

    def __init__(self, pretrained: str | os.PathLike | None = "default", finetune: bool = True,
                 scale_features: bool = True, learning_rates: Sequence[float] = PAPER_LEARNING_RATES, epochs: int = 300,
                 batch_size: int = 256, hidden: int = 256, weight_decay: float = 1e-6,
                 validation_fraction: float = 0.2, hidden_dim: int | None = None, device: str = "auto",
                 random_state: int | None = None, verbose: bool = False) -> None:
        self.pretrained = pretrained
        self.finetune = finetune
        self.scale_features = scale_features
        self.learning_rates = learning_rates
        self.epochs = epochs
        self.batch_size = batch_size
        self.hidden = hidden
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.hidden_dim = hidden_dim
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _load_encoder(self, seed: int) -> nn.Module:
        """The encoder of ``pretrained`` (a fresh copy), or a random one seeded by ``seed``."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            network = PolySRLFeaturizer(pretrained=self.pretrained, hidden_dim=self.hidden_dim,
                                        random_state=seed).fit([]).network_
        return copy.deepcopy(network.stoichiometry).eval()

    def _fit_joint(self, parsed: list, y: np.ndarray, lr: float, seed: int, device: torch.device,
                   trainer: Callable[..., Any] = train_l1) -> Any:
        """Fine-tuning: train a fresh copy of the encoder together with a head.

        Returns what ``trainer`` returns: the model (:func:`~polysrl_sklearn.head.train_l1`), or
        the model and its MAE on ``y`` before and after training
        (:func:`~polysrl_sklearn.head.train_l1_measured`).
        """
        encoder = self._load_encoder(seed)
        model = EncoderWithHead(encoder, paper_head(encoder.mean_out.out_features, self.hidden, seed))
        # a data set that fits in one batch is built and moved to the device once
        whole = build_stoichiometry_batch(parsed).to(device) if len(parsed) <= self.batch_size else None

        def inputs_for(rows: np.ndarray) -> Any:
            if whole is not None:
                return whole
            return build_stoichiometry_batch([parsed[i] for i in rows]).to(device)

        return trainer(model, inputs_for, y, learning_rate=lr, epochs=self.epochs, batch_size=self.batch_size,
                       weight_decay=self.weight_decay, seed=seed, device=device)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any) -> "PolySRLRegressor":
        """Train on compositions ``X`` and targets ``y`` (the encoder too when ``finetune``).

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, 1)
            Formula strings or pymatgen Composition objects.
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        items = as_composition_list(X)
        parsed = [parse_composition(item, i) for i, item in enumerate(items)]
        y = np.asarray(y, dtype=np.float64).ravel()
        if len(y) != len(parsed):
            raise ValueError(f"X has {len(parsed)} compositions but y has {len(y)} values")
        seed = 0 if self.random_state is None else int(self.random_state)
        device = resolve_device(self.device)
        if self.finetune:
            def fit_predict(train: np.ndarray, valid: np.ndarray, rates: list[float]) -> np.ndarray:
                models = [self._fit_joint([parsed[i] for i in train], y[train], lr, seed, device) for lr in rates]
                return np.stack([self._predict(m.encoder, m.head, [parsed[i] for i in valid]) for m in models])

            best_learning_rate, validation_mae = choose_learning_rate(
                fit_predict, y, self.learning_rates, self.validation_fraction, seed)
            # a retraining that diverges falls back to the next rate in validation order
            model, best_learning_rate = refit_in_validation_order(
                lambda lr: self._fit_joint(parsed, y, lr, seed, device, train_l1_measured), best_learning_rate,
                validation_mae)
            encoder, head, feature_scale = model.encoder, model.head, None
        else:
            encoder = self._load_encoder(seed)
            features = mean_vectors(encoder, parsed, device)  # once per fit, not per epoch
            feature_scale = _standardiser(features) if self.scale_features else None
            head, best_learning_rate, validation_mae = fit_head_on_features(
                _apply(feature_scale, features), y, learning_rates=self.learning_rates,
                validation_fraction=self.validation_fraction, hidden=self.hidden, epochs=self.epochs,
                batch_size=self.batch_size, weight_decay=self.weight_decay, seed=seed, device=device)
        # atomic: the fitted attributes appear together, once training has finished
        self.encoder_, self.head_, self.feature_scale_ = encoder, head, feature_scale
        self.best_learning_rate_, self.validation_mae_ = best_learning_rate, validation_mae
        self.n_features_in_ = 1
        return self

    @staticmethod
    @torch.no_grad()
    def _predict(encoder: nn.Module, head: nn.Module, parsed: list,
                 scale: tuple[torch.Tensor, torch.Tensor] | None = None) -> np.ndarray:
        if not parsed:
            return np.zeros(0)
        with threads_for(len(parsed), torch.device("cpu")):  # few rows: one thread (see torch_threads)
            return head(_apply(scale, mean_vectors(encoder, parsed))).reshape(-1).double().numpy()

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets of compositions ``X``."""
        check_is_fitted(self, "head_")
        items = as_composition_list(X)
        return self._predict(self.encoder_, self.head_, [parse_composition(it, i) for i, it in enumerate(items)],
                             self.feature_scale_)

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags
