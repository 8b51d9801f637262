"""A featurization job over a CSV or Parquet file: chunks, part files, resume, one Parquet output.

:func:`featurize_file` is what ``polysrl featurize`` runs. The input is read
in chunks of ``chunk_size`` rows (:mod:`~polysrl_sklearn.table_io`); each
chunk is featurized (:mod:`~polysrl_sklearn.chunk_featurize`) and written
as an atomic part file into ``OUTPUT.parts/``, either in this process or,
with ``scheduler=``, by the workers of a Dask cluster
(:mod:`~polysrl_sklearn.distributed`; they must see that folder). When every
chunk is done the parts are assembled, in input order, into the single
Parquet file ``OUTPUT`` (each part as soon as it and all before it exist, so
that the copying overlaps the featurization; :class:`~polysrl_sklearn.table_io.PartAssembler`)
and the folder is removed. On a cluster, the cluster starts while this process
reads the input's schema and counts its rows.

**Resuming.** ``OUTPUT.parts/manifest.json`` records the input file (path,
size, modification time, row count), the formula column, the chunk size
and the model (file and sha256). An interrupted run leaves its complete
part files there; ``resume=True`` checks the manifest against the new call
(any difference raises :class:`~polysrl_sklearn.resume.ResumeError` naming
it) and featurizes only the missing chunks. Features do not depend on how
rows are chunked or on which process encodes them, so the resumed output is
identical to an uninterrupted run's. Without ``resume``, an existing parts
folder is refused rather than overwritten.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .chunk_featurize import ERROR_COLUMN, check_input_columns, featurize_arrow, output_names
from .model_cache import cached_featurizer, model_file, worker_model_name
from .resume import ResumeError
from .table_io import (
    PartAssembler,
    count_rows,
    input_schema,
    non_null_count,
    part_path,
    part_rows,
    read_chunks,
    write_atomically,
)

if TYPE_CHECKING:
    import pyarrow as pa

#: Rows per chunk unless told otherwise (about 32 MB of float64 features per part for the default F = 200).
DEFAULT_CHUNK_SIZE = 20_000
#: Name of the manifest inside the parts folder.
MANIFEST = "manifest.json"
#: Version of the parts-folder layout; a folder of another version is not resumed.
LAYOUT_VERSION = 1


@dataclass(frozen=True)
class FeaturizeSummary:
    """What a finished :func:`featurize_file` did.

    Attributes
    ----------
    output : Path
    rows : int
        Rows of the input (and of the output).
    errors : int
        Rows of the output whose error column is set (their features are NaN).
    chunks : int
        Chunks of the input.
    reused_chunks : int
        Chunks whose part file an interrupted earlier run had written.
    seconds : float
        Wall time of the call.
    """

    output: Path
    rows: int
    errors: int
    chunks: int
    reused_chunks: int
    seconds: float


def parts_folder(output: str | os.PathLike) -> Path:
    """The folder of the part files of ``output``: ``out.parquet`` -> ``out.parquet.parts``."""
    output = Path(output)
    return output.with_name(f"{output.name}.parts")


def run_chunk(chunk: pa.Table, index: int, first_row: int, *, column: str, pretrained: str, device: str,
              parts_dir: str) -> tuple[int, int, int]:
    """Featurize one chunk and write its part file; the task a Dask worker (or this process) runs.

    The model comes from the per-process cache
    (:func:`~polysrl_sklearn.model_cache.cached_featurizer`), so it is
    loaded once per worker, never shipped with the task.

    Returns
    -------
    index, rows, errors : int
        The chunk's index, its number of rows and of rows with an error.
    """
    featurizer = cached_featurizer(pretrained, device)
    table = featurize_arrow(chunk, column, featurizer, first_row)
    write_atomically(table, part_path(parts_dir, index), output_names(featurizer)[:-1])
    return index, table.num_rows, table.num_rows - table.column(ERROR_COLUMN).null_count


def _manifest(input: Path, rows: int, column: str, chunk_size: int, model: Path) -> dict[str, Any]:
    from .model_files import file_sha256

    stat = input.stat()
    return {"layout": LAYOUT_VERSION, "input": str(input), "input_bytes": stat.st_size,
            "input_mtime_ns": stat.st_mtime_ns, "rows": rows, "column": column, "chunk_size": chunk_size,
            "model": str(model), "model_sha256": file_sha256(model)}


def _check_resumable(parts_dir: Path, expected: dict[str, Any]) -> None:
    path = parts_dir / MANIFEST
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ResumeError(f"cannot resume from {parts_dir}: unreadable {MANIFEST} ({exc}); delete the folder "
                          "to start again") from None
    differing = [key for key in expected if found.get(key) != expected[key]]
    if differing:
        detail = "; ".join(f"{key}: {found.get(key)!r} then, {expected[key]!r} now" for key in differing)
        raise ResumeError(f"cannot resume from {parts_dir}: the run it holds differs ({detail}); delete the "
                          "folder to start again")


def _prepare_parts(parts_dir: Path, manifest: dict[str, Any], resume: bool) -> None:
    """Create the parts folder, or check that an existing one continues this job."""
    if parts_dir.exists() and not resume:
        raise FileExistsError(f"{parts_dir} holds the part files of an unfinished run; continue it with "
                              "resume=True (polysrl featurize --resume) or delete the folder")
    if parts_dir.exists():
        _check_resumable(parts_dir, manifest)
        for leftover in parts_dir.glob("*.tmp-*"):  # a write that was cut off
            leftover.unlink(missing_ok=True)
        return
    if resume:
        print(f"polysrl featurize: --resume: no part files at {parts_dir} yet; starting a new run",
              file=sys.stderr, flush=True)
    parts_dir.mkdir(parents=True)
    (parts_dir / MANIFEST).write_text(json.dumps(manifest, indent=1))


def _work(input: Path, column: str, chunk_size: int, done: set[int]) -> Iterator[tuple[pa.Table, int, int]]:
    """(chunk, index, first row) of every chunk not yet done, read lazily in order."""
    for index, chunk in enumerate(read_chunks(input, column, chunk_size)):
        if index not in done:
            yield chunk, index, index * chunk_size


@contextmanager
def _progress(rows: int, done_rows: int, show: bool) -> Iterator[Callable[[tuple[int, int, int]], None]]:
    """A progress bar (formulas per second, time left, errors) and the callback that advances it."""
    from tqdm.auto import tqdm

    errors = 0
    with tqdm(total=rows, initial=done_rows, unit=" formulas", unit_scale=True, disable=not show, file=sys.stderr,
              desc="featurize", smoothing=0.1) as bar:

        def on_done(result: tuple[int, int, int]) -> None:
            nonlocal errors
            errors += result[2]
            bar.update(result[1])
            bar.set_postfix(errors=errors, refresh=False)

        yield on_done


def run_locally(work: Iterator[tuple[pa.Table, int, int]], task: Callable[..., tuple[int, int, int]],
                on_done: Callable[[tuple[int, int, int]], None]) -> None:
    """Run each chunk's task in this process, in order."""
    for chunk, index, first_row in work:
        on_done(task(chunk, index, first_row))


def _start_cluster(stack: ExitStack, scheduler: str, workers: int | None, model: str,
                   device: str) -> Future:
    """Connect to (or start) a Dask cluster in a background thread and have its workers load the model.

    Returns the future of ``(client, warm-up futures)``. ``stack`` closes the cluster on exit,
    after waiting for the start to finish (so that no cluster is left behind when this
    process fails first).
    """
    from .distributed import connect, warm_up

    connection = connect(scheduler, workers)

    def start() -> tuple[Any, list]:
        client = connection.__enter__()
        try:
            return client, warm_up(client, model, device)  # warm-up futures: held until the cluster closes
        except BaseException:
            connection.__exit__(*sys.exc_info())
            raise

    pool = ThreadPoolExecutor(1, thread_name_prefix="polysrl-cluster-start")
    starting = pool.submit(start)

    def close() -> None:
        starting.result()[1].clear()
        connection.__exit__(None, None, None)

    def stop(*exc: Any) -> None:
        try:
            if starting.exception() is None:
                # in the thread that entered it: the client keeps a context variable of that thread's context
                pool.submit(close).result()
        finally:
            pool.shutdown(wait=True)

    stack.push(stop)
    return starting


def featurize_file(input: str | os.PathLike, output: str | os.PathLike, column: str = "formula",
                   pretrained: str | os.PathLike = "default", chunk_size: int = DEFAULT_CHUNK_SIZE,
                   device: str = "auto", resume: bool = False, overwrite: bool = False,
                   scheduler: str | None = None, workers: int | None = None,
                   progress: bool = True) -> FeaturizeSummary:
    """Featurize the formula column of a CSV or Parquet file into a Parquet file, in chunks.

    Parameters
    ----------
    input : path
        CSV (optionally ``.gz``/``.bz2``) or Parquet file.
    output : path
        The Parquet file to write: the input's columns, the features
        (``get_feature_names_out()``: the mean vector and
        ``polysrl_uncertainty``) and ``polysrl_error`` (the message of a row
        that could not be featurized, whose features are NaN; null otherwise).
    column : str, default="formula"
        The column of formulas.
    pretrained : str or path, default="default"
        A shipped model name or a model file (not a random-init encoder; see
        :func:`~polysrl_sklearn.model_cache.model_file`).
    chunk_size : int, default=20000
        Rows per chunk and part file; memory grows with it, not with the input.
    device : str, default="auto"
        The featurizer's device, in this process or on each worker.
    resume : bool, default=False
        Continue an interrupted run from its part files (see the module docstring).
    overwrite : bool, default=False
        Replace an existing ``output``.
    scheduler : str, optional
        Run the chunks on a Dask cluster: a scheduler address
        (``tcp://host:8786``), a scheduler file (``*.json``), or ``"local"``
        for a new ``LocalCluster`` of ``workers`` single-threaded processes.
    workers : int, optional
        Worker processes of ``scheduler="local"`` (default: the CPU count).
    progress : bool, default=True
        Show a progress bar (formulas per second, ETA) on standard error.

    Returns
    -------
    FeaturizeSummary

    Raises
    ------
    FileNotFoundError
        If ``input`` or the model file does not exist.
    FileExistsError
        If ``output`` exists (without ``overwrite``), or an unfinished run's
        parts folder does (without ``resume``).
    KeyError, ValueError
        If the input has no column ``column``, or already has an output column.
    ResumeError
        If ``resume`` finds the parts of another input, column, chunk size or model.
    """
    started = time.perf_counter()
    input, output = Path(input).resolve(), Path(output).resolve()
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    if not input.is_file():
        raise FileNotFoundError(f"no input file {input}")
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output} exists; remove it or pass overwrite=True (polysrl featurize --overwrite)")
    model = worker_model_name(pretrained)  # refuses a missing or random-init model before anything starts
    with ExitStack() as stack:
        starting = None
        if scheduler is not None:
            # the cluster starts (and its workers load the model) while this process loads its own copy,
            # reads the schema and counts the rows
            starting = _start_cluster(stack, scheduler, workers, model, device)
        featurizer = cached_featurizer(pretrained, device)
        schema = input_schema(input, column)
        check_input_columns(schema.names, column, featurizer)
        rows = count_rows(input, column)
        chunks = max(1, -(-rows // chunk_size))  # an empty input still gets one (empty) part
        parts_dir = parts_folder(output)
        _prepare_parts(parts_dir, _manifest(input, rows, column, chunk_size, model_file(pretrained)), resume)
        expected = [min(chunk_size, rows - i * chunk_size) for i in range(chunks)]
        done = {i for i in range(chunks) if part_rows(part_path(parts_dir, i)) == expected[i]}
        work = _work(input, column, chunk_size, done)
        if rows == 0 and not done:
            work = iter([(schema.empty_table().replace_schema_metadata(None), 0, 0)])
        task = partial(run_chunk, column=column, pretrained=model, device=device, parts_dir=str(parts_dir))
        assembler = stack.enter_context(PartAssembler([part_path(parts_dir, i) for i in range(chunks)], output,
                                                      schema, output_names(featurizer)[:-1]))
        for index in sorted(done):
            assembler.ready(index)
        with _progress(rows, sum(expected[i] for i in done), progress) as advance:

            def on_done(result: tuple[int, int, int]) -> None:
                advance(result)
                assembler.ready(result[0])

            if starting is None:
                run_locally(work, task, on_done)
            else:
                from .distributed import run_on_cluster

                run_on_cluster(starting.result()[0], work, task, on_done)
        assembler.finish()
    shutil.rmtree(parts_dir)
    return FeaturizeSummary(output, rows, non_null_count(output, ERROR_COLUMN), chunks, len(done),
                            time.perf_counter() - started)
