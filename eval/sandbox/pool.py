"""A pool of pre-started sandboxed interpreters ("zygotes") that fork one child per run: fast runs, same isolation.

A one-shot run pays for bwrap's namespace set-up and a fresh interpreter every time (about 15 ms of CPU). Here
each zygote is a long-lived bwrap sandbox (its own mount, network, PID, IPC and UTS namespaces, read-only host
view, seccomp filter) whose interpreter is already started; per run it forks a child that drops to a fresh random
uid with the run's rlimits and executes the program (eval/sandbox/zygote.py). One run at a time per zygote, so
the zygote's size-capped /tmp and /dev/shm are the run's alone; after each run the zygote kills what the run left
running, empties them and checks the IPC tables, and retires itself if anything is left. A zygote that dies or
retires is replaced by a new one. Needs root (bwrap without a user namespace, so each run can get its own uid);
elsewhere callers use the one-shot path.
"""

from __future__ import annotations

import atexit
import json
import os
import random
import selectors
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from eval.sandbox.isolation import (
    INSIDE_DIR,
    UID_RANGE,
    Probe,
    SandboxUnavailable,
    build_bwrap,
    check_file_names,
    sandbox_sys_path,
)
from eval.sandbox.limits import Limits, MiB
from eval.sandbox.result import SandboxResult
from eval.sandbox.runner import MAIN, Job, classify, cleanup, default_workers, kill, reap, start
from eval.sandbox.stderr_tail import StderrTail
from eval.spawner import spawner

ZYGOTE = Path(__file__).with_name("zygote.py")
BACKEND = "bwrap-zygote"
RUNS_PER_ZYGOTE = 2000  # then a fresh one: bounds PID numbers and anything slow to leak in a long-lived process
START_TIMEOUT = 30.0


class ZygoteDied(RuntimeError):
    """The zygote ended or stopped answering; the run's outcome is unknown."""


class Zygote:
    """One pre-started sandbox serving runs one at a time."""

    def __init__(self, found: Probe, scratch_mb: int):
        self.scratch_mb = scratch_mb
        self.runs = 0
        self.retired = False
        inside = f"{INSIDE_DIR}/{ZYGOTE.name}"
        self._launch = build_bwrap(found, Limits(scratch_mb=scratch_mb), {}, inside, binds={str(ZYGOTE): inside},
                                   args=[os.pathsep.join(sandbox_sys_path())], zygote=True)
        # bwrap's --die-with-parent follows the thread that starts it: start zygotes from the long-lived spawner.
        self.proc = spawner().submit(start, self._launch, None, True).result()
        assert self.proc.stdin is not None and self.proc.stdout is not None and self.proc.stderr is not None
        self._in, self._out = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        os.set_blocking(self._in, False)
        # The zygote's own diagnostics (a crash traceback); programs never write here.
        self._stderr_tail = StderrTail(self.proc.stderr.fileno(), 8192)
        self._buffer = bytearray()
        self._ready = False
        self._closed = False
        self._close_lock = threading.Lock()

    @property
    def alive(self) -> bool:
        return not self.retired and self.proc.poll() is None  # poll() reaps it if dead; close() still cleans up

    def _write(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        with selectors.DefaultSelector() as sel:
            sel.register(self._in, selectors.EVENT_WRITE)
            while view:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ZygoteDied("zygote stopped reading its requests")
                if not sel.select(timeout=remaining):
                    continue
                try:
                    view = view[os.write(self._in, view):]
                except BlockingIOError:
                    continue
                except OSError as exc:
                    raise ZygoteDied(f"zygote is gone ({exc})") from None

    def _read_frame(self, deadline: float) -> bytes:
        with selectors.DefaultSelector() as sel:
            sel.register(self._out, selectors.EVENT_READ)
            while True:
                if len(self._buffer) >= 4:
                    size = struct.unpack(">I", self._buffer[:4])[0]
                    if len(self._buffer) >= 4 + size:
                        body = bytes(self._buffer[4: 4 + size])
                        del self._buffer[: 4 + size]
                        return body
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ZygoteDied("zygote did not answer in time")
                if sel.select(timeout=remaining):
                    chunk = os.read(self._out, 1 << 20)
                    if not chunk:
                        raise ZygoteDied("zygote exited")
                    self._buffer += chunk

    def wait_ready(self) -> None:
        if not self._ready:
            if json.loads(self._read_frame(time.monotonic() + START_TIMEOUT)) != {"ready": True}:
                raise ZygoteDied("zygote sent an unexpected greeting")
            self._ready = True

    def run(self, files: dict[str, bytes], stdin: bytes, limits: Limits, uid: int) -> tuple[dict, bytes, bytes]:
        """Send one run; return the zygote's raw facts, stdout and stderr. Raises ZygoteDied."""
        self.wait_ready()
        names = [n for n in files if n != MAIN] + [MAIN]
        header = {
            "uid": uid, "main": MAIN, "files": names, "timeout": limits.timeout,
            "memory": limits.memory_mb * MiB, "cpu": limits.cpu_seconds, "nproc": limits.max_processes,
            "fsize": limits.scratch_mb * MiB, "nofile": limits.max_open_files,
            "max_output": limits.max_output, "max_stderr": limits.max_stderr,
        }
        payloads = [json.dumps(header).encode()] + [files[n] for n in names] + [stdin]
        # The zygote enforces the run's limits itself; this margin only covers a zygote starved of CPU.
        deadline = time.monotonic() + limits.timeout + max(10.0, limits.timeout)
        self._write(b"".join(struct.pack(">I", len(p)) + p for p in payloads), deadline)
        facts = json.loads(self._read_frame(deadline))
        out = self._read_frame(deadline)
        err = self._read_frame(deadline)
        self.runs += 1
        if facts["retire"] or self.runs >= RUNS_PER_ZYGOTE:
            self.retired = True
        return facts, out, err

    @property
    def stderr(self) -> str:
        return self._stderr_tail.text()

    def close(self) -> None:
        """Kill the zygote and everything in its namespaces, release its descriptors; idempotent, thread-safe."""
        self.retired = True
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        if self.proc.returncode is None:  # once reaped, its pid (and process group id) may belong to someone else
            kill(self.proc)
            reap(self.proc)
        cleanup(self._launch)
        self._stderr_tail.join(timeout=2)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


class ZygotePool:
    """Up to `size` zygotes, grouped by scratch size (a tmpfs size is fixed when its sandbox starts).

    Thread-safe: each run checks out an idle zygote (starting one if there is room), uses it alone, returns it.
    """

    def __init__(self, found: Probe, size: int | None = None):
        if not found.ok:
            raise SandboxUnavailable(f"cannot isolate untrusted code on this host: {found.reason}. Refusing to run it.")
        if not found.as_root:
            # Without root, bwrap maps us to one uid in a user namespace: runs forked from one zygote would share it
            # and could signal each other. eval.sandbox.run/run_many then give every run a sandbox of its own.
            raise SandboxUnavailable("the zygote pool needs root (a fresh uid per run); use run(..., pool=False)")
        self.found = found
        self.size = size or default_workers(2)
        self._idle: list[Zygote] = []
        self._live = 0  # idle + busy + being started
        self._cond = threading.Condition()
        self._uids: set[int] = set()
        self.started = 0  # zygotes started over the pool's life (tests and benchmarks read it)
        self.closed = False

    def grow(self, size: int) -> None:
        with self._cond:
            self.size = max(self.size, size)
            self._cond.notify_all()

    def _checkout(self, scratch_mb: int) -> Zygote:
        with self._cond:
            while True:
                if self.closed:
                    raise RuntimeError("sandbox pool is closed")
                for z in self._idle:
                    if z.scratch_mb == scratch_mb:
                        self._idle.remove(z)
                        if z.alive:
                            return z
                        self._live -= 1  # died while idle: replace it
                        self._discard(z)
                        break
                else:
                    if self._live < self.size:
                        self._live += 1
                        break
                    if self._idle:  # full, but an idle one of another size can make room
                        other = self._idle.pop(0)
                        self._live -= 1
                        self._discard(other)
                        continue
                    self._cond.wait()
                    continue
        try:
            zygote = Zygote(self.found, scratch_mb)
        except BaseException:
            with self._cond:
                self._live -= 1
                self._cond.notify()
            raise
        with self._cond:
            self.started += 1
        return zygote

    def _checkin(self, zygote: Zygote) -> None:
        with self._cond:
            if zygote.alive and not self.closed:
                self._idle.append(zygote)
            else:
                self._live -= 1
                self._discard(zygote)
            self._cond.notify()

    @staticmethod
    def _discard(zygote: Zygote) -> None:
        # Closing waits for the namespace to be gone; do it off the caller's path.
        threading.Thread(target=zygote.close, daemon=True).start()

    def _new_uid(self) -> int:
        with self._cond:
            while True:
                uid = random.randint(*UID_RANGE)
                if uid not in self._uids:
                    self._uids.add(uid)
                    return uid

    def run(
        self,
        program: str,
        stdin: bytes | str = b"",
        limits: Limits | None = None,
        files: dict[str, bytes | str] | None = None,
    ) -> SandboxResult:
        """Run one program in a pooled sandbox; same result and statuses as eval.sandbox.run."""
        limits = limits or Limits()
        limits.validate()
        check_file_names(files or {})
        data = {name: (v.encode() if isinstance(v, str) else bytes(v)) for name, v in (files or {}).items()}
        data[MAIN] = program.encode()
        stdin_bytes = stdin.encode() if isinstance(stdin, str) else bytes(stdin)
        uid = self._new_uid()
        started = time.monotonic()
        zygote = self._checkout(limits.scratch_mb)
        try:
            facts, out, err = zygote.run(data, stdin_bytes, limits, uid)
        except ZygoteDied as exc:
            zygote.close()
            detail = f"sandbox zygote failed: {exc}; {zygote.stderr[-500:]}"
            return SandboxResult("sandbox_error", None, None, "", detail, round(time.monotonic() - started, 4), None,
                                 backend=BACKEND)
        finally:
            self._checkin(zygote)
            with self._cond:
                self._uids.discard(uid)
        stderr = err.decode("utf-8", errors="replace")
        if facts["setup_failed"]:
            return SandboxResult("sandbox_error", None, None, "", stderr, round(facts["wall"], 4), None,
                                 backend=BACKEND)
        status, exit_code, sig = classify(facts["code"], facts["cpu"], stderr, limits, facts["timed_out"],
                                          facts["over"], BACKEND)
        return SandboxResult(
            status=status,  # type: ignore[arg-type]
            exit_code=exit_code,
            signal=sig,
            stdout=out.decode("utf-8", errors="replace"),
            stderr=stderr,
            wall_time=round(facts["wall"], 4),
            cpu_time=round(facts["cpu"], 4),
            stdout_truncated=facts["out_trunc"],
            stderr_truncated=facts["err_trunc"],
            isolated=True,
            backend=BACKEND,
        )

    def run_many(self, jobs: list[Job], workers: int | None = None) -> list[SandboxResult]:
        """Run jobs concurrently, `workers` at a time (default: the pool size); results in input order."""
        workers = workers or self.size
        self.grow(workers)
        with ThreadPoolExecutor(max_workers=workers) as threads:
            return list(threads.map(lambda j: self.run(j.program, j.stdin, j.limits, j.files), jobs))

    def close(self) -> None:
        """Stop every idle zygote; busy ones stop when their run returns."""
        with self._cond:
            self.closed = True
            idle, self._idle = self._idle, []
            self._live -= len(idle)
            self._cond.notify_all()
        for z in idle:
            z.close()

    def __enter__(self) -> ZygotePool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_shared: ZygotePool | None = None
_shared_lock = threading.Lock()


def shared_pool(found: Probe) -> ZygotePool:
    """The process-wide pool behind eval.sandbox.run / run_many (started on first use, stopped at exit)."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.closed:
            _shared = ZygotePool(found)
        return _shared


def close_shared_pool() -> None:
    global _shared
    with _shared_lock:
        pool, _shared = _shared, None
    if pool is not None:
        pool.close()


def _forget_in_child() -> None:
    # A forked copy of this process shares the parent's pipes to its zygotes: it must start its own.
    global _shared, _shared_lock
    _shared, _shared_lock = None, threading.Lock()


atexit.register(close_shared_pool)
os.register_at_fork(after_in_child=_forget_in_child)
