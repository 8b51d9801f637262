"""Seconds per pretraining epoch: joint training against cached structure vectors, same formulas, one run.

For each width F (default 64 and 200) and each device (the CPU, and CUDA when
present) it trains

* ``joint``  -- the paper's method: the species-agnostic graph network trained with
  the stoichiometry encoder at every step (``structure_encoder="graph_network"``);
* ``cached`` -- the same network frozen from the start (``graph_network_frozen`` with
  no warm-up): the vectors of all structures are computed once ("cache s", reported
  apart), then each epoch trains the stoichiometry encoder against them;

on the same MP formulas (``--limit N``: the first N structures of the file),
and prints one row per (device, F, precision, side). With ``--steps K`` an
epoch's time is extrapolated from K timed steps (after two untimed ones)
instead of measured over the whole epoch; the table says which.

The last line reads ``joint_epoch_s=... cached_epoch_s=... ratio=...`` for F=200 on
the last device measured (CUDA when present), fp32, deterministic kernels; with CUDA
graphs when those rows were measured (``--cuda-graphs on|both``).

Usage::

    python benchmarks/pretrain_speed.py --data $POLYSRL_MP_STRUCTURES --limit 20000
    python benchmarks/pretrain_speed.py --data $POLYSRL_MP_STRUCTURES --steps 40   # whole corpus
"""

from __future__ import annotations

import argparse
import functools
import os
import time

import numpy as np
import torch

from polysrl_sklearn.corpus import corpus_from_mp_jsonl
from polysrl_sklearn.graphed_steps import GraphedEpoch
from polysrl_sklearn.network import ModelConfig, PolySRLNetwork
from polysrl_sklearn.objectives import objective_loss
from polysrl_sklearn.pretraining import (
    TrainingSettings,
    adam_for,
    autocast_for,
    numerics_for,
    optimisation_step,
    pretrain,
)
from polysrl_sklearn.recipes import PRECISIONS, get_recipe
from polysrl_sklearn.sampler import PolymorphBatchSampler
from polysrl_sklearn.training_data import TrainingData


def network_of(width: int, side: str, seed: int = 0) -> PolySRLNetwork:
    """The paper's architecture at width ``width`` with structure side ``side``."""
    recipe = get_recipe("paper")
    torch.manual_seed(seed)
    return PolySRLNetwork(ModelConfig(**{**recipe.architecture(), "hidden_dim": width, "structure_encoder": side}))


def timed_steps(network: PolySRLNetwork, data: TrainingData, settings: TrainingSettings, device: torch.device,
                steps: int) -> float:
    """Seconds per step over ``steps`` optimiser steps of the pretraining loop.

    Untimed first: two steps, or with CUDA graphs the three warm-up steps, the capture
    and the first replay.
    """
    sampler = PolymorphBatchSampler(data.corpus.formula_of_structure, settings.batch_size,
                                    settings.max_polymorphs, settings.seed)
    loss_module = objective_loss(network)
    step_loss = functools.partial(loss_module.batch_loss, network)
    optimizer = adam_for(network, settings, device)
    rng = np.random.default_rng(0)
    autocast = autocast_for(device, settings)
    network.train()
    resident = data.resident(list(sampler))
    if settings.cuda_graphs:
        untimed = 4
        full = [s for s in resident if len(s.formulas) == settings.batch_size][:steps + untimed]
        results = GraphedEpoch(network, loss_module, data, optimizer, settings.grad_clip,
                               torch.bfloat16 if settings.precision == "bf16" else None).run(full)
    else:
        untimed = 2
        results = (optimisation_step(step_loss, data, step, rng, optimizer, network, settings, autocast)
                   for step in resident[:steps + untimed])
    started, done = None, 0
    with numerics_for(device, settings):
        for i, _ in enumerate(results):
            if i == untimed - 1:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                started = time.perf_counter()
            elif i >= untimed:
                done += 1
        if device.type == "cuda":
            torch.cuda.synchronize()
    return (time.perf_counter() - started) / max(done, 1)


def measure(corpus, width: int, side: str, device: torch.device, precision: str, steps: int,
            epochs: int, deterministic: bool = True, random_cache: bool = False, cuda_graphs: bool = False,
            epoch_steps: int | None = None) -> dict:
    """One row: seconds per epoch of ``side`` at width ``width``.

    ``random_cache`` (with ``steps``) fills the cache with random vectors instead of running
    the frozen encoder over the corpus: a cached step's time does not depend on their values.
    ``epoch_steps`` (with ``steps``) extrapolates to that many steps per epoch instead of the
    corpus's own count (timing a sample of the corpus for the whole one).
    """
    network = network_of(width, side)
    settings = TrainingSettings(**{**get_recipe("paper").training(), "epochs": epochs, "warmup_epochs": 0},
                                precision=precision, deterministic=deterministic, cuda_graphs=cuda_graphs)
    n_steps = epoch_steps or -(-len(corpus.formulas) // settings.batch_size)
    label = precision + ("" if deterministic else ", nondet.") + (", CUDA graphs" if cuda_graphs else "")
    row = {"device": device.type, "F": width, "precision": label, "graphs": cuda_graphs,
           "side": side, "cache_s": 0.0}
    if steps:
        network.to(device)
        data = TrainingData(corpus, device)
        if side != "graph_network" and random_cache:
            data.use_cached(torch.randn(len(corpus.names), width))
            row["cache_s"] = float("nan")
        elif side != "graph_network":
            started = time.perf_counter()
            data.use_cached(data.encode_all_structures(network))
            row["cache_s"] = time.perf_counter() - started
        row["epoch_s"] = timed_steps(network, data, settings, device, steps) * n_steps
        row["how"] = f"{steps} steps x {n_steps}"
    else:
        history = pretrain(network, corpus, settings, device, verbose=False)
        seconds = [h["seconds"] for h in history]
        if side != "graph_network":
            # the first cached epoch includes computing the cache; later ones do not
            row["cache_s"] = seconds[0] - (np.mean(seconds[1:]) if len(seconds) > 1 else 0.0)
        row["epoch_s"] = float(np.mean(seconds[1:]) if len(seconds) > 1 else seconds[0])
        row["how"] = f"mean of epochs 2-{epochs}" if epochs > 1 else "1 epoch"
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("POLYSRL_MP_STRUCTURES"),
                        help="MP JSON-lines structures (default: $POLYSRL_MP_STRUCTURES)")
    parser.add_argument("--limit", type=int, default=None, help="first N structures of the file")
    parser.add_argument("--widths", type=int, nargs="+", default=[64, 200])
    parser.add_argument("--devices", nargs="+", default=None, help="default: cpu, and cuda when present")
    parser.add_argument("--precisions", nargs="+", default=["fp32"], choices=list(PRECISIONS),
                        help="CUDA arithmetic to compare (the CPU always runs fp32)")
    parser.add_argument("--steps", type=int, default=0, help="time K steps and extrapolate (0: whole epochs)")
    parser.add_argument("--epochs", type=int, default=2, help="whole epochs per row (time: mean of epochs 2..)")
    parser.add_argument("--cache-dir", default=None, help="crystal-graph cache")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--sides", nargs="+", choices=["joint", "cached"], default=["joint", "cached"])
    parser.add_argument("--random-cache", action="store_true",
                        help="with --steps: cached rows train against random vectors (skips the cache's cost)")
    parser.add_argument("--deterministic", choices=["on", "off", "both"], default="on",
                        help="CUDA deterministic kernels (TrainingSettings.deterministic)")
    parser.add_argument("--cuda-graphs", choices=["on", "off", "both"], default="off",
                        help="CUDA rows with steps replayed from a CUDA graph (TrainingSettings.cuda_graphs)")
    parser.add_argument("--epoch-steps", type=int, default=None,
                        help="with --steps: extrapolate to this many steps per epoch (389: the full MP corpus, "
                             "when timing a sample of its formulas)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    started = time.perf_counter()
    corpus = corpus_from_mp_jsonl(args.data, args.limit, n_jobs=-1, cache_dir=args.cache_dir, verbose=False)
    print(f"corpus: {len(corpus.names)} structures, {len(corpus.formulas)} formulas, "
          f"{int(corpus.graphs.edge_ptr[-1])} edges (loaded in {time.perf_counter() - started:.0f} s); "
          f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
          + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""), flush=True)
    print("| device | F | precision | side | epoch s | cache s | joint/cached | how |")
    print("|---|---|---|---|---|---|---|---|")
    last = {}
    for name in devices:
        device = torch.device(name)
        cuda = device.type == "cuda"
        for width in args.widths:
            modes = {"on": [True], "off": [False], "both": [True, False]}[args.deterministic]
            graph_modes = {"on": [True], "off": [False], "both": [False, True]}[args.cuda_graphs]
            for precision, deterministic, graphs in ((p, d, g) for p in (args.precisions if cuda else ["fp32"])
                                                     for d in (modes if cuda else [True])
                                                     for g in (graph_modes if cuda else [False])):
                sides = [s for s, label in (("graph_network", "joint"), ("graph_network_frozen", "cached"))
                         if label in args.sides]
                rows = []
                for side in sides:
                    try:
                        rows.append(measure(corpus, width, side, device, precision, args.steps, args.epochs,
                                            deterministic, args.random_cache, graphs, args.epoch_steps))
                    except Exception as error:  # one configuration failing must not lose the others' rows
                        print(f"| {device.type} | {width} | {precision}{', CUDA graphs' if graphs else ''} | "
                              f"{side} | failed: {type(error).__name__}: {str(error)[:200]} | | | |", flush=True)
                if cuda:
                    torch.cuda.empty_cache()
                ratio = rows[0]["epoch_s"] / rows[-1]["epoch_s"] if len(rows) == 2 else float("nan")
                for row in rows:
                    label = "joint" if row["side"] == "graph_network" else "cached"
                    print(f"| {row['device']} | {width} | {row['precision']} | {label} | {row['epoch_s']:.2f} | "
                          f"{row['cache_s']:.1f} | {ratio if label == 'cached' else 1:.1f} | {row['how']} |",
                          flush=True)
                if width == 200 and precision == "fp32" and deterministic and len(rows) == 2:
                    last[graphs] = {"joint": rows[0]["epoch_s"], "cached": rows[1]["epoch_s"]}
    if last:
        graphs = True in last
        best = last[graphs]
        print(f"joint_epoch_s={best['joint']:.2f} cached_epoch_s={best['cached']:.2f} "
              f"ratio={best['joint'] / best['cached']:.1f}" + (" (CUDA graphs)" if graphs else ""))


if __name__ == "__main__":
    main()
