"""Run one untrusted Python program in the sandbox and report what happened; run many concurrently.

By default both go through the zygote pool (eval/sandbox/pool.py); the one-shot path here starts a sandbox of
its own per run (and is what the pool falls back to where it cannot work).
"""

from __future__ import annotations

import json
import os
import select
import selectors
import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from eval.sandbox.isolation import (
    SCRATCH,
    Launch,
    SandboxUnavailable,
    build_bwrap,
    build_unisolated,
    probe,
    unisolated_allowed,
    warn_unisolated,
)
from eval.sandbox.limits import Limits
from eval.sandbox.result import SandboxResult

MAIN = "main.py"


@dataclass
class Job:
    """One program to run: source text, stdin, limits and extra files for the scratch directory."""

    program: str
    stdin: bytes | str = b""
    limits: Limits = field(default_factory=Limits)
    files: dict[str, bytes | str] = field(default_factory=dict)


def prepare(
    files: dict[str, bytes | str],
    target: str,
    limits: Limits,
    allow_unisolated: bool | None = None,
    binds: dict[str, str] | None = None,
    args: list[str] | None = None,
) -> Launch:
    """Pick the backend (isolated unless impossible and opted out) and build its command."""
    limits.validate()
    data = {name: (v.encode() if isinstance(v, str) else bytes(v)) for name, v in files.items()}
    found = probe()
    if found.ok:
        return build_bwrap(found, limits, data, target, binds=binds, args=args)
    if not unisolated_allowed(allow_unisolated):
        raise SandboxUnavailable(
            f"cannot isolate untrusted code on this host: {found.reason}. Refusing to run it. "
            "Pass allow_unisolated=True (CLI: --allow-unisolated, env DISTILLERY_SANDBOX_ALLOW_UNISOLATED=1) "
            "to run it anyway without isolation."
        )
    warn_unisolated()
    return build_unisolated(limits, data, target, binds=binds, args=args)


def start(launch: Launch, stdin_fd: int | None = None, stdin_pipe: bool = False) -> subprocess.Popen:
    """Popen the launch in its own process group; the caller owns the process from here."""
    try:
        return subprocess.Popen(
            launch.argv,
            stdin=subprocess.PIPE if stdin_pipe else (stdin_fd if stdin_fd is not None else subprocess.DEVNULL),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=launch.pass_fds,
            cwd=launch.cwd,
            env=launch.env if launch.env is not None else {},
            start_new_session=True,
        )
    finally:
        for fd in launch.close_fds:
            os.close(fd)
        launch.close_fds = []


def kill(proc: subprocess.Popen) -> None:
    """Kill the whole process group. For bwrap, killing it also takes down its PID namespace (die-with-parent)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def wait_exited(proc: subprocess.Popen, deadline: float) -> bool:
    """Wait until the process has exited, without reaping it (so wait4 can still collect its CPU time).

    A pidfd becomes readable at exit, so we wake up exactly then instead of polling with sleeps.
    """
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        pidfd = None
    try:
        while True:
            try:
                if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                    return True
            except ChildProcessError:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if pidfd is not None:
                select.select([pidfd], [], [], remaining)
            else:
                time.sleep(min(0.002, remaining))
    finally:
        if pidfd is not None:
            os.close(pidfd)


def reap(proc: subprocess.Popen) -> tuple[int, float]:
    """Wait for the process; return (raw status code like Popen.returncode, CPU seconds of it and its reaped
    descendants). wait4 gives the CPU time that Popen.wait would throw away."""
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except ChildProcessError:
        proc.wait()
        return proc.returncode, 0.0
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    return code, usage.ru_utime + usage.ru_stime


def _wait_namespace_gone(info_fd: int, timeout: float = 5.0) -> None:
    """bwrap can exit a moment before the sandbox's PID-namespace init has finished killing everything in it.
    Wait for that init (its host pid is in bwrap's --info-fd JSON): when it is gone, so is every process of the
    run, so callers really get "no process left behind" when run() returns."""
    os.set_blocking(info_fd, False)
    try:
        info = json.loads(os.read(info_fd, 4096) or b"{}")
        pidfd = os.pidfd_open(int(info["child-pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return  # never started, or already gone
    try:
        select.select([pidfd], [], [], timeout)
    finally:
        os.close(pidfd)


def cleanup(launch: Launch) -> float | None:
    """Remove temp dirs; return the CPU seconds the launcher reported (None if it died before reporting)."""
    for fd in launch.close_fds:
        os.close(fd)
    launch.close_fds = []
    for path in launch.cleanup:
        shutil.rmtree(path, ignore_errors=True)
    if launch.info_fd is not None:
        _wait_namespace_gone(launch.info_fd)
        os.close(launch.info_fd)
        launch.info_fd = None
    cpu = None
    if launch.report_fd is not None:
        os.set_blocking(launch.report_fd, False)
        try:
            text = os.read(launch.report_fd, 4096).decode(errors="replace").split()
            cpu = float(text[-1]) if text else None
        except (OSError, ValueError):
            cpu = None
        os.close(launch.report_fd)
        launch.report_fd = None
    return cpu


def classify(
    code: int,
    cpu_time: float,
    stderr: str,
    limits: Limits,
    timed_out: bool,
    over_output: bool,
    backend: str,
) -> tuple[str, int | None, int | None]:
    """(status, exit_code, signal) from the raw facts."""
    sig: int | None = None
    exit_code: int | None = code
    if code < 0:
        sig, exit_code = -code, None
    elif backend == "bwrap" and code > 128 and code - 128 < 65:
        # bwrap reports a child killed by signal N as exit status 128+N.
        sig, exit_code = code - 128, None
    if over_output:
        return "output_limit", exit_code, sig
    if timed_out:
        return "timeout", exit_code, sig
    if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_time >= limits.cpu_seconds - 0.05):
        return "timeout", exit_code, sig
    if sig == signal.SIGXFSZ:
        return "output_limit", exit_code, sig
    tail = stderr.rstrip().splitlines()[-1:] if stderr else []
    if exit_code not in (None, 0) and tail and tail[0].startswith("MemoryError"):
        return "memory", exit_code, sig
    if sig is not None:
        return "killed", exit_code, sig
    if exit_code == 0:
        return "ok", exit_code, sig
    return "runtime_error", exit_code, sig


def _stdin_fd(data: bytes) -> int | None:
    if not data:
        return None
    # A memfd as stdin: the program reads at its own pace and we never block writing a large input.
    fd = os.memfd_create("stdin", 0)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def run(
    program: str | None = None,
    *,
    path: str | Path | None = None,
    stdin: bytes | str = b"",
    limits: Limits | None = None,
    files: dict[str, bytes | str] | None = None,
    allow_unisolated: bool | None = None,
    pool: bool = True,
) -> SandboxResult:
    """Run a Python program (source text, or a file via `path`) isolated; never raises for program faults.

    By default the run is forked from a pre-started sandbox of the process-wide pool (eval/sandbox/pool.py); with
    `pool=False`, or where the pool cannot work (not root), it gets a sandbox of its own started for it.
    Raises SandboxUnavailable when the host cannot isolate and `allow_unisolated` is not set.
    """
    if (program is None) == (path is None):
        raise ValueError("give exactly one of program= or path=")
    if path is not None:
        program = Path(path).read_text(encoding="utf-8")
    assert program is not None
    limits = limits or Limits()
    found = probe()
    if pool and found.ok and found.as_root:
        # Imported here: pool.py builds on this module.
        from eval.sandbox.pool import shared_pool

        return shared_pool(found).run(program, stdin=stdin, limits=limits, files=files)
    all_files = dict(files or {})
    all_files[MAIN] = program
    launch = prepare(all_files, f"{SCRATCH}/{MAIN}", limits, allow_unisolated)
    stdin_bytes = stdin.encode() if isinstance(stdin, str) else stdin
    in_fd = _stdin_fd(stdin_bytes)
    started = time.monotonic()
    try:
        proc = start(launch, stdin_fd=in_fd)
    except OSError as exc:
        cleanup(launch)  # closes our fds
        return SandboxResult("sandbox_error", None, None, "", f"could not start the sandbox: {exc}", 0.0, 0.0,
                             isolated=launch.isolated, backend=launch.backend)
    finally:
        if in_fd is not None:
            os.close(in_fd)
    try:
        out, err, out_trunc, err_trunc, timed_out, over = _pump(proc, limits, started + limits.timeout)
    finally:
        # The leader is not reaped yet, so its process group id cannot have been reused: safe to kill.
        kill(proc)
        code, waited_cpu = reap(proc)
        reported_cpu = cleanup(launch)
    # The launcher's own figure covers the program and its children. If it was killed first we only know it
    # unisolated (wait4 on the launcher itself); under bwrap wait4 sees bwrap, not the program: say "unknown".
    cpu = reported_cpu if reported_cpu is not None else (waited_cpu if launch.backend == "unisolated" else None)
    wall = time.monotonic() - started
    stderr = err.decode("utf-8", errors="replace")
    status, exit_code, sig = classify(code, cpu or 0.0, stderr, limits, timed_out, over, launch.backend)
    return SandboxResult(
        status=status,  # type: ignore[arg-type]
        exit_code=exit_code,
        signal=sig,
        stdout=out.decode("utf-8", errors="replace"),
        stderr=stderr,
        wall_time=round(wall, 4),
        cpu_time=round(cpu, 4) if cpu is not None else None,
        stdout_truncated=out_trunc,
        stderr_truncated=err_trunc,
        isolated=launch.isolated,
        backend=launch.backend,
    )


def _pump(proc: subprocess.Popen, limits: Limits, deadline: float):
    """Read stdout/stderr until both close or a limit trips; kill on timeout or stdout overflow."""
    assert proc.stdout is not None and proc.stderr is not None
    out, err = bytearray(), bytearray()
    out_trunc = err_trunc = timed_out = over = False
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, "out")
    sel.register(proc.stderr, selectors.EVENT_READ, "err")
    open_streams = 2
    try:
        while open_streams:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                kill(proc)
                break
            for key, _ in sel.select(timeout=min(remaining, 1.0)):
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    sel.unregister(key.fileobj)
                    open_streams -= 1
                    continue
                if key.data == "out":
                    room = limits.max_output - len(out)
                    if len(chunk) > room:
                        out += chunk[:room]
                        out_trunc = over = True
                    else:
                        out += chunk
                else:
                    room = limits.max_stderr - len(err)
                    if len(chunk) > room:
                        err += chunk[: max(room, 0)]
                        err_trunc = True
                    else:
                        err += chunk
            if over:
                kill(proc)
                break
        if not timed_out and not over and not wait_exited(proc, deadline):
            timed_out = True
            kill(proc)
    finally:
        sel.close()
        proc.stdout.close()
        proc.stderr.close()
    return bytes(out), bytes(err), out_trunc, err_trunc, timed_out, over


def default_workers(per_cpu: int = 1) -> int:
    """`per_cpu` workers per CPU this process may use."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return max(1, cpus * per_cpu)


# A sandboxed run spends part of its life waiting on namespace set-up and tear-down rather than computing, so two
# runs per CPU keep the CPUs busy (measured: about 1.7x the throughput of one per CPU on 2 cores). Graders that
# time programs (LiveCodeBench) use one per CPU instead, so that programs do not slow each other into timeouts.
RUNS_PER_CPU = 2


def run_many(
    jobs: list[Job],
    workers: int | None = None,
    allow_unisolated: bool | None = None,
    pool: bool = True,
) -> list[SandboxResult]:
    """Run jobs concurrently, `workers` at a time; results in input order.

    By default on the process-wide zygote pool (grown to `workers` sandboxes); with `pool=False` each job gets a
    sandbox of its own. Default concurrency: RUNS_PER_CPU per CPU. For timing-sensitive work pass
    workers=default_workers().
    """
    if not jobs:
        return []
    probe_result = probe()
    if not probe_result.ok and not unisolated_allowed(allow_unisolated):
        # Fail once, up front, instead of once per job.
        prepare({}, "", Limits(), allow_unisolated)
    workers = workers or default_workers(RUNS_PER_CPU)
    if pool and probe_result.ok and probe_result.as_root:
        from eval.sandbox.pool import shared_pool

        return shared_pool(probe_result).run_many(jobs, workers=workers)

    def one(job: Job) -> SandboxResult:
        return run(job.program, stdin=job.stdin, limits=job.limits, files=job.files, allow_unisolated=allow_unisolated,
                   pool=False)

    with ThreadPoolExecutor(max_workers=workers) as threads:
        return list(threads.map(one, jobs))
