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
the last device measured (CUDA when present), fp32.

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
    """Seconds per step over ``steps`` optimiser steps of the pretraining loop (after two untimed ones)."""
    sampler = PolymorphBatchSampler(data.corpus.formula_of_structure, settings.batch_size,
                                    settings.max_polymorphs, settings.seed)
    step_loss = functools.partial(objective_loss(network).batch_loss, network)
    optimizer = adam_for(network, settings, device)
    rng = np.random.default_rng(0)
    autocast = autocast_for(device, settings)
    network.train()
    started = None
    with numerics_for(device, settings):
        for i, step in enumerate(data.resident(list(sampler))):
            if i == 2:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                started = time.perf_counter()
            if i == steps + 2:
                break
            optimisation_step(step_loss, data, step, rng, optimizer, network, settings, autocast)
        if device.type == "cuda":
            torch.cuda.synchronize()
    done = min(steps, len(sampler) - 2)
    return (time.perf_counter() - started) / max(done, 1)


def measure(corpus, width: int, side: str, device: torch.device, precision: str, steps: int,
            epochs: int, deterministic: bool = True, random_cache: bool = False) -> dict:
    """One row: seconds per epoch of ``side`` at width ``width``.

    ``random_cache`` (with ``steps``) fills the cache with random vectors instead of running
    the frozen encoder over the corpus: a cached step's time does not depend on their values.
    """
    network = network_of(width, side)
    settings = TrainingSettings(**{**get_recipe("paper").training(), "epochs": epochs, "warmup_epochs": 0},
                                precision=precision, deterministic=deterministic)
    n_steps = -(-len(corpus.formulas) // settings.batch_size)
    row = {"device": device.type, "F": width, "precision": precision + ("" if deterministic else ", nondet."),
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
        for width in args.widths:
            modes = {"on": [True], "off": [False], "both": [True, False]}[args.deterministic]
            for precision, deterministic in ((p, d) for p in (args.precisions if device.type == "cuda" else ["fp32"])
                                             for d in (modes if device.type == "cuda" else [True])):
                sides = [s for s, label in (("graph_network", "joint"), ("graph_network_frozen", "cached"))
                         if label in args.sides]
                rows = [measure(corpus, width, side, device, precision, args.steps, args.epochs, deterministic,
                                args.random_cache) for side in sides]
                ratio = rows[0]["epoch_s"] / rows[-1]["epoch_s"] if len(rows) == 2 else float("nan")
                for row in rows:
                    label = "joint" if row["side"] == "graph_network" else "cached"
                    print(f"| {row['device']} | {width} | {precision} | {label} | {row['epoch_s']:.2f} | "
                          f"{row['cache_s']:.1f} | {ratio if label == 'cached' else 1:.1f} | {row['how']} |",
                          flush=True)
                if width == 200 and precision == "fp32" and deterministic and len(rows) == 2:
                    last = {"joint": rows[0]["epoch_s"], "cached": rows[1]["epoch_s"]}
    if last:
        print(f"joint_epoch_s={last['joint']:.2f} cached_epoch_s={last['cached']:.2f} "
              f"ratio={last['joint'] / last['cached']:.1f}")


if __name__ == "__main__":
    main()
