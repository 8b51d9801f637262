"""Thread count for small forward passes and for the evaluation head.

A forward pass over a few compositions is too small to split across
threads: the threads' start-up and synchronisation dominate, and on a busy
CPU a multi-threaded single-row call waits for cores that other work holds
(0.5 s against 4 ms on one thread, measured on two busy cores). Small
batches therefore run on one thread; large ones keep torch's setting.
The same holds for training the evaluation head (batches of 256 rows,
256-wide layers): :func:`one_thread` runs it on one thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

#: Largest number of compositions encoded on a single thread.
SINGLE_THREAD_MAX_ROWS = 64


@contextmanager
def threads_for(n_rows: int, device: torch.device) -> Iterator[None]:
    """Run the enclosed CPU work on one torch thread when ``n_rows`` is small.

    The previous thread count is restored on exit, also after an error.
    Work on other devices is left alone.
    """
    previous = torch.get_num_threads()
    single = device.type == "cpu" and n_rows <= SINGLE_THREAD_MAX_ROWS and previous > 1
    if single:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if single:
            torch.set_num_threads(previous)


@contextmanager
def one_thread(device: torch.device) -> Iterator[None]:
    """Run the enclosed CPU work on one torch thread, then restore the previous count.

    For training the evaluation head: its matrices are too small to gain from more threads,
    and on a CPU shared with other work spinning threads made a head fit 25x slower
    (measured: 21 s on one thread, 552 s on two, with the 2 cores busy elsewhere).
    Work on other devices is left alone.
    """
    with threads_for(0, device):
        yield
