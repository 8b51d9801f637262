"""A fold log: one CSV line per finished benchmark fold, so that a long benchmark run resumes.

The random forest on the two Materials Project Matbench tasks takes 15-30 min per fold on a
2-core machine (10-14 core-hours for both tasks, Magpie and a model), longer than one working
session. With ``polysrl benchmark --fold-log PATH`` each finished fold is appended to ``PATH``
at once, and a run given the same log skips the folds it already holds, so an interrupted
run continues where it stopped and its final table is the same as an uninterrupted run's.

Examples
--------
>>> import tempfile, os
>>> from polysrl_sklearn.fold_log import FoldLog
>>> path = os.path.join(tempfile.mkdtemp(), "folds.csv")
>>> log = FoldLog(path)
>>> log.record(("mp_gap", "magpie", "rf", 0, 0), mae=0.372, seconds=1860.0)
>>> FoldLog(path).get(("mp_gap", "magpie", "rf", 0, 0))
(0.372, 1860.0)
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

#: Columns of a fold log, in order; the first five are a fold's key.
FOLD_LOG_COLUMNS: tuple[str, ...] = ("task", "method", "head", "seed", "fold", "mae", "seconds")

FoldKey = tuple[str, str, str, int, int]


class FoldLog:
    """The finished folds of a benchmark run, read from and appended to a CSV file.

    Parameters
    ----------
    path : path
        The log; it is created (with its header) at the first :meth:`record`.

    Raises
    ------
    ValueError
        If the file exists but is not a fold log (its header is not
        :data:`FOLD_LOG_COLUMNS`), or a line of it cannot be read (the message
        names the line).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._done: dict[FoldKey, tuple[float, float]] = {}
        if self.path.exists() and self.path.stat().st_size > 0:
            with self.path.open(newline="") as handle:
                reader = csv.reader(handle)
                header = tuple(next(reader, ()))
                if header != FOLD_LOG_COLUMNS:
                    raise ValueError(f"{self.path} is not a fold log: its header is {list(header)}, "
                                     f"expected {list(FOLD_LOG_COLUMNS)}")
                for number, line in enumerate(reader, start=2):
                    try:
                        task, method, head, seed, fold, mae, seconds = line
                        self._done[(task, method, head, int(seed), int(fold))] = (float(mae), float(seconds))
                    except ValueError:
                        raise ValueError(f"{self.path}, line {number}: cannot read {line!r} "
                                         f"as {list(FOLD_LOG_COLUMNS)}") from None

    def __len__(self) -> int:
        return len(self._done)

    def get(self, key: FoldKey) -> tuple[float, float] | None:
        """``(mae, seconds)`` of a finished fold, or ``None`` if the log does not hold it."""
        return self._done.get(key)

    def record(self, key: FoldKey, mae: float, seconds: float) -> None:
        """Append one finished fold to the file (flushed at once) and remember it."""
        new = not self.path.exists() or self.path.stat().st_size == 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", newline="") as handle:
            writer = csv.writer(handle)
            if new:
                writer.writerow(FOLD_LOG_COLUMNS)
            writer.writerow([*key, repr(float(mae)), f"{seconds:.1f}"])
        self._done[key] = (float(mae), float(seconds))
