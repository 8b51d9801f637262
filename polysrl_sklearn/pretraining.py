"""Contrastive pretraining loop with per-epoch checkpoints and resume."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .corpus import StructureCorpus
from .network import PolySRLNetwork, load_checkpoint, save_checkpoint
from .objectives import objective_loss
from .recipes import DEFAULTS
from .resume import FINGERPRINT_KEY, ResumeError, check_resumable, corpus_fingerprint
from .sampler import PolymorphBatchSampler


@dataclass
class TrainingSettings:
    """Optimisation settings; defaults are the default recipe's (``"cpu"``, see :mod:`polysrl_sklearn.recipes`).

    Attributes
    ----------
    epochs : int
    batch_size : int
        Distinct formulas per batch.
    learning_rate : float
    grad_clip : float
        Max gradient norm.
    max_polymorphs : int
        Polymorphs of one formula drawn into a batch.
    seed : int
    """

    epochs: int = DEFAULTS.epochs
    batch_size: int = DEFAULTS.batch_size
    learning_rate: float = DEFAULTS.learning_rate
    grad_clip: float = DEFAULTS.grad_clip
    max_polymorphs: int = DEFAULTS.max_polymorphs
    seed: int = 0


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else is passed to torch."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def pretrain(network: PolySRLNetwork, corpus: StructureCorpus, settings: TrainingSettings,
             device: str | torch.device = "auto", checkpoint_path: str | os.PathLike | None = None,
             resume: bool = False, verbose: bool = True, extra: dict | None = None,
             on_epoch_end: Callable[[int, PolySRLNetwork, list[dict]], None] | None = None) -> list[dict]:
    """Train ``network`` on ``corpus`` with the loss of its objective (see :mod:`polysrl_sklearn.objectives`).

    Parameters
    ----------
    network : PolySRLNetwork
        Modified in place; left on the CPU in eval mode at the end.
    corpus : StructureCorpus
    settings : TrainingSettings
    device : str or torch.device
        ``"auto"`` picks CUDA when present.
    checkpoint_path : path, optional
        Full checkpoint written after every epoch (atomically).
    resume : bool
        If ``checkpoint_path`` exists, continue from it (weights, optimizer,
        sampler and torch RNG states, history). A checkpoint of another
        corpus, model configuration or optimisation settings raises
        :class:`~polysrl_sklearn.resume.ResumeError` (only ``epochs`` may
        grow).
    verbose : bool
        Show a tqdm progress bar.
    extra : dict, optional
        More entries stored in every checkpoint (e.g. the held-out formulas).
    on_epoch_end : callable, optional
        Called as ``on_epoch_end(epoch, network, history)`` after each epoch's
        checkpoint, with the network on the CPU (e.g. to export snapshots).

    Returns
    -------
    list of dict
        One entry per epoch: ``epoch``, ``loss``, ``contrastive``, ``kl``,
        ``c``, ``d``, ``mean_variance``, ``seconds``.
    """
    from tqdm.auto import tqdm

    device = resolve_device(device)
    torch.manual_seed(settings.seed)
    sampler = PolymorphBatchSampler(corpus.formula_of_structure, settings.batch_size,
                                    settings.max_polymorphs, settings.seed)
    optimizer = torch.optim.Adam(network.parameters(), lr=settings.learning_rate)
    history: list[dict] = []
    start_epoch = 0
    augment_rng = np.random.default_rng(settings.seed + 1)
    fingerprint = corpus_fingerprint(corpus)
    loss_module = objective_loss(network)
    if resume and checkpoint_path is not None and Path(checkpoint_path).exists():
        saved, payload = load_checkpoint(checkpoint_path)
        check_resumable(payload, network.config, settings, fingerprint, checkpoint_path)
        if len(payload["history"]) > settings.epochs:
            raise ResumeError(f"cannot resume from {checkpoint_path}: it has already trained "
                              f"{len(payload['history'])} epochs, more than epochs={settings.epochs}")
        network.load_state_dict(saved.state_dict())
        optimizer.load_state_dict(payload["optimizer"])
        sampler.set_state(payload["sampler"])
        torch.set_rng_state(payload["torch_rng"])
        history = list(payload["history"])
        start_epoch = len(history)
    network.to(device)
    for state in optimizer.state.values():
        for k, v in state.items():
            if isinstance(v, torch.Tensor):
                state[k] = v.to(device)
    for epoch in range(start_epoch, settings.epochs):
        network.train()
        started = time.time()
        totals = np.zeros(3)
        variance_sum, n_rows = 0.0, 0
        bar = tqdm(sampler, total=len(sampler), desc=f"epoch {epoch + 1}/{settings.epochs}",
                   disable=not verbose, leave=False)
        for step in bar:
            loss, parts, variance = loss_module.batch_loss(network, corpus, step, augment_rng, device)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(network.parameters(), settings.grad_clip)
            optimizer.step()
            totals += (float(loss.detach()), parts.get("contrastive", float(loss.detach())), parts.get("kl", 0.0))
            variance_sum += float(variance.detach().log().mean(dim=1).exp().sum())
            n_rows += len(step.formulas)
            bar.set_postfix(loss=f"{totals[0] / (bar.n + 1):.4f}")
        n_batches = len(sampler)
        record = {
            "epoch": epoch + 1,
            "loss": float(totals[0] / n_batches),
            "contrastive": float(totals[1] / n_batches),
            "kl": float(totals[2] / n_batches),
            "c": float(network.loss.log_c.detach().exp()),
            "d": float(network.loss.log_d.detach().exp()),
            "mean_uncertainty": variance_sum / max(n_rows, 1),
            "seconds": time.time() - started,
        }
        history.append(record)
        if verbose:
            tqdm.write(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                for k, v in record.items()))
        if checkpoint_path is not None or on_epoch_end is not None:
            network.to("cpu")
            if checkpoint_path is not None:
                save_checkpoint(checkpoint_path, network, full=True, extra={
                    "optimizer": optimizer.state_dict(), "sampler": sampler.state(),
                    "torch_rng": torch.get_rng_state(), "history": history,
                    "settings": settings.__dict__, FINGERPRINT_KEY: fingerprint, **(extra or {})})
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1, network, history)
            network.to(device)
    network.to("cpu").eval()
    return history
