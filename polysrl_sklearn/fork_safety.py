"""Keep forked worker processes from hanging in torch's CPU thread pool.

matminer parallelises with ``multiprocessing`` pools, which fork on Linux.
Once torch has run an operation on several threads, its OpenMP thread pool
is in a state that a forked child cannot use: the child's first parallel
torch operation waits forever on a lock held by a thread that no longer
exists. A forked child therefore switches torch to a single thread right
after the fork, before it can reach a parallel region. The parallel speed
comes from the pool's processes, so one thread per worker loses nothing.
"""

from __future__ import annotations

import os
import sys

_registered = False


def single_thread_torch_in_child() -> None:
    """Fork hook: make torch single-threaded in the child, if the parent imported torch.

    A process that never imported torch has no thread pool to inherit, and
    its children are left alone (importing torch there would only cost time).
    """
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "set_num_threads"):
        torch.set_num_threads(1)


def register_fork_handler() -> None:
    """Install :func:`single_thread_torch_in_child` once per process.

    A no-op on platforms without ``os.register_at_fork`` (Windows, which
    spawns rather than forks).
    """
    global _registered
    if _registered or not hasattr(os, "register_at_fork"):
        return
    os.register_at_fork(after_in_child=single_thread_torch_in_child)
    _registered = True
