"""A long-lived sandboxed process that answers requests: the base of sessions and of test harnesses.

The driver script inside speaks length-prefixed JSON on its stdin/stdout (4-byte big-endian length, then UTF-8
JSON). Every request has its own deadline; a driver that misses it, dies, or floods its output is killed and
the worker is marked dead, with the reason as a sandbox status.
"""

from __future__ import annotations

import json
import os
import selectors
import struct
import time
from pathlib import Path
from typing import Any

from eval.sandbox.isolation import INSIDE_DIR
from eval.sandbox.limits import Limits
from eval.sandbox.runner import classify, cleanup, kill, prepare, reap, start, wait_exited
from eval.sandbox.stderr_tail import StderrTail


class WorkerDied(RuntimeError):
    """The worker ended (or was killed) instead of answering; `status` says why, like SandboxResult.status."""

    def __init__(self, status: str, detail: str):
        super().__init__(f"sandbox worker {status}: {detail}")
        self.status = status
        self.detail = detail


class SandboxWorker:
    """Start `driver` (a stdlib-only script) in the sandbox and exchange JSON messages with it."""

    def __init__(
        self,
        driver: str | Path,
        limits: Limits,
        files: dict[str, bytes | str] | None = None,
        allow_unisolated: bool | None = None,
        max_reply: int | None = None,
    ):
        driver = Path(driver)
        inside = f"{INSIDE_DIR}/{driver.name}"
        self.limits = limits
        self.max_reply = max_reply or (limits.max_output + limits.max_stderr + (1 << 20))
        self._launch = prepare(dict(files or {}), inside, limits, allow_unisolated, binds={str(driver): inside})
        self.isolated = self._launch.isolated
        self.backend = self._launch.backend
        self.proc = start(self._launch, stdin_pipe=True)
        # The driver routes stray output to stderr.
        self._stderr_tail = StderrTail(self.proc.stderr.fileno(), limits.max_stderr)
        self._buffer = bytearray()
        self.dead: WorkerDied | None = None
        self.cpu_time: float | None = None

    @property
    def stderr(self) -> str:
        return self._stderr_tail.text()

    def wait_ready(self, timeout: float) -> dict[str, Any]:
        """Read the driver's first, unsolicited message (it says it is ready)."""
        return self._read_reply(time.monotonic() + timeout)

    def request(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one message and wait up to `timeout` seconds for the reply; raise WorkerDied otherwise."""
        if self.dead is not None:
            raise self.dead
        assert self.proc.stdin is not None and self.proc.stdout is not None
        payload = json.dumps(message).encode()
        deadline = time.monotonic() + timeout
        self._write(struct.pack(">I", len(payload)) + payload, deadline)
        return self._read_reply(deadline)

    def _write(self, data: bytes, deadline: float) -> None:
        # Non-blocking with the request's deadline: a driver that stops reading (stopped, hung) must not hang us.
        assert self.proc.stdin is not None
        fd = self.proc.stdin.fileno()
        os.set_blocking(fd, False)
        view = memoryview(data)
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_WRITE)
            while view:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._die(timed_out=True, over=False)
                if not sel.select(timeout=remaining):
                    continue
                try:
                    view = view[os.write(fd, view):]
                except BlockingIOError:
                    continue
                except OSError:
                    self._die(timed_out=False, over=False)

    def _read_reply(self, deadline: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while True:
                if len(self._buffer) >= 4:
                    size = struct.unpack(">I", self._buffer[:4])[0]
                    if size > self.max_reply:
                        self._die(timed_out=False, over=True)
                    if len(self._buffer) >= 4 + size:
                        body = bytes(self._buffer[4: 4 + size])
                        del self._buffer[: 4 + size]
                        return json.loads(body)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._die(timed_out=True, over=False)
                if sel.select(timeout=remaining):
                    chunk = os.read(fd, 1 << 20)
                    if not chunk:
                        self._die(timed_out=False, over=False)
                    self._buffer += chunk

    def _die(self, timed_out: bool, over: bool) -> None:
        if not timed_out and not over:
            wait_exited(self.proc, time.monotonic() + 2.0)
        self.close()
        status, code, sig = classify(self.proc.returncode if self.proc.returncode is not None else -9,
                                     self.cpu_time or 0.0, self.stderr, self.limits, timed_out, over, self.backend)
        if status == "ok":  # it exited cleanly but mid-conversation: for the caller that is a crash
            status = "runtime_error"
        self.dead = WorkerDied(status, f"exit code {code}, signal {sig}; stderr tail: {self.stderr[-500:]!r}")
        raise self.dead

    def close(self) -> None:
        """Kill the worker and everything it started; idempotent."""
        if self.proc.returncode is None:
            for stream in (self.proc.stdin,):
                try:
                    if stream is not None:
                        stream.close()
                except OSError:
                    pass
            kill(self.proc)
            _, waited = reap(self.proc)
            reported = cleanup(self._launch)
            self.cpu_time = reported if reported is not None else waited
            self._stderr_tail.join(timeout=2)
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    stream.close()
        if self.dead is None:
            self.dead = WorkerDied("killed", "worker was closed")

    def __enter__(self) -> SandboxWorker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
