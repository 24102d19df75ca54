"""The local engine: a stage function over a batch, split across worker processes (or run inline with 1 worker).

Workers are spawned (not forked: the build holds threads), get PR_SET_PDEATHSIG so a SIGKILLed build leaves none
behind, and receive contiguous slices so the output keeps the input order.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from data_prep.reject import Reject

StageFn = Callable[[list[dict[str, Any]], Any], tuple[list[dict[str, Any]], list[Reject]]]


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it then stops the pool


class LocalEngine:
    name = "local"

    def __init__(self, workers: int = 1):
        self.workers = max(1, workers)
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_die_with_parent)
        return self._pool

    def map(self, fn: StageFn, rows: list[dict[str, Any]], cfg: Any, min_rows: int = 64
            ) -> tuple[list[dict[str, Any]], list[Reject]]:
        """`fn` over `rows` (slices in parallel when there are enough rows), outputs concatenated in order."""
        if self.workers == 1 or len(rows) < min_rows:
            return fn(rows, cfg)
        step = -(-len(rows) // self.workers)
        slices = [rows[i:i + step] for i in range(0, len(rows), step)]
        kept: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        for k, r in self._executor().map(fn, slices, [cfg] * len(slices)):
            kept += k
            rejects += r
        return kept, rejects

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
