"""Featurization on a Dask cluster: :func:`featurize_dask` for a ``dask.dataframe``, and ``polysrl featurize --scheduler``.

Needs the ``dask`` extra (``pip install "polysrl-sklearn[dask]"``: Dask's
``distributed`` scheduler and pyarrow); importing this module without it
raises an ImportError that says so.

**One model per worker.** Tasks carry the model's name or path, never the
network: each worker process loads it on its first task and keeps it
(:func:`~polysrl_sklearn.model_cache.cached_featurizer`). A model file must
therefore be readable at the same path on every worker (a shipped name
always is).

**The same numbers.** Rows are featurized by
:mod:`~polysrl_sklearn.chunk_featurize`, whose output does not depend on
how rows are split into partitions or chunks: the features equal those of
one in-process ``PolySRLFeaturizer.transform`` call bit for bit (on the
CPU), and each output partition keeps its input partition's rows, order
and index.

Examples
--------
On a two-worker ``LocalCluster`` (each worker a process with one thread)::

    import dask.dataframe as dd
    from dask.distributed import Client, LocalCluster
    from polysrl_sklearn.distributed import featurize_dask

    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster):
        formulas = dd.read_parquet("candidates.parquet")
        featurize_dask(formulas, "formula", pretrained="default").to_parquet("features/")
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .optional import require

dask = require("dask", "polysrl_sklearn.distributed")
dd = require("dask.dataframe", "polysrl_sklearn.distributed")
require("pyarrow", "polysrl_sklearn.distributed")
distributed = require("distributed", "polysrl_sklearn.distributed")

from .chunk_featurize import check_input_columns, featurize_pandas  # noqa: E402 - after the dependency check
from .model_cache import cached_featurizer, worker_model_name  # noqa: E402

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

#: Dask settings of the ``LocalCluster`` that ``scheduler="local"`` starts. Dask sets
#: ``MALLOC_TRIM_THRESHOLD_=65536`` in its workers, which makes glibc hand memory back to the system
#: after nearly every chunk: featurizing then took 65% more CPU, most of it in the kernel
#: (2.3 s user + 1.8 s system against 2.2 s + 0.3 s for 60,000 formulas, measured). Without it the
#: worker costs what one process costs. The workers' statistical profiler (a stack sample every
#: 10 ms) cost another 2-3%.
LOCAL_CLUSTER_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                        "distributed.worker.profile.enabled": False}
#: Modules that the forkserver of a local cluster imports once, before it forks the workers
#: (:func:`local_worker_context`): each worker then starts with torch, torch-geometric, pymatgen,
#: scikit-learn and this package already imported, instead of importing them itself (about 4 CPU
#: seconds per worker on the project's machine).
WORKER_PRELOAD: tuple[str, ...] = ("distributed", "polysrl_sklearn.featurizer", "polysrl_sklearn.featurize_job",
                                   "polysrl_sklearn.distributed")
#: Chunks in flight per worker thread in :func:`run_on_cluster` (one running, one queued).
IN_FLIGHT_PER_THREAD = 2


def _featurize_partition(frame: pd.DataFrame, column: str, pretrained: str, device: str) -> pd.DataFrame:
    """The task of one partition: the worker's cached model, then :func:`featurize_pandas`."""
    return featurize_pandas(frame, column, cached_featurizer(pretrained, device))


def featurize_dask(ddf: dd.DataFrame, column: str, pretrained: str | os.PathLike = "default",
                   device: str = "auto") -> dd.DataFrame:
    """Featurize a dask DataFrame's formula column, partition by partition (lazy).

    Parameters
    ----------
    ddf : dask.dataframe.DataFrame
    column : str
        The column of formulas.
    pretrained : str or path, default="default"
        A shipped model name or a model file readable by every worker (not a
        random-init encoder: see :func:`~polysrl_sklearn.model_cache.model_file`).
    device : str, default="auto"
        The featurizer's device on each worker.

    Returns
    -------
    dask.dataframe.DataFrame
        ``ddf``'s columns, then the features (``get_feature_names_out()``,
        float64) and ``polysrl_error`` (the message of a row that could not be
        featurized, whose features are NaN; None otherwise). Same partitions,
        index and row order as ``ddf``.

    Raises
    ------
    KeyError, ValueError
        If ``ddf`` has no column ``column`` or already has an output column,
        or for a random-init ``pretrained``.
    FileNotFoundError
        If the model does not exist (checked here, before any task runs).
    """
    featurizer = cached_featurizer(pretrained, device)  # checks the model and gives the column names
    check_input_columns(list(ddf.columns), column, featurizer)
    meta = featurize_pandas(ddf._meta, column, featurizer)
    return ddf.map_partitions(_featurize_partition, column, worker_model_name(pretrained), device, meta=meta)


@contextmanager
def connect(scheduler: str, workers: int | None = None) -> Iterator[distributed.Client]:
    """A Dask client of a running cluster, or of a new ``LocalCluster`` (closed on exit).

    Parameters
    ----------
    scheduler : str
        ``"local"`` (a new ``LocalCluster`` of ``workers`` processes with one
        thread each), a scheduler file (an existing ``*.json``), or a
        scheduler address such as ``tcp://10.0.0.5:8786``.
    workers : int, optional
        Worker processes of a local cluster (default: the CPU count).
    """
    if scheduler == "local":
        with dask.config.set({**LOCAL_CLUSTER_CONFIG, **local_worker_context()}), \
                distributed.LocalCluster(n_workers=workers or os.cpu_count(), threads_per_worker=1, processes=True,
                                         dashboard_address=None) as cluster, distributed.Client(cluster) as client:
            yield client
    elif scheduler.endswith(".json") and Path(scheduler).is_file():
        with distributed.Client(scheduler_file=scheduler) as client:
            yield client
    else:
        with distributed.Client(scheduler) as client:
            yield client


def local_worker_context() -> dict[str, str]:
    """The Dask setting that makes a local cluster fork its workers from a preloaded forkserver.

    Where the platform has the ``forkserver`` start method (Linux, macOS), the
    forkserver of this process is set to import :data:`WORKER_PRELOAD` when it
    starts, and the returned setting makes the nannies use it. Dask sets its own
    preload list the first time it asks for the forkserver context, so that call
    is made first and the list is then replaced. The forkserver imports no
    model and runs no torch operation, so its children start with torch's
    thread pool unused; the nannies set their environment (one thread per
    worker) before the forkserver starts. Elsewhere: ``{}`` (Dask's default,
    ``spawn``).
    """
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return {}
    setting = {"distributed.worker.multiprocessing-method": "forkserver"}
    with dask.config.set(setting):
        context = distributed.utils.get_mp_context()
    context.set_forkserver_preload(list(WORKER_PRELOAD))
    return setting


def _warm(pretrained: str, device: str) -> None:
    cached_featurizer(pretrained, device)


def warm_up(client: distributed.Client, pretrained: str, device: str) -> list[distributed.Future]:
    """Have every worker load the model now, as a task (so that its event loop stays free).

    Returns the futures (keep them until the work is submitted: a released future may be cancelled).
    """
    return [client.submit(_warm, pretrained, device, workers=[address], pure=False, allow_other_workers=False)
            for address in client.scheduler_info()["workers"]]


def run_on_cluster(client: distributed.Client, work: Iterator[tuple[pa.Table, int, int]],
                   task: Callable[..., Any], on_done: Callable[[Any], None]) -> None:
    """Run ``task(chunk, index, first_row)`` for each chunk on a Dask cluster, a few chunks in flight.

    Chunks are read from ``work`` only as slots free up (at most
    :data:`IN_FLIGHT_PER_THREAD` per worker thread), so the driver holds a
    few chunks whatever the input size. ``on_done`` gets each result as it
    arrives (in completion order). A failed task raises here, after the
    outstanding tasks are cancelled; Ctrl-C cancels them too.

    Parameters
    ----------
    client : distributed.Client
        See :func:`connect`.
    work : iterator of (pyarrow.Table, int, int)
    task : callable
        Picklable; run on the workers.
    on_done : callable
    """
    finished = distributed.as_completed()
    outstanding: set[distributed.Future] = set()

    def collect_one() -> None:
        future = next(finished)
        outstanding.discard(future)
        on_done(future.result())

    def slots() -> int:  # asks the scheduler: workers may come and go
        return IN_FLIGHT_PER_THREAD * max(1, sum(client.nthreads().values()))

    try:
        limit = slots()
        for chunk, index, first_row in work:
            future = client.submit(task, chunk, index, first_row, pure=False)
            outstanding.add(future)
            finished.add(future)
            if len(outstanding) >= limit:
                limit = slots()
            while len(outstanding) >= limit:
                collect_one()
        while outstanding:
            collect_one()
    except BaseException:
        client.cancel(list(outstanding))
        raise
