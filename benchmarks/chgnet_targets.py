"""CHGNet crystal feature vectors of the MP corpus: speed, ETA, and a resumable cache.

Computes CHGNet's 64-wide crystal feature vector (the ``chgnet`` extra, weights
shipped in its wheel) of the first ``--limit`` structures of the MP JSON-lines
file, chunk by chunk into ``--cache-dir`` (``polysrl_sklearn.vector_cache``).
After each chunk it prints the rate and the ETA of this run and of the whole
corpus (by structures, and by atoms since the cost grows with them). A rerun
with the same arguments continues from the last finished chunk; a finished
run loads the cache at once.

    python benchmarks/chgnet_targets.py --limit 2000 [--cache-dir DIR] [--chunk-size 512]
        [--device auto] [--batch-size 32] [--threads N] [--data PATH]   # or $POLYSRL_MP_STRUCTURES

The file starts with small cells (the first 2000 average 10 atoms, the corpus 30): ``--every 72
--limit 2000`` times a sample spread over the whole file, whose rate is the one to plan with.

The cache key is the chgnet version and model plus the sha256 of the lines
used (``fingerprint_lines``): other limits or files get their own folder.

``--corpus`` fills instead the cache that ``polysrl pretrain --structure-encoder chgnet``
reads: the structures of the pretraining corpus (the file's structures less those the
crystal-graph builder drops), keyed by the corpus (``corpus_chgnet_vectors``).
``--shard K/N`` computes only chunks K, K+N, ...: start N processes, one per core (one
torch thread each), then run once more without ``--shard`` to join the parts::

    for k in 0 1; do python benchmarks/chgnet_targets.py --corpus --threads 1 --shard $k/2 & done; wait
    python benchmarks/chgnet_targets.py --corpus
Structures that CHGNet cannot featurize get NaN rows (``--on-error nan``,
default here) and are counted at the end; ``--on-error raise`` stops at the first.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from pathlib import Path

import numpy as np

from polysrl_sklearn.chgnet_vectors import (
    DEFAULT_MODEL,
    SHIPPED_MODELS,
    chgnet_cache_key,
    chgnet_compute,
    chgnet_version,
    fingerprint_lines,
    load_chgnet,
)
from polysrl_sklearn.corpus import MP_STRUCTURES_ENV, corpus_from_mp_jsonl, corpus_lines, iter_mp_lines
from polysrl_sklearn.datasets import data_path
from polysrl_sklearn.pretraining import resolve_device
from polysrl_sklearn.resume import structures_fingerprint
from polysrl_sklearn.vector_cache import cached_vectors

MP_FILE = "fxcoudert_topology_databases/mp_structures_id_lt2M.jsonl.gz"
NSITES = re.compile(r'"nsites"\s*:\s*(\d+)')
SPECIES = re.compile(r'"species"\s*:\s*\[([^\]]*)\]')


def sites_of(line: str) -> int:
    """Number of atoms of a raw MP line without parsing it (``nsites``, else the species list)."""
    match = NSITES.search(line)
    if match:
        return int(match.group(1))
    match = SPECIES.search(line)
    return match.group(1).count(",") + 1 if match else 0


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="first N structures (default: the whole file)")
    parser.add_argument("--every", type=int, default=1, help="take every K-th structure of the file (a sample "
                                                             "spread over the corpus, for a representative rate)")
    parser.add_argument("--data", default=None, help=f"MP JSON-lines file (default: ${MP_STRUCTURES_ENV} or the "
                                                     f"shared data folder's {MP_FILE})")
    parser.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "polysrl"))
    parser.add_argument("--chunk-size", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--model", default=DEFAULT_MODEL, choices=SHIPPED_MODELS)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own setting)")
    parser.add_argument("--on-error", default="nan", choices=("nan", "raise"))
    parser.add_argument("--corpus", action="store_true",
                        help="the pretraining corpus's structures, in the cache that polysrl pretrain reads")
    parser.add_argument("--shard", default="0/1", metavar="K/N",
                        help="compute only chunks K, K+N, ... (N processes side by side); join with a run without it")
    args = parser.parse_args()
    if args.every < 1:
        parser.error("--every must be >= 1")
    if args.corpus and args.every != 1:
        parser.error("--corpus takes the corpus's structures; --every does not apply")
    try:
        shard = tuple(int(part) for part in args.shard.split("/"))
        assert len(shard) == 2 and 0 <= shard[0] < shard[1]
    except (ValueError, AssertionError):
        parser.error(f"--shard must be K/N with 0 <= K < N, got {args.shard}")

    import torch

    path = args.data or os.environ.get(MP_STRUCTURES_ENV) or data_path(MP_FILE)
    start = time.perf_counter()
    lines: list[str] = []
    corpus_structures = corpus_sites = 0
    if args.corpus:  # the pretraining corpus (its crystal graphs are built or read from --cache-dir)
        corpus = corpus_from_mp_jsonl(path, args.limit, cache_dir=args.cache_dir, n_jobs=1 if shard[1] > 1 else -1,
                                      verbose=False)
        lines = corpus_lines(path, corpus, args.limit)
        corpus_structures, corpus_sites = len(lines), sum(map(sites_of, lines))
        key_parts = [structures_fingerprint(corpus)]
    else:
        for i, line in enumerate(iter_mp_lines(path)):  # one pass: the lines used, and the corpus's size for the ETA
            corpus_structures += 1
            corpus_sites += sites_of(line)
            if i % args.every == 0 and (args.limit is None or len(lines) < args.limit):
                lines.append(line)
        key_parts = [fingerprint_lines(lines)]
    sites = np.array([sites_of(line) for line in lines], dtype=np.int64)
    print(f"{path}: {corpus_structures:,} structures, {corpus_sites:,} atoms "
          f"({corpus_sites / corpus_structures:.1f} per structure); using {len(lines):,} "
          f"({sites.mean():.1f} atoms each); read in {time.perf_counter() - start:.0f} s")

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    start = time.perf_counter()
    model = load_chgnet(args.model, device)
    key = chgnet_cache_key(len(lines), key_parts, args.model)
    print(f"chgnet {chgnet_version()} model {args.model} on {device}, {torch.get_num_threads()} torch thread(s), "
          f"batch {args.batch_size}, chunk {args.chunk_size}; loaded in {time.perf_counter() - start:.1f} s; "
          f"cache {Path(args.cache_dir) / key}")

    compute = chgnet_compute(lines, model, batch_size=args.batch_size, on_error=args.on_error)
    done = {"structures": 0, "sites": 0, "seconds": 0.0}

    def timed(ids: np.ndarray) -> np.ndarray:
        tick = time.perf_counter()
        vectors = compute(ids)
        seconds = time.perf_counter() - tick
        done["structures"] += len(ids)
        done["sites"] += int(sites[ids].sum())
        done["seconds"] += seconds
        rate = done["structures"] / done["seconds"]
        site_rate = done["sites"] / done["seconds"]
        print(f"chunk {ids[0] // args.chunk_size}: {len(ids)} structures in {seconds:.1f} s "
              f"({len(ids) / seconds:.1f}/s); this run so far {rate:.1f} structures/s, {site_rate:.0f} atoms/s; "
              f"whole corpus ETA {hours(corpus_structures / rate)} by structures, "
              f"{hours(corpus_sites / site_rate)} by atoms", flush=True)
        return vectors

    start = time.perf_counter()
    vectors = cached_vectors(timed, len(lines), args.cache_dir, key, chunk_size=args.chunk_size, shard=shard)
    wall = time.perf_counter() - start
    if vectors is None:
        print(f"\nshard {args.shard}: {done['structures']:,} structures computed in {wall:.1f} s; "
              "run once more without --shard to join the parts")
        return
    bad = int(np.isnan(vectors).any(axis=1).sum())
    resumed = len(lines) - done["structures"]
    print(f"\n{vectors.shape[0]:,} vectors of width {vectors.shape[1]} in {wall:.1f} s "
          f"({resumed:,} from the cache, {done['structures']:,} computed); {bad} NaN row(s)")
    if done["structures"]:
        rate = done["structures"] / done["seconds"]
        site_rate = done["sites"] / done["seconds"]
        print("| structures computed | atoms/structure | seconds | structures/s | atoms/s | "
              "whole-corpus ETA (structures) | (atoms) |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        print(f"| {done['structures']:,} | {done['sites'] / done['structures']:.1f} | {done['seconds']:.1f} | "
              f"{rate:.1f} | {site_rate:.0f} | {hours(corpus_structures / rate)} | {hours(corpus_sites / site_rate)} |")


if __name__ == "__main__":
    main()
