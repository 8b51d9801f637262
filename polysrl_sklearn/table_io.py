"""Streaming table files for ``polysrl featurize``: chunked reading, atomic part files, one assembled output.

* **Input.** A Parquet file (recognised by its ``PAR1`` magic bytes) is read
  with ``pyarrow.parquet.ParquetFile.iter_batches``; anything else is read
  as CSV (``.gz``/``.bz2`` by extension) with pyarrow's streaming reader,
  the formula column as text and the other columns typed from the first
  block. Either way :func:`read_chunks` yields tables of exactly
  ``chunk_size`` rows (the last one shorter), so chunk ``i`` always holds
  rows ``i * chunk_size`` onwards: the basis of resuming.
* **Part files.** Chunk ``i`` becomes ``part-{i:06d}.parquet`` in the parts
  folder, written under a temporary name and renamed (atomic on POSIX file
  systems), so a part file either is complete or does not exist.
* **Output.** :class:`PartAssembler` copies the parts, in order, into one Parquet
  file (one row group per part) as soon as each part and all before it exist,
  so that the copying overlaps the featurization; written under a temporary
  name and renamed.
  A pandas index stored in a Parquet input (its ``pandas`` schema metadata)
  is kept: the output reads back with the input's index.

Memory stays at about one chunk whatever the file size.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from .optional import require

if TYPE_CHECKING:
    import pyarrow as pa

#: Rows per pyarrow read batch while counting or skipping (independent of the chunk size).
READ_BATCH_ROWS = 65_536
#: Bytes of CSV per pyarrow block; the non-formula columns are typed from the first block.
CSV_BLOCK_BYTES = 16 << 20


def _pyarrow():
    return require("pyarrow", "polysrl featurize"), require("pyarrow.csv", "polysrl featurize"), \
        require("pyarrow.parquet", "polysrl featurize")


def is_parquet(path: str | os.PathLike) -> bool:
    """Whether a file is Parquet (starts with the ``PAR1`` magic bytes)."""
    with open(path, "rb") as handle:
        return handle.read(4) == b"PAR1"


def _csv_batches(path: Path, column: str, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    pa, csv, _ = _pyarrow()
    reader = csv.open_csv(path, read_options=csv.ReadOptions(block_size=CSV_BLOCK_BYTES),
                          convert_options=csv.ConvertOptions(column_types={column: pa.string()},
                                                             include_columns=columns))
    while True:
        try:
            yield reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowInvalid as exc:
            raise ValueError(f"{path}: {exc}. pyarrow types each CSV column from the file's first "
                             f"{CSV_BLOCK_BYTES >> 20} MiB; convert the file to Parquet with explicit "
                             "types to read such a column") from None


def _batches(path: Path, column: str, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    """Record batches of the whole file (all columns, or ``columns``)."""
    _, _, pq = _pyarrow()
    if is_parquet(path):
        yield from pq.ParquetFile(path).iter_batches(batch_size=READ_BATCH_ROWS, columns=columns)
    else:
        yield from _csv_batches(path, column, columns)


def input_schema(path: str | os.PathLike, column: str) -> pa.Schema:
    """The schema of a CSV or Parquet file as :func:`read_chunks` reads it (with any pandas metadata)."""
    pa, csv, pq = _pyarrow()
    path = Path(path)
    if is_parquet(path):
        return pq.ParquetFile(path).schema_arrow
    reader = csv.open_csv(path, read_options=csv.ReadOptions(block_size=CSV_BLOCK_BYTES),
                          convert_options=csv.ConvertOptions(column_types={column: pa.string()}))
    return reader.schema


def count_rows(path: str | os.PathLike, column: str) -> int:
    """Rows of a Parquet file (from its footer) or a CSV file (one pass over ``column`` only)."""
    _, _, pq = _pyarrow()
    path = Path(path)
    if is_parquet(path):
        return pq.ParquetFile(path).metadata.num_rows
    return sum(batch.num_rows for batch in _csv_batches(path, column, [column]))


def exact_chunks(batches: Iterable[pa.RecordBatch], chunk_size: int) -> Iterator[pa.Table]:
    """Regroup record batches into tables of exactly ``chunk_size`` rows (the last one shorter).

    Examples
    --------
    >>> import pyarrow as pa
    >>> batches = [pa.record_batch({"x": list(range(n))}) for n in (3, 5, 1)]
    >>> [table.num_rows for table in exact_chunks(batches, 4)]
    [4, 4, 1]
    """
    import pyarrow as pa

    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        while batch.num_rows:
            take = min(chunk_size - held, batch.num_rows)
            pending.append(batch.slice(0, take))
            held += take
            batch = batch.slice(take)
            if held == chunk_size:
                yield pa.Table.from_batches(pending).combine_chunks()  # compact: a slice may pin its batch
                pending, held = [], 0
    if held:
        yield pa.Table.from_batches(pending).combine_chunks()


def read_chunks(path: str | os.PathLike, column: str, chunk_size: int) -> Iterator[pa.Table]:
    """Tables of ``chunk_size`` consecutive rows of a CSV or Parquet file, in order.

    Parameters
    ----------
    path : path
        CSV (optionally compressed) or Parquet file.
    column : str
        The formula column, read as text.
    chunk_size : int
        Rows per table (the last one may be shorter).

    Yields
    ------
    pyarrow.Table
        Without schema metadata.
    """
    for table in exact_chunks(_batches(Path(path), column), chunk_size):
        yield table.replace_schema_metadata(None)


def part_path(parts_dir: str | os.PathLike, index: int) -> Path:
    """Path of chunk ``index``'s part file."""
    return Path(parts_dir) / f"part-{index:06d}.parquet"


def write_atomically(table: pa.Table, path: str | os.PathLike, feature_columns: list[str]) -> None:
    """Write a Parquet file under a temporary name in the same folder, then rename it into place.

    Parameters
    ----------
    table : pyarrow.Table
    path : path
    feature_columns : list of str
        Columns written without dictionary encoding (float features gain
        nothing from it and it triples the writing time).
    """
    _, _, pq = _pyarrow()
    path = Path(path)
    temporary = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    dictionary = [name for name in table.column_names if name not in set(feature_columns)]
    try:
        pq.write_table(table, temporary, compression="none", use_dictionary=dictionary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def part_rows(path: str | os.PathLike) -> int | None:
    """Rows of a part file, or None if it is missing or unreadable."""
    _, _, pq = _pyarrow()
    try:
        return pq.read_metadata(path).num_rows
    except (OSError, ValueError):  # missing, or not Parquet (pyarrow raises ArrowInvalid, a ValueError)
        return None


def non_null_count(path: str | os.PathLike, column: str) -> int:
    """Rows of a Parquet file whose ``column`` is not null (reads that column only)."""
    _, _, pq = _pyarrow()
    values = pq.read_table(path, columns=[column]).column(column)
    return len(values) - values.null_count


def output_pandas_metadata(schema: pa.Schema, input_schema: pa.Schema) -> bytes | None:
    """The ``pandas`` metadata of the output: the input's (index included), plus the added columns.

    None when the input has no pandas metadata (a CSV, or Parquet not written by pandas).
    """
    meta = input_schema.pandas_metadata
    if meta is None:
        return None
    described = {entry["field_name"] for entry in meta["columns"]}
    for field in schema:
        if field.name not in described and field.name not in input_schema.names:
            floating = str(field.type) == "double"
            meta["columns"].append({"name": field.name, "field_name": field.name, "metadata": None,
                                    "pandas_type": "float64" if floating else "unicode",
                                    "numpy_type": "float64" if floating else "object"})
    return json.dumps(meta).encode()


class PartAssembler:
    """Copies part files, in order, into one Parquet file while later parts are still being made.

    :meth:`ready` marks a part as written; every part whose predecessors are all
    in is appended at once, so the copying overlaps the featurization of the
    later chunks (on a cluster the parts finish out of order; the output keeps
    the input's order). The output is written under a temporary name and
    renamed by :meth:`finish`; leaving the ``with`` block without it removes the
    temporary file.

    Parameters
    ----------
    parts : list of path
        Every part file, in order (at least one); all have the same schema.
    output : path
    input_schema : pyarrow.Schema
        The input file's schema, for its pandas metadata (see :func:`output_pandas_metadata`).
    feature_columns : list of str
        Written without dictionary encoding.
    """

    def __init__(self, parts: list[Path], output: str | os.PathLike, input_schema: pa.Schema,
                 feature_columns: list[str]) -> None:
        self.parts, self.output = [Path(p) for p in parts], Path(output)
        self.input_schema, self.feature_columns = input_schema, set(feature_columns)
        self.temporary = self.output.with_name(f"{self.output.name}.tmp-{os.getpid()}")
        self.written = 0
        self._ready: set[int] = set()
        self._writer = None
        self._schema = None

    def __enter__(self) -> PartAssembler:
        return self

    def __exit__(self, *exc) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self.temporary.unlink(missing_ok=True)

    def _open(self) -> None:
        _, _, pq = _pyarrow()
        schema = pq.read_schema(self.parts[0])
        pandas_metadata = output_pandas_metadata(schema, self.input_schema)
        if pandas_metadata is not None:
            schema = schema.with_metadata({b"pandas": pandas_metadata})
        dictionary = [name for name in schema.names if name not in self.feature_columns]
        self._schema = schema
        self._writer = pq.ParquetWriter(self.temporary, schema, compression="snappy", use_dictionary=dictionary)

    def ready(self, index: int) -> None:
        """Part ``index`` is complete: append it and every following part already complete."""
        _, _, pq = _pyarrow()
        self._ready.add(index)
        while self.written in self._ready:
            if self._writer is None:
                self._open()
            table = pq.read_table(self.parts[self.written])
            self._writer.write_table(table.replace_schema_metadata(self._schema.metadata))
            self._ready.discard(self.written)
            self.written += 1

    def finish(self) -> None:
        """Close the output and give it its name; every part must have been appended."""
        if self.written != len(self.parts):
            raise RuntimeError(f"{len(self.parts) - self.written} of {len(self.parts)} parts are not in yet "
                               f"(next missing: {self.parts[self.written].name})")
        self._writer.close()
        self._writer = None
        os.replace(self.temporary, self.output)

