"""Training scenarios that tests/test_ddp.py runs on 2 gloo ranks and in one process, and the rank worker.

Not a test module: the workers of ``torch.multiprocessing.spawn`` import it.
The corpus is the prototype crystals of conftest.py: 14 structures of 11
formulas (NaCl, ZnS and C have two polymorphs each). With ``batch_size=5`` an
epoch has global batches of 5, 5 and 1 formulas, so on 2 ranks the last batch
leaves rank 1 with no formula at all.
"""

from __future__ import annotations

import functools
import os
import pickle
from pathlib import Path

import numpy as np
import torch

from polysrl_sklearn import ddp
from polysrl_sklearn.corpus import StructureCorpus, corpus_from_structures
from polysrl_sklearn.network import ModelConfig, PolySRLNetwork
from polysrl_sklearn.objectives import objective_loss
from polysrl_sklearn.pretraining import TrainingSettings, pretrain
from polysrl_sklearn.sampler import PolymorphBatchSampler
from polysrl_sklearn.training_data import TrainingData

BATCH_SIZE = 5
EXTERNAL_WIDTH = 5

#: name -> (objective, structure_encoder, epochs, extra settings)
SCENARIOS: dict[str, tuple[str, str, int, dict]] = {
    "polysrl": ("polysrl", "graph_network", 2, {}),
    "nosample_species": ("polysrl_nosample", "species_graph_network", 2, {}),
    "infomax": ("infomax", "graph_network", 2, {}),
    "graphcl": ("graphcl", "graph_network", 2, {}),
    "supervised": ("supervised", "graph_network", 2, {}),
    # epoch 1 joint, epochs 2 and 3 on the cache that rank 0 computes and broadcasts
    "frozen": ("polysrl", "graph_network_frozen", 3, {"warmup_epochs": 1, "refresh_every": 0}),
    "chgnet": ("polysrl", "chgnet", 2, {}),
    # a variance stage with every variance lever: mixtures drawn alike on every rank, the frozen anchor
    "anchored_stage": ("polysrl", "chgnet", 2, {"train_only": "variance_head"}),
}
#: name -> loss levers of the scenario's network (ModelConfig fields)
LEVERS: dict[str, dict] = {
    "anchored_stage": {"variance_matching": 1.0, "variance_count": 10.0, "variance_mixtures": 0.3,
                       "variance_anchor": 1.0},
}


def make_corpus() -> StructureCorpus:
    from conftest import prototype_structures

    corpus = corpus_from_structures(prototype_structures(), cutoff=6.0, n_jobs=1)
    corpus.targets = np.linspace(-1.0, 1.0, len(corpus.formulas))
    return corpus


def external_vectors(corpus: StructureCorpus) -> np.ndarray:
    """Stand-in for CHGNet vectors: seeded random rows, one per structure."""
    return np.random.default_rng(7).normal(size=(len(corpus.formula_of_structure), EXTERNAL_WIDTH))


def network_for(name: str) -> PolySRLNetwork:
    objective, encoder, _, _ = SCENARIOS[name]
    torch.manual_seed(0)
    return PolySRLNetwork(ModelConfig(hidden_dim=8, objective=objective, structure_encoder=encoder,
                                      structure_target_dim=EXTERNAL_WIDTH if encoder == "chgnet" else 0,
                                      **LEVERS.get(name, {})))


def settings_for(name: str, epochs: int | None = None) -> TrainingSettings:
    _, _, default_epochs, extra = SCENARIOS[name]
    return TrainingSettings(epochs=epochs or default_epochs, batch_size=BATCH_SIZE, seed=3, **extra)


def train(name: str, corpus: StructureCorpus, context: ddp.DistributedContext | None = None,
          epochs: int | None = None, checkpoint: Path | None = None, resume: bool = False) -> dict:
    """Pretrain scenario ``name``; its final weights and history."""
    network = network_for(name)
    vectors = external_vectors(corpus) if SCENARIOS[name][1] == "chgnet" else None
    history = pretrain(network, corpus, settings_for(name, epochs), "cpu", checkpoint_path=checkpoint,
                       resume=resume, verbose=False, structure_vectors=vectors, distributed=context)
    return {"state": network.state_dict(), "history": history}


def gradient(name: str, corpus: StructureCorpus, context: ddp.DistributedContext | None = None) -> dict:
    """Loss and parameter gradients of the first global batch of scenario ``name`` (no optimiser step)."""
    network = network_for(name)
    settings = settings_for(name)
    sampler = PolymorphBatchSampler(corpus.formula_of_structure, settings.batch_size, settings.max_polymorphs,
                                    settings.seed)
    step = next(iter(sampler))
    loss_module = objective_loss(network)
    if context is None:
        data, step_loss = TrainingData(corpus, torch.device("cpu")), functools.partial(loss_module.batch_loss,
                                                                                      network)
    else:
        data = ddp.ShardedTrainingData(corpus, context)
        step_loss = ddp.wrap_for_training(network, loss_module.batch_loss, context)
    torch.manual_seed(11)
    loss, _, _ = step_loss(data, data.resident([step])[0], np.random.default_rng(5))
    loss.backward()
    return {"loss": loss.detach(), "grads": {k: None if p.grad is None else p.grad.clone()
                                             for k, p in network.named_parameters()}}


def rank_worker(rank: int, world_size: int, folder: str) -> None:
    """One gloo rank: run every job and save what it got to ``folder/rank{rank}.pt``."""
    torch.set_num_threads(1)
    folder = Path(folder)
    context = ddp.init_process_group(rank, world_size, "cpu", init_method=f"file://{folder / 'store'}",
                                     timeout=120)
    try:
        with open(folder / "corpus.pkl", "rb") as handle:
            corpus = pickle.load(handle)
        results = {
            "gradient": {name: gradient(name, corpus, context) for name in ("polysrl", "supervised")},
            "train": {name: train(name, corpus, context) for name in SCENARIOS},
            # 1 -> 2 ranks: the single-process checkpoint of one epoch, continued here to two
            "resumed_from_1": train("polysrl", corpus, context, checkpoint=folder / "one_rank.ckpt", resume=True),
        }
        # 2 -> 1 rank: one epoch here; the test continues it in one process
        train("polysrl", corpus, context, epochs=1, checkpoint=folder / "two_ranks.ckpt")
        torch.save(results, folder / f"rank{rank}.pt")
    finally:
        ddp.teardown()


def run_ranks(folder: Path, corpus: StructureCorpus, world_size: int = 2) -> list[dict]:
    """Spawn ``world_size`` gloo ranks of :func:`rank_worker` on ``corpus``; every rank's results."""
    import torch.multiprocessing as mp

    with open(folder / "corpus.pkl", "wb") as handle:
        pickle.dump(corpus, handle)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    mp.spawn(rank_worker, args=(world_size, str(folder)), nprocs=world_size, join=True)
    return [torch.load(folder / f"rank{rank}.pt", weights_only=False) for rank in range(world_size)]
