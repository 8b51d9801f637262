"""Featurization at scale: in-process ``transform``, ``polysrl featurize`` in one process, and on Dask.

For ``--rows`` seeded random formulas (:mod:`polysrl_sklearn.random_formulas`,
default one million) written to a CSV file, each method runs in a
subprocess of its own, and the table gives its wall time, formulas per
second and peak memory:

* in-process ``PolySRLFeaturizer.transform`` on 1 and on 2 torch threads
  (the formulas read into a list first; the time is the ``transform`` call);
* ``polysrl featurize`` in one process on one torch thread (the time is the
  whole job: counting rows, the model, chunks, part files, assembling the
  output);
* ``polysrl featurize --scheduler local --workers 2``: a Dask ``LocalCluster``
  of two single-threaded worker processes (the time includes starting it);
* ``polysrl featurize`` in one process again at ``--memory-rows`` (default
  five million), to show that its memory does not grow with the input.

Peak memory: of a single process, its ``ru_maxrss`` from ``os.wait4``; of
the Dask run, the largest sum of resident memory over the process tree
(driver with scheduler, nannies, workers), sampled every 0.2 s with psutil.
While each run lasts, the CPU time used by other processes (the machine is
shared) is sampled too and printed as "other load" in cores; before each
run, a probe times a fixed pure-Python loop in one process and in two at
once, and "cores for us" is how many cores' worth of that loop two
processes of ours got (2.0 on an idle two-core machine).

Usage::

    python benchmarks/featurize_scaling.py [--rows 1000000] [--memory-rows 5000000] [--workers 2] [--model default]

Needs the ``dask`` extra and psutil. About 10 minutes on two (busy) cores for the defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import psutil

from polysrl_sklearn.random_formulas import random_formulas

TRANSFORM = """
import json, sys, time
import pandas as pd, torch
torch.set_num_threads(int(sys.argv[2]))
from polysrl_sklearn import PolySRLFeaturizer
formulas = pd.read_csv(sys.argv[1], usecols=["formula"])["formula"].tolist()
featurizer = PolySRLFeaturizer(pretrained=sys.argv[3], device="cpu").fit([])
start = time.perf_counter()
features = featurizer.transform(formulas)
print(json.dumps({"seconds": time.perf_counter() - start, "rows": len(features)}))
"""


def _loop(n: int) -> float:
    start = time.perf_counter()
    total = 0
    for i in range(n):
        total += i * i
    return time.perf_counter() - start


def cores_for_us(n: int = 20_000_000) -> float:
    """Cores' worth of a CPU-bound loop that two of our processes get at once (the probe)."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        single = pool.apply(_loop, (n,))
        double = pool.map(_loop, [n, n])
    return 2 * single / max(double)


@dataclass
class Run:
    method: str
    rows: int
    seconds: float
    wall: float
    peak_mib: float
    memory_by: str
    other_load: float
    cpu: float
    free_cores: float = float("nan")

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


class TreeSampler(threading.Thread):
    """Samples the resident memory of a process tree, and the CPU that other processes use."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.root, self.interval = psutil.Process(pid), interval
        self.peak = 0
        self.ours: dict[int, float] = {}  # pid -> last seen cpu seconds of our tree
        self.stop = threading.Event()

    def tree(self) -> list[psutil.Process]:
        try:
            return [self.root, *self.root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def run(self) -> None:
        self.start_cpu = psutil.cpu_times()
        self.start_time = time.monotonic()
        while not self.stop.is_set():
            total = 0
            for process in self.tree():
                try:
                    total += process.memory_info().rss
                    times = process.cpu_times()
                    self.ours[process.pid] = times.user + times.system
                except psutil.NoSuchProcess:
                    pass
            self.peak = max(self.peak, total)
            self.stop.wait(self.interval)

    def other_load(self) -> float:
        """Average cores used by processes outside the tree while it ran."""
        end = psutil.cpu_times()
        busy = sum(getattr(end, f) - getattr(self.start_cpu, f) for f in ("user", "nice", "system", "irq", "softirq"))
        seconds = time.monotonic() - self.start_time
        return max(0.0, (busy - sum(self.ours.values())) / seconds)


def run_measured(command: list[str], env: dict[str, str]) -> tuple[str, float, float, float, float, float]:
    """Run a command; return its stdout, wall time, ru_maxrss (MiB), sampled tree peak (MiB), other load and
    the CPU seconds of the process and its descendants (from ``os.wait4``, or the sampled process tree where
    that is larger)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL, env=env)
        sampler = TreeSampler(process.pid)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        sampler.stop.set()
        sampler.join()
        wall = time.perf_counter() - started
        out.seek(0)
        text = out.read()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{text}")
    # os.wait4 counts the process and the descendants it reaped; the workers of a local Dask cluster are
    # forked by a forkserver, which is killed rather than reaping them, so the sampled tree can hold more
    return (text, wall, usage.ru_maxrss / 1024, sampler.peak / 2**20, sampler.other_load(),
            max(usage.ru_utime + usage.ru_stime, sum(sampler.ours.values())))


def write_input(folder: Path, rows: int) -> Path:
    path = folder / f"formulas_{rows}.csv"
    if not path.exists():
        pd.DataFrame({"id": range(rows), "formula": random_formulas(rows, seed=0)}).to_csv(path, index=False)
    return path


def transform_run(source: Path, rows: int, threads: int, env: dict[str, str], model: str = "default") -> Run:
    text, wall, maxrss, _, other, cpu = run_measured([sys.executable, "-c", TRANSFORM, str(source), str(threads),
                                                      model], env)
    seconds = json.loads(text.strip().splitlines()[-1])["seconds"]
    return Run(f"in-process `transform`, {threads} torch thread{'s' if threads > 1 else ''}", rows, seconds, wall,
               maxrss, "ru_maxrss", other, cpu)


def featurize_run(source: Path, output: Path, rows: int, env: dict[str, str], chunk_size: int,
                  workers: int | None = None, model: str = "default") -> Run:
    command = [sys.executable, "-m", "polysrl_sklearn.cli", "featurize", str(source), str(output), "--device", "cpu",
               "--chunk-size", str(chunk_size), "--no-progress", "--overwrite", "--model", model]
    if workers:
        command += ["--scheduler", "local", "--workers", str(workers)]
        method = f"`polysrl featurize --scheduler local --workers {workers}` (Dask, {workers} x 1 thread)"
    else:
        command += ["--threads", "1"]
        method = "`polysrl featurize`, 1 process, 1 torch thread"
    text, wall, maxrss, tree_peak, other, cpu = run_measured(command, env)
    seconds = float(re.search(r" in ([0-9.]+) s ", text).group(1))
    output.unlink()
    if workers:
        return Run(method, rows, seconds, wall, tree_peak, "process tree, sampled", other, cpu)
    return Run(method, rows, seconds, wall, maxrss, "ru_maxrss", other, cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--memory-rows", type=int, default=5_000_000,
                        help="rows of the second `polysrl featurize` run, for its memory (0: skip)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, default=20_000)
    parser.add_argument("--work-dir", type=Path, default=None, help="where the input files go (default: a temp dir)")
    parser.add_argument("--model", default="default", help="shipped model name or model file (default: %(default)s)")
    parser.add_argument("--skip-transform", action="store_true",
                        help="only the `polysrl featurize` runs (in-process transform holds every row in memory)")
    args = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.work_dir or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        source = write_input(folder, args.rows)
        output = folder / "features.parquet"
        print(f"load average before: {os.getloadavg()}", flush=True)
        big = write_input(folder, args.memory_rows) if args.memory_rows else None
        model = args.model
        plan = [] if args.skip_transform else [
            lambda: transform_run(source, args.rows, 1, env, model),
            lambda: transform_run(source, args.rows, 2, {**env, "OMP_NUM_THREADS": "2"}, model)]
        plan += [lambda: featurize_run(source, output, args.rows, env, args.chunk_size, model=model),
                lambda: featurize_run(source, output, args.rows, env, args.chunk_size, workers=args.workers,
                                      model=model)]
        if big is not None:
            plan.append(lambda: featurize_run(big, output, args.memory_rows, env, args.chunk_size, model=model))
        runs = []
        for measure in plan:
            free = cores_for_us()
            run = measure()
            run.free_cores = free
            runs.append(run)
            print(f"  done: {run.method}, {run.rows:,} rows: {run.seconds:.1f} s (cores for us before: {free:.2f}, "
                  f"other load during: {run.other_load:.2f})", flush=True)
        print(f"load average after: {os.getloadavg()}\n")
    print(f"{args.rows:,} random formulas (seed 0); model {args.model}; chunk size {args.chunk_size:,}; "
          f"{os.cpu_count()} CPU cores\n")
    print("| method | rows | seconds | formulas/s | process wall s | CPU s (all processes) | peak memory (MiB) "
          "| memory measured by | cores for us (probe before) | other load (cores, during) |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    for run in runs:
        print(f"| {run.method} | {run.rows:,} | {run.seconds:.1f} | {run.rate:,.0f} | {run.wall:.1f} | {run.cpu:.0f} | "
              f"{run.peak_mib:,.0f} | {run.memory_by} | {run.free_cores:.2f} | {run.other_load:.2f} |")
    first = 0 if args.skip_transform else 2
    one, dask = runs[first], runs[first + 1]
    print(f"\nDask, {args.workers} workers, against `polysrl featurize` in 1 process: {dask.rate / one.rate:.2f}x "
          f"(goal: at least 1.7x at 2 workers)")
    print(f"CPU seconds per million formulas: `polysrl featurize` 1 process {one.cpu / one.rows * 1e6:.0f}, "
          f"Dask {dask.cpu / dask.rows * 1e6:.0f} (all processes, startup included)")
    if not args.skip_transform:
        ideal = args.workers * runs[0].rate
        print(f"Dask, {args.workers} workers, against in-process `transform` on 1 thread: "
              f"{dask.rate / runs[0].rate:.2f}x; overhead against {args.workers} x that rate: {1 - dask.rate / ideal:.0%}")
        print(f"Dask, {args.workers} workers, against in-process `transform` on 2 torch threads (the same cores): "
              f"{dask.rate / runs[1].rate:.2f}x")
    if args.memory_rows:
        print(f"`polysrl featurize` peak memory: {one.peak_mib:,.0f} MiB at {one.rows:,} rows, "
              f"{runs[-1].peak_mib:,.0f} MiB at {runs[-1].rows:,} rows")


if __name__ == "__main__":
    main()
