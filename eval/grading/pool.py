"""Grader worker processes with a hard per-item deadline: whatever reaches sympy runs here, never in the caller.

math-verify's own timeouts use SIGALRM (main thread only, and they cannot interrupt sympy while it is inside C
code), and an input such as `9^{9^{9^{9^{9}}}}` would otherwise hang the caller. A worker that overruns its
item's deadline is killed and replaced, and the item is marked "timeout".

Hand-written rather than concurrent.futures / multiprocessing.Pool because neither can kill one hung task and
carry on. Workers are fresh interpreters (subprocess, not fork) so a caller holding threads (torch) or an
unguarded `__main__` script is safe; they get a parent-death signal so a SIGKILLed caller leaves none behind.
"""

from __future__ import annotations

import atexit
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from multiprocessing.connection import Connection, wait

from eval.spawner import spawner

# A job: (index, kind, args...). Kinds: "mv" (math-verify), "eq" (the second grader's sympy comparison).
Job = tuple
Result = tuple[bool, str]


def _run_job(kind: str, args: tuple) -> Result:
    if kind == "mv":
        from eval.grading.verify import verify_forms

        return verify_forms(*args)
    if kind == "eq":
        from eval.grading.math_equal import symbolic_equal

        return symbolic_equal(*args)
    raise ValueError(f"unknown grader job kind {kind!r}")


def serve(fd: int) -> None:
    """Worker loop (run in a child process): grade jobs arriving on socket `fd` until it closes."""
    # Timeouts are the parent's job (it kills this process); silence math-verify's "timeout disabled" warning.
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    # Warm both graders so start-up never counts against an item's deadline.
    _run_job("mv", ("\\frac{1}{2}", "0.5", "\\frac{1}{2}", "0.5"))
    _run_job("eq", ("\\sqrt{2}x", "x\\sqrt{2}"))
    conn = Connection(fd)
    conn.send("ready")
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        idx, kind, *args = job
        try:
            ok, reason = _run_job(kind, tuple(args))
        except RecursionError:
            ok, reason = False, "parse error: too deeply nested"
        except Exception as exc:  # a grader bug must cost one item, not the batch
            ok, reason = False, f"grader error: {type(exc).__name__}"
        conn.send((idx, ok, reason))


def _child_env() -> dict[str, str]:
    # The child must import this package even when it is not installed (tests, a checkout on PYTHONPATH).
    paths = [p or os.getcwd() for p in sys.path]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the parent dies (prctl PR_SET_PDEATHSIG), so none is orphaned."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class _Worker:
    """One grader child process. States: starting (until it says ready), idle, busy with `job`."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        # The parent-death signal follows the thread that forks: start workers from the long-lived spawner thread.
        self.proc = spawner().submit(
            subprocess.Popen,
            [sys.executable, "-c", "import sys; from eval.grading.pool import serve; serve(int(sys.argv[1]))",
             str(theirs.fileno())],
            pass_fds=(theirs.fileno(),), env=_child_env(), stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        ).result()
        theirs.close()
        self.conn = Connection(ours.detach())
        self.ready = False
        self.started = time.monotonic()
        self.job: tuple[int, float] | None = None  # (index, deadline)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.conn.close()


class GraderPool:
    """Worker processes that grade one item at a time; an item past its deadline gets its worker killed."""

    START_TIMEOUT_S = 120.0

    def __init__(self, workers: int) -> None:
        self.size = workers
        self._workers = [_Worker() for _ in range(workers)]

    def run(self, jobs: Sequence[Job], timeout_s: float) -> dict[int, Result]:
        """Grade (index, kind, *args) jobs; returns {index: (correct, reason)}."""
        pending = deque(jobs)
        results: dict[int, Result] = {}
        while pending or any(w.job for w in self._workers):
            for w in self._workers:
                if w.ready and w.job is None and pending:
                    job = pending.popleft()
                    w.job = (job[0], time.monotonic() + timeout_s)
                    w.conn.send(job)
            watched = [w for w in self._workers if w.job or not w.ready]
            deadlines = [w.job[1] if w.job else w.started + self.START_TIMEOUT_S for w in watched]
            ready = wait([w.conn for w in watched], timeout=max(0.0, min(deadlines) - time.monotonic()))
            for i, w in enumerate(self._workers):
                if w.conn in ready:
                    try:
                        msg = w.conn.recv()
                    except (EOFError, OSError):
                        msg = None
                    if msg == "ready":
                        w.ready = True
                        continue
                    if msg is not None and w.job is not None:
                        idx, ok, reason = msg
                        results[idx] = (ok, reason)
                        w.job = None
                        continue
                    if w.job is None:
                        raise RuntimeError(f"math grader worker exited during start-up (code {w.proc.poll()})")
                    results[w.job[0]] = (False, "grader crashed")
                elif w.job is not None and time.monotonic() >= w.job[1]:
                    results[w.job[0]] = (False, "timeout")
                elif not w.ready and time.monotonic() >= w.started + self.START_TIMEOUT_S:
                    raise RuntimeError(f"math grader worker did not start within {self.START_TIMEOUT_S:.0f} s")
                else:
                    continue
                w.kill()
                self._workers[i] = _Worker()
        return results

    def close(self) -> None:
        for w in self._workers:
            try:
                w.conn.send(None)
            except OSError:
                pass
            try:
                w.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                w.proc.kill()
                w.proc.wait()
            w.conn.close()
        self._workers = []


_POOL: GraderPool | None = None
_POOL_LOCK = threading.Lock()


def default_workers() -> int:
    """One grader process per CPU this process may use."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def run_jobs(jobs: Sequence[Job], timeout_s: float, workers: int | None = None) -> dict[int, Result]:
    """Run jobs on the process-wide pool (started on first use, resized when `workers` changes)."""
    global _POOL
    if not jobs:
        return {}
    size = workers or default_workers()
    with _POOL_LOCK:
        if _POOL is None or _POOL.size != size:
            if _POOL is not None:
                _POOL.close()
            _POOL = GraderPool(size)
        return _POOL.run(jobs, timeout_s)


@atexit.register
def close_pool() -> None:
    """Stop the process-wide pool's workers."""
    global _POOL
    if _POOL is not None:
        _POOL.close()
        _POOL = None
