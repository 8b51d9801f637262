"""Crystal-graph construction speed on the MP corpus (structures per second).

Builds the radius graphs (cutoff 6 A, 12 neighbours) of the first N structures
of the MP JSON-lines file serially and with all cores (no cache), then times
loading the same graphs from the .npz cache.

    python benchmarks/graph_build_speed.py [--n 10000] [--data PATH]   # or $POLYSRL_MP_STRUCTURES
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from polysrl_sklearn.corpus import iter_mp_lines
from polysrl_sklearn.crystal_graph import build_graph_set


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--data", default=None)
    args = parser.parse_args()
    records = list(iter_mp_lines(args.data, args.n))  # raw lines, parsed inside the workers
    names = [json.loads(line)["material_id"] for line in records]
    sites = sum(len(json.loads(line)["species"]) for line in records)
    rows = []
    for label, n_jobs in (("serial (1 worker)", 1), (f"joblib ({os.cpu_count()} workers)", -1)):
        start = time.perf_counter()
        graphs = build_graph_set(records, 6.0, 12, names, n_jobs=n_jobs, skip_invalid=True)
        rows.append((label, time.perf_counter() - start))
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "graphs.npz"
        graphs.save(cache)
        start = time.perf_counter()
        build_graph_set(records, 6.0, 12, names, cache_path=cache)
        rows.append(("load from .npz cache", time.perf_counter() - start))
    print(f"{len(records)} MP structures, {sites} sites, {len(graphs.src)} edges")
    print("| method | seconds | structures/s |")
    print("|---|---:|---:|")
    for label, seconds in rows:
        print(f"| {label} | {seconds:.1f} | {len(records) / seconds:,.0f} |")


if __name__ == "__main__":
    main()
