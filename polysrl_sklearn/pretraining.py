"""Contrastive pretraining loop with per-epoch checkpoints and resume."""

from __future__ import annotations

import contextlib
import copy
import functools
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .corpus import StructureCorpus
from .ddp import DistributedContext, ShardedTrainingData, main_then_broadcast, wrap_for_training
from .element_probes import standardised_element_statistics
from .graphed_steps import GraphedEpoch, check_graphable
from .network import PolySRLNetwork, load_checkpoint, save_checkpoint
from .objectives import objective_loss
from .recipes import DEFAULTS, LR_SCHEDULES, PRECISIONS, TRAINABLE_PARTS
from .resume import FINGERPRINT_KEY, ResumeError, check_resumable, corpus_fingerprint
from .sampler import PolymorphBatchSampler
from .soft_contrastive import SoftContrastiveLoss
from .structure_encoders import StructureEncoderChoice, get_structure_encoder
from .training_data import TrainingData
from .vector_cache import cache_key, cached_vectors


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
    warmup_epochs : int
        Frozen structure sides (``*_frozen``): joint epochs before the
        structure encoder is frozen and its vectors cached.
    refresh_every : int
        Frozen structure sides: every ``refresh_every``-th epoch after the
        warm-up is a joint epoch, after which the cache is recomputed (0: never).
    precision : {"fp32", "tf32", "bf16"}
        On CUDA: full fp32, TF32 for every float32 matrix product (the loss's
        distances included), or bf16 autocast of the encoders (the losses stay
        fp32). Ignored on the CPU.
    lr_schedule : {"constant", "cosine"}
        Learning rate of each epoch: constant, or cosine decay from
        ``learning_rate`` towards 0 over ``epochs`` (set at each epoch's start,
        so a resumed run follows the same schedule).
    deterministic : bool
        On CUDA, use deterministic kernels (``torch.use_deterministic_algorithms``)
        so that a seeded run repeats exactly. CPU runs are deterministic anyway.
    train_only : {"all", "variance_head"}
        Which parameters train: all, or only the stoichiometry encoder's
        variance head (:meth:`~polysrl_sklearn.encoders.StoichiometryEncoder.variance_head`),
        so that a pretrained network's mean vectors stay exactly as they are
        (a stage after pretraining, started with ``polysrl pretrain --init-from``).
    cuda_graphs : bool
        On CUDA, replay each epoch's full batches from one captured CUDA graph
        (:mod:`polysrl_sklearn.graphed_steps`): padded fixed-size batches, one
        launch per step. The soft contrastive objectives (``polysrl``,
        ``polysrl_nosample``) with any lever but ``variance_mixtures``,
        ``variance_anchor`` and ``element_statistics``, one process; a seeded run repeats
        itself but differs from an eager run with the same seed.
    """

    epochs: int = DEFAULTS.epochs
    batch_size: int = DEFAULTS.batch_size
    learning_rate: float = DEFAULTS.learning_rate
    grad_clip: float = DEFAULTS.grad_clip
    max_polymorphs: int = DEFAULTS.max_polymorphs
    seed: int = 0
    warmup_epochs: int = DEFAULTS.warmup_epochs
    refresh_every: int = DEFAULTS.refresh_every
    precision: str = "fp32"
    deterministic: bool = True
    lr_schedule: str = DEFAULTS.lr_schedule
    train_only: str = "all"
    cuda_graphs: bool = False


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else is passed to torch."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def standardise_columns(vectors: np.ndarray) -> np.ndarray:
    """Each column centred and scaled to unit standard deviation over the rows (constant columns: centred).

    External structure vectors (CHGNet's) span scales from 1e-3 to 10s per
    dimension; the trainable projection learns far better from standardised ones.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    scale = vectors.std(axis=0)
    return ((vectors - vectors.mean(axis=0)) / np.where(scale > 0, scale, 1.0)).astype(np.float32)


def epoch_learning_rate(settings: TrainingSettings, epoch: int) -> float:
    """Learning rate of ``epoch`` (0-based) under ``settings.lr_schedule``."""
    if settings.lr_schedule == "cosine":
        return settings.learning_rate * 0.5 * (1.0 + math.cos(math.pi * epoch / settings.epochs))
    return settings.learning_rate


def epoch_is_joint(side: StructureEncoderChoice, settings: TrainingSettings, epoch: int) -> bool:
    """Whether ``epoch`` (0-based) trains the structure encoder jointly (else: cached vectors)."""
    if side.external:
        return False
    if not side.frozen or epoch < settings.warmup_epochs:
        return True
    after = epoch - settings.warmup_epochs + 1
    return settings.refresh_every > 0 and after % settings.refresh_every == 0


@contextlib.contextmanager
def numerics_for(device: torch.device, settings: TrainingSettings) -> Iterator[None]:
    """TF32 and deterministic-kernel switches for a CUDA run, restored afterwards."""
    if device.type != "cuda":
        yield
        return
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
             torch.are_deterministic_algorithms_enabled())
    fast = settings.precision in ("tf32", "bf16")
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = fast
    if settings.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved[:2]
        torch.use_deterministic_algorithms(saved[2])


def frozen_structure_vectors(network: PolySRLNetwork, data: TrainingData, fingerprint: str,
                             cache_dir: str | os.PathLike | None, verbose: bool) -> torch.Tensor:
    """Vectors of every corpus structure from the network's (frozen) structure encoder, cached on disk.

    The cache key is the corpus fingerprint and a checksum of the encoder's weights.
    """
    from .model_files import state_checksum

    if cache_dir is None:
        return data.encode_all_structures(network)
    key = cache_key("structure-encoder", network.config.structure_encoder, fingerprint,
                    state_checksum(network.structure.state_dict()))

    def compute(ids):
        return data.encode_structures(network, ids).cpu().numpy()

    vectors = cached_vectors(compute, len(data.corpus.formula_of_structure), cache_dir, key, chunk_size=8192,
                             verbose=verbose, description="frozen structure vectors")
    return torch.from_numpy(vectors)


def _read_checkpoint(path: str | os.PathLike) -> tuple[dict, dict] | None:
    """Weights and payload of a full checkpoint, or None if there is no file."""
    if not Path(path).exists():
        return None
    saved, payload = load_checkpoint(path)
    return saved.state_dict(), payload


#: Checkpoint entry of the ``variance_anchor`` lever's frozen stage-start stoichiometry encoder.
ANCHOR_KEY = "variance_anchor_encoder"


def stage_start_encoder(network: PolySRLNetwork, loss_module: torch.nn.Module,
                        source: torch.nn.Module | None = None) -> torch.nn.Module | None:
    """A frozen copy of ``network``'s stoichiometry encoder (or of ``source``, another network's encoder)
    when ``loss_module`` (the objective's loss) needs one (``needs_anchor``: ``variance_anchor > 0``, or
    the ``error_variance`` objective), else None."""
    if not getattr(loss_module, "needs_anchor", False):
        return None
    return copy.deepcopy(network.stoichiometry if source is None else source).requires_grad_(False).eval()


def anchor_entry(anchor: torch.nn.Module | None) -> dict[str, Any]:
    """The checkpoint entry that lets a resumed run restore ``anchor`` (empty without one)."""
    if anchor is None:
        return {}
    return {ANCHOR_KEY: {name: tensor.detach().cpu() for name, tensor in anchor.state_dict().items()}}


def restrict_training(network: PolySRLNetwork, train_only: str) -> None:
    """Leave only the parameters of ``train_only`` (see :class:`TrainingSettings`) trainable."""
    if train_only not in TRAINABLE_PARTS:
        raise ValueError(f"train_only must be one of {TRAINABLE_PARTS}, got {train_only!r}")
    network.requires_grad_(train_only == "all")
    if train_only == "variance_head":
        for module in network.stoichiometry.variance_head():
            module.requires_grad_(True)


def adam_for(network: PolySRLNetwork, settings: TrainingSettings, device: torch.device) -> torch.optim.Adam:
    """The pretraining optimiser over the trainable parameters; fused Adam on CUDA (one kernel
    per step instead of several per group)."""
    cuda = device.type == "cuda"
    return torch.optim.Adam([p for p in network.parameters() if p.requires_grad], lr=settings.learning_rate,
                            fused=True if cuda else None, capturable=cuda and settings.cuda_graphs)


def autocast_for(device: torch.device, settings: TrainingSettings) -> contextlib.AbstractContextManager:
    """bf16 autocast of the encoders on CUDA under ``precision="bf16"``; otherwise a no-op context."""
    if device.type == "cuda" and settings.precision == "bf16":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def optimisation_step(step_loss: Callable, data: TrainingData, step: Any, rng: np.random.Generator,
                      optimizer: torch.optim.Optimizer, network: PolySRLNetwork, settings: TrainingSettings,
                      autocast: contextlib.AbstractContextManager) -> tuple[torch.Tensor, dict, torch.Tensor]:
    """One step: the objective's loss of ``step`` (under ``autocast``), backward, clipping, Adam.

    Returns the detached loss, the loss parts and the batch's variances (for logging).
    """
    with autocast:
        loss, parts, variance = step_loss(data, step, rng)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(network.parameters(), settings.grad_clip)
    optimizer.step()
    return loss.detach(), parts, variance


def graphed_epoch_steps(network: PolySRLNetwork, loss_module: torch.nn.Module, data: TrainingData,
                        steps: list, optimizer: torch.optim.Optimizer, settings: TrainingSettings,
                        epochs_run: int) -> Iterator[tuple[torch.Tensor, dict, torch.Tensor]]:
    """An epoch's steps with CUDA graphs: full batches replayed from one graph, the last smaller one eager.

    The first epoch of a run warms up three eager steps before its capture, later ones one.
    """
    full = [s for s in steps if len(s.formulas) == settings.batch_size]
    autocast_dtype = torch.bfloat16 if settings.precision == "bf16" else None
    yield from GraphedEpoch(network, loss_module, data, optimizer, settings.grad_clip, autocast_dtype,
                            warmup_steps=3 if epochs_run == 0 else 1).run(full)
    step_loss = functools.partial(loss_module.batch_loss, network)
    autocast = autocast_for(data.device, settings)
    for step in (s for s in steps if len(s.formulas) != settings.batch_size):
        loss, parts, variance = optimisation_step(step_loss, data, step, None, optimizer, network, settings, autocast)
        yield loss, parts, variance.detach()  # no autograd graph may outlive the step into the next capture


def pretrain(network: PolySRLNetwork, corpus: StructureCorpus, settings: TrainingSettings,
             device: str | torch.device = "auto", checkpoint_path: str | os.PathLike | None = None,
             resume: bool = False, verbose: bool = True, extra: dict | None = None,
             on_epoch_end: Callable[[int, PolySRLNetwork, list[dict]], None] | None = None,
             structure_vectors: np.ndarray | None = None,
             cache_dir: str | os.PathLike | None = None,
             distributed: DistributedContext | None = None,
             anchor_encoder: torch.nn.Module | None = None) -> list[dict]:
    """Train ``network`` on ``corpus`` with the loss of its objective (see :mod:`polysrl_sklearn.objectives`).

    The corpus is put on the device once (:class:`~polysrl_sklearn.training_data.TrainingData`):
    a step gathers its formulas' and structures' graphs by index. How the
    structure side is made (trained jointly, frozen and cached after a warm-up,
    or external cached vectors) is the network's ``config.structure_encoder``
    (:mod:`polysrl_sklearn.structure_encoders`).

    With ``distributed`` (every rank of a process group calls ``pretrain`` with
    the same arguments), the training is data-parallel: every rank draws the
    same global batches, encodes its share of their formulas and polymorphs,
    and computes the loss of the whole global batch from gathered vectors;
    DistributedDataParallel averages the gradients, so a step equals a single
    process's step over the same global batch (:mod:`polysrl_sklearn.ddp`).
    Rank 0 alone writes the checkpoint, calls ``on_epoch_end``, reads the
    checkpoint it resumes from and computes a frozen structure encoder's cache,
    and sends both to the other ranks.

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
        grow). A frozen structure side's cache is recomputed (or read from
        ``cache_dir``) from the restored weights, so a resumed run equals an
        uninterrupted one.
    verbose : bool
        Show a tqdm progress bar (on rank 0 only, under ``distributed``).
    extra : dict, optional
        More entries stored in every checkpoint (e.g. the held-out formulas).
    on_epoch_end : callable, optional
        Called as ``on_epoch_end(epoch, network, history)`` after each epoch's
        checkpoint, with the network on the CPU (e.g. to export snapshots);
        on rank 0 only, under ``distributed``.
    structure_vectors : ndarray (n_structures, D), optional
        The external structure side's vectors (``structure_encoder="chgnet"``),
        one row per corpus structure, e.g. from
        :func:`polysrl_sklearn.chgnet_vectors.chgnet_structure_vectors`;
        standardised per column over the corpus before training.
    cache_dir : path, optional
        Where a frozen structure encoder's vectors are cached (keyed by corpus
        and weights); without it they are recomputed in memory.
    distributed : DistributedContext, optional
        Train data-parallel over this process group
        (:func:`polysrl_sklearn.ddp.init_from_environment`); ``None``: one process.
        ``device`` must then be ``"auto"`` or the rank's own device.
    anchor_encoder : torch.nn.Module, optional
        With ``variance_anchor > 0`` or the ``error_variance`` objective: the
        stoichiometry encoder whose log-variance is the anchor (a frozen copy is
        used), instead of ``network``'s own encoder as the stage starts.

    Returns
    -------
    list of dict
        One entry per epoch: ``epoch``, ``loss``, ``contrastive``, ``kl``,
        ``c``, ``d``, ``mean_uncertainty``, ``structure_side`` (``"joint"`` or
        ``"cached"``), ``seconds``; and ``ranks`` (the world size) under ``distributed``.
        Every rank returns the same history.
    """
    from tqdm.auto import tqdm

    from .objectives import get_objective

    context = distributed
    main = context is None or context.is_main
    device = resolve_device(device) if context is None else context.training_device(device)
    verbose = verbose and main
    if settings.precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {settings.precision!r}")
    if settings.lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {settings.lr_schedule!r}")
    side = get_structure_encoder(network.config.structure_encoder)
    objective = get_objective(network.config.objective)
    uses_structures = objective.uses_structures
    if side.external and uses_structures and structure_vectors is None:
        raise ValueError(f"structure_encoder={side.name!r} needs structure_vectors, one row per corpus structure")
    if side.external and uses_structures and network.config.structure_target_dim != structure_vectors.shape[1]:
        raise ValueError(f"structure_encoder={side.name!r}: the network's structure_target_dim "
                         f"({network.config.structure_target_dim}) must be the width of structure_vectors "
                         f"({structure_vectors.shape[1]})")
    if network.config.element_statistics > 0 and objective.loss is not SoftContrastiveLoss:
        raise ValueError(f"element_statistics is a term of the soft contrastive loss; objective="
                         f"{network.config.objective!r} does not read it")
    if (network.config.multitask_weight > 0 and corpus.targets is not None
            and corpus.property_count != network.config.property_count):
        raise ValueError(f"the corpus has {corpus.property_count} multi-task target column(s) but the network's "
                         f"property_count is {network.config.property_count}")
    if settings.cuda_graphs:
        check_graphable(network, device, context is not None)
    torch.manual_seed(settings.seed)
    sampler = PolymorphBatchSampler(corpus.formula_of_structure, settings.batch_size,
                                    settings.max_polymorphs, settings.seed)
    restrict_training(network, settings.train_only)
    optimizer = adam_for(network, settings, device)
    history: list[dict] = []
    start_epoch = 0
    augment_rng = np.random.default_rng(settings.seed + 1)
    fingerprint = corpus_fingerprint(corpus)
    loss_module = objective_loss(network)
    # variance_anchor: a frozen copy of the stoichiometry encoder as the stage starts (a resumed run
    # restores the copy from its checkpoint, not from the weights it has trained since)
    anchor = stage_start_encoder(network, loss_module, anchor_encoder)
    if anchor is None and anchor_encoder is not None:
        raise ValueError("anchor_encoder is the stage-start uncertainty of a variance stage; the network's loss "
                         "reads none (variance_anchor = 0 and not the error_variance objective)")
    # under a process group, rank 0 reads the checkpoint and sends it to every rank
    resumed = (main_then_broadcast(context, functools.partial(_read_checkpoint, checkpoint_path))
               if resume and checkpoint_path is not None else None)
    if resumed is not None:
        saved_state, payload = resumed
        check_resumable(payload, network.config, settings, fingerprint, checkpoint_path)
        if len(payload["history"]) > settings.epochs:
            raise ResumeError(f"cannot resume from {checkpoint_path}: it has already trained "
                              f"{len(payload['history'])} epochs, more than epochs={settings.epochs}")
        network.load_state_dict(saved_state)
        optimizer.load_state_dict(payload["optimizer"])
        for group in optimizer.param_groups:  # the saved groups carry the saving run's flag
            group["capturable"] = settings.cuda_graphs and device.type == "cuda"
        sampler.set_state(payload["sampler"])
        torch.set_rng_state(payload["torch_rng"])
        if "host_rng" in payload:  # checkpoints written before it was saved resume with a fresh host generator
            augment_rng.bit_generator.state = payload["host_rng"]
        if device.type == "cuda" and "cuda_rng" in payload:
            torch.cuda.set_rng_state(payload["cuda_rng"], device)
        history = list(payload["history"])
        start_epoch = len(history)
        if anchor is not None:
            anchor.load_state_dict(payload[ANCHOR_KEY])
    network.to(device)
    if anchor is not None:
        loss_module.set_anchor(anchor.to(device))
    if resumed is None and hasattr(loss_module, "begin_stage"):  # e.g. error_variance fits its property head
        loss_module.begin_stage(network, corpus, device)
    for state in optimizer.state.values():
        for k, v in state.items():
            if isinstance(v, torch.Tensor):
                state[k] = v.to(device)
    with_graphs = uses_structures and not side.external
    data = (TrainingData(corpus, device, with_graphs) if context is None
            else ShardedTrainingData(corpus, context, with_graphs))
    if side.external and uses_structures:
        data.use_cached(standardise_columns(structure_vectors))
    if network.config.element_statistics > 0:  # matminer once, on rank 0, cached beside the structure vectors
        data.use_statistics(main_then_broadcast(context, functools.partial(
            standardised_element_statistics, corpus.formulas, cache_dir, verbose)))
    autocast = autocast_for(device, settings)
    with numerics_for(device, settings):
        for epoch in range(start_epoch, settings.epochs):
            network.train()
            started = time.time()
            for group in optimizer.param_groups:
                group["lr"] = epoch_learning_rate(settings, epoch)
            joint = epoch_is_joint(side, settings, epoch)
            if side.frozen and uses_structures:
                if joint:
                    data.use_cached(None)
                elif data.cached is None:  # computed once, on rank 0 under a process group
                    data.use_cached(main_then_broadcast(context, functools.partial(
                        frozen_structure_vectors, network, data, fingerprint, cache_dir, verbose)))
            if not side.external and settings.train_only == "all":
                network.structure.requires_grad_(joint)
            # under a process group: DDP over the parameters trainable in this epoch (wrapped again every
            # epoch, since a frozen structure side changes them and rank 0 moves the network to save it)
            step_loss = (functools.partial(loss_module.batch_loss, network) if context is None
                         else wrap_for_training(network, loss_module.batch_loss, context))
            # loss, contrastive, kl, uncertainty, multi-task heads' L1, element statistics' L1 (unweighted)
            totals = torch.zeros(6, dtype=torch.float64, device=device)
            n_rows = 0
            # the epoch's batches are drawn on the host, then their indices go to the device in one copy
            steps = data.resident(list(sampler))
            bar = tqdm(steps, total=len(sampler), desc=f"epoch {epoch + 1}/{settings.epochs}",
                       disable=not verbose, leave=False)
            results = (graphed_epoch_steps(network, loss_module, data, steps, optimizer, settings, epoch - start_epoch)
                       if settings.cuda_graphs else
                       (optimisation_step(step_loss, data, step, augment_rng, optimizer, network, settings, autocast)
                        for step in steps))
            for step, (loss, parts, variance) in zip(bar, results):
                totals += torch.stack([loss.double(),
                                       torch.as_tensor(parts.get("contrastive", loss), device=device).double(),
                                       torch.as_tensor(parts.get("kl", 0.0), device=device).double(),
                                       variance.detach().float().log().mean(dim=1).exp().sum().double(),
                                       torch.as_tensor(parts.get("multitask", 0.0), device=device).double(),
                                       torch.as_tensor(parts.get("element_statistics", 0.0), device=device).double()])
                n_rows += len(step.formulas)
                if verbose and bar.n % 25 == 0:
                    bar.set_postfix(loss=f"{float(totals[0]) / (bar.n + 1):.4f}")
            n_batches = len(sampler)
            totals = totals.cpu().numpy()
            record = {
                "epoch": epoch + 1,
                "loss": float(totals[0] / n_batches),
                "contrastive": float(totals[1] / n_batches),
                "kl": float(totals[2] / n_batches),
                "c": float(network.loss.log_c.detach().exp()),
                "d": float(network.loss.log_d.detach().exp()),
                "mean_uncertainty": float(totals[3]) / max(n_rows, 1),
                **({"multitask": float(totals[4] / n_batches)} if network.config.multitask_weight > 0 else {}),
                **({"element_statistics": float(totals[5] / n_batches)}
                   if network.config.element_statistics > 0 else {}),
                "learning_rate": optimizer.param_groups[0]["lr"],
                "structure_side": "joint" if joint else "cached",
                "seconds": time.time() - started,
            }
            if context is not None:
                record["ranks"] = context.world_size
            history.append(record)
            if verbose:
                tqdm.write(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                    for k, v in record.items()))
            del step_loss
            if main and (checkpoint_path is not None or on_epoch_end is not None):
                network.to("cpu")
                if checkpoint_path is not None:
                    # the host generator draws graphcl's views and the batches' mixtures
                    rng_states = {"torch_rng": torch.get_rng_state(), "host_rng": augment_rng.bit_generator.state}
                    if device.type == "cuda":
                        rng_states["cuda_rng"] = torch.cuda.get_rng_state(device)
                    save_checkpoint(checkpoint_path, network, full=True, extra={
                        "optimizer": optimizer.state_dict(), "sampler": sampler.state(),
                        **rng_states, "history": history, **anchor_entry(anchor),
                        "settings": settings.__dict__, FINGERPRINT_KEY: fingerprint, **(extra or {})})
                if on_epoch_end is not None:
                    on_epoch_end(epoch + 1, network, history)
                network.to(device)
    if anchor is not None:
        loss_module.set_anchor(None)
    network.requires_grad_(True)
    network.to("cpu").eval()
    return history
