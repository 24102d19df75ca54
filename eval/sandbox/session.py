"""Stateful code-interpreter sessions: successive cells share one namespace, each cell with its own time limit.

This is what OpenMathInstruct-style generation needs: the model writes a code block, we run it and feed the
output back, and the next block may use variables from the earlier ones. The interpreter stays alive between
cells (fast); if a cell kills it (wall-clock timeout, crash, memory), the next cell starts a fresh interpreter
and first re-runs the earlier successful cells silently, as OpenMathInstruct-1's pipeline did, so state survives.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eval.sandbox.limits import Limits
from eval.sandbox.worker import SandboxWorker, WorkerDied

DRIVER = Path(__file__).with_name("session_driver.py")


@dataclass
class CellResult:
    """Outcome of one cell: status as in SandboxResult (ok, runtime_error, timeout, memory, output_limit, killed)."""

    status: str
    stdout: str
    stderr: str
    wall_time: float
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    restarted: bool = False  # the interpreter was restarted (earlier cells replayed) before this cell ran

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Session:
    """A sandboxed interpreter whose cells share state. Use as a context manager, or call close().

    `limits` bound the whole interpreter (memory, processes, scratch); `cell_timeout` is each cell's wall-clock
    limit and also its CPU limit; `max_cell_output` caps what one cell's stdout/stderr returns (characters).
    """

    def __init__(
        self,
        limits: Limits | None = None,
        cell_timeout: float = 10.0,
        max_cell_output: int = 100_000,
        session_cpu: float = 3600.0,
        allow_unisolated: bool | None = None,
    ):
        # The process-wide CPU rlimit is the whole session's budget; each cell gets its own soft limit inside.
        self.limits = (limits or Limits()).with_(cpu=session_cpu)
        self.cell_timeout = cell_timeout
        self.max_cell_output = max_cell_output
        self.allow_unisolated = allow_unisolated
        self.history: list[str] = []  # cells that ran cleanly, replayed after a restart
        self.restarts = 0
        self._worker: SandboxWorker | None = None

    def _start(self) -> SandboxWorker:
        worker = SandboxWorker(DRIVER, self.limits, allow_unisolated=self.allow_unisolated,
                               max_reply=4 * self.max_cell_output + 4096)
        worker.wait_ready(timeout=30.0)
        return worker

    def _ask(self, code: str, timeout: float) -> dict[str, Any]:
        assert self._worker is not None
        return self._worker.request({"code": code, "cpu": timeout, "max_output": self.max_cell_output},
                                    timeout=timeout + 1.0)

    def run_cell(self, code: str, timeout: float | None = None) -> CellResult:
        """Execute one cell; a trailing expression's value is printed, as in a notebook."""
        timeout = timeout or self.cell_timeout
        restarted = False
        if self._worker is None or self._worker.dead is not None:
            restarted = self._worker is not None
            self._worker = self._start()
            if restarted:
                self.restarts += 1
                for old in self.history:
                    try:
                        self._ask(old, self.cell_timeout)
                    except WorkerDied as exc:
                        return CellResult(exc.status, "", f"restoring session state failed: {exc.detail}", 0.0,
                                          restarted=True)
        started = time.monotonic()
        try:
            reply = self._ask(code, timeout)
        except WorkerDied as exc:
            stderr = "TimeoutError: cell exceeded its time limit\n" if exc.status == "timeout" else exc.detail
            return CellResult(exc.status, "", stderr, round(time.monotonic() - started, 4), restarted=restarted)
        if reply["status"] == "ok":
            self.history.append(code)
        return CellResult(reply["status"], reply["stdout"], reply["stderr"], reply["wall_time"],
                          reply["stdout_truncated"], reply["stderr_truncated"], restarted)

    @property
    def isolated(self) -> bool:
        return self._worker.isolated if self._worker is not None else True

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
