"""Runs INSIDE the sandbox: a pre-started interpreter that forks one child per run (the "zygote" of eval.sandbox.pool).

Started by bwrap as `python -I -S /.sandbox/zygote.py SYS_PATH`, as uid 0 holding only CAP_SETUID/CAP_SETGID, under
the same namespaces, read-only mounts and seccomp filter as a one-shot run. It never runs untrusted code itself.
Per request it forks a child that takes a new session, its own stdin/stdout/stderr, the run's rlimits and a fresh
unprivileged uid chosen by the host (so runs cannot signal, ptrace or read each other, and giving up uid 0 drops
both capabilities), then executes the program as __main__ in that already-warm interpreter instead of exec'ing a
new one (that start-up is most of the cost of a run). The child ends with the parts of interpreter shutdown a
program can observe (non-daemon threads joined, atexit run, its objects released, streams flushed), see finish().

Everything a run can leave behind is removed or checked after it, before the next run: processes of its uid are
killed, /tmp and /dev/shm are emptied, and the SysV IPC and POSIX message-queue tables must be empty. If any check
fails the zygote says "retire" and exits; the host starts a fresh one. Memory state cannot leak: each run is a
fresh fork of the zygote, which itself never executes program code. (What runs of one zygote do share is the
interpreter's str-hash seed, so set iteration order repeats between them; it carries no data from run to run.)

Protocol (stdin/stdout of this process, moved to private descriptors): frames of a 4-byte big-endian length and a
payload. Host → zygote: a JSON header {uid, files: [names], limits...} followed by one frame per file and one for
stdin. Zygote → host: a JSON header with the raw facts, then a stdout frame and a stderr frame.
Standard library only.
"""

import builtins
import gc
import io
import json
import os
import resource
import select
import shutil
import struct
import sys
import time
import traceback

SCRATCH = "/tmp"
SHM = "/dev/shm"
MQUEUE = "/dev/mqueue"
SETUP_FAILED = 125  # exit code of a child whose isolation set-up failed (the program never ran)
# Modules most competition-style programs import; importing them here once makes them free in every run.
PRELOAD = ("collections", "heapq", "bisect", "math", "itertools", "functools", "re", "string", "typing",
           "fractions", "decimal", "random", "copy", "operator", "array", "statistics", "dataclasses")


def read_exact(fd, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def read_frame(fd):
    head = read_exact(fd, 4)
    if head is None:
        return None
    size = struct.unpack(">I", head)[0]
    return read_exact(fd, size) if size else b""


def write_frames(fd, *payloads):
    data = memoryview(b"".join(struct.pack(">I", len(p)) + p for p in payloads))
    while data:
        data = data[os.write(fd, data):]


def _std(fd, mode, errors, line_buffering):
    # The same objects CPython's start-up builds for non-tty standard streams with PYTHONIOENCODING=utf-8.
    raw = io.FileIO(fd, mode, closefd=False)
    buffered = io.BufferedReader(raw) if mode == "r" else io.BufferedWriter(raw)
    return io.TextIOWrapper(buffered, encoding="utf-8", errors=errors, newline="\n", line_buffering=line_buffering)


def _limit(name, n, hard_extra=0):
    if n >= 0:
        resource.setrlimit(getattr(resource, "RLIMIT_" + name), (n, n + hard_extra))


def child(req, stdin_fd, out_w, err_w, sys_path):
    """In the forked child: isolate, then run the program; never returns."""
    try:
        os.setsid()
        os.dup2(stdin_fd, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.closerange(3, 1 << 20)  # protocol pipes and every other descriptor of the zygote
        _limit("AS", req["memory"])
        # CPU: SIGXCPU at the soft limit (catchable, so the hard limit one second later is the real backstop).
        _limit("CPU", req["cpu"], hard_extra=1)
        _limit("NPROC", req["nproc"])
        _limit("FSIZE", req["fsize"])
        _limit("NOFILE", req["nofile"])
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        uid = req["uid"]
        # Giving up uid 0 (real, effective and saved) clears CAP_SETUID/CAP_SETGID too; bwrap has set no_new_privs.
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        if os.getuid() != uid or os.geteuid() != uid:
            raise OSError("uid switch did not take")
    except BaseException as exc:  # noqa: B902 - never run the program half-isolated
        os.write(2, f"sandbox set-up failed: {exc!r}\n".encode())
        os._exit(SETUP_FAILED)
    target = f"{SCRATCH}/{req['main']}"
    sys.stdin = sys.__stdin__ = _std(0, "r", "strict", False)
    sys.stdout = sys.__stdout__ = _std(1, "w", "strict", False)
    sys.stderr = sys.__stderr__ = _std(2, "w", "backslashreplace", True)
    sys.argv = [target]
    sys.path[:] = [SCRATCH] + sys_path
    main_module = type(sys)("__main__")
    main_module.__file__ = target
    main_module.__builtins__ = builtins
    sys.modules["__main__"] = main_module
    try:
        with open(target, "rb") as fh:
            code = compile(fh.read(), target, "exec")
        del fh
        exec(code, main_module.__dict__)
        status = 0
    except SystemExit as exc:
        status = exit_status(exc)
    except BaseException as exc:  # noqa: B902 - report exactly as `python main.py` would, minus our frame
        tb = exc.__traceback__
        traceback.print_exception(type(exc), exc, tb.tb_next if tb is not None else None)
        status = 1
    finish(status, main_module)


def exit_status(exc):
    """The exit status CPython gives an uncaught SystemExit (printing a non-integer code to stderr)."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code & 0xFF
    try:
        print(exc.code, file=sys.stderr)
    except BaseException:  # noqa: B902 - a broken stderr must not change the status
        pass
    return 1


def finish(status, main_module):
    """Interpreter shutdown as the program can observe it, then _exit.

    A full Py_Finalize would also tear down every module the zygote imported, which touches (and so copies) the
    whole shared heap: 6 ms of CPU per run against 0.5 ms for this. What a program can observe is kept, in
    CPython's order: non-daemon threads are joined, atexit functions run, the program's own objects are released
    (their __del__ and unclosed files' flushes run), and the standard streams are flushed (status 120 if that
    fails, as in CPython).
    """
    threading = sys.modules.get("threading")
    if threading is not None:
        try:
            threading._shutdown()
        except BaseException:  # noqa: B902 - like CPython: reported, not fatal
            traceback.print_exc()
    import atexit

    atexit._run_exitfuncs()
    main_module.__dict__.clear()
    gc.collect()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except BaseException:  # noqa: B902 - CPython turns a failed flush at exit into status 120
            status = 120
    os._exit(status)


def uid_processes(uid):
    """Pids of live (non-zombie) processes of `uid` in this PID namespace."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as fh:
                status = fh.read()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields.get("Uid", "-1").split()[0]) == uid and not fields.get("State", "").strip().startswith("Z"):
            found.append(int(name))
    return found


def as_uid(uid, action):
    """Run `action` in a forked helper with the run's uid: we hold no CAP_KILL/CAP_DAC_OVERRIDE, the owner does."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            action()
            code = 0
        finally:
            os._exit(code)
    return os.waitpid(pid, 0)[1] == 0


def _kill_all_of_uid():
    # kill(-1) from the run's uid reaches every process of that uid (and nothing else); repeat until none is left
    # running so that a process forked during one sweep is caught by the next.
    for _ in range(2000):
        try:
            os.kill(-1, 9)
        except ProcessLookupError:
            return
        if not [p for p in uid_processes(os.getuid()) if p != os.getpid()]:
            return
        time.sleep(0.001)


def kill_uid(uid):
    as_uid(uid, _kill_all_of_uid)


def _remove_dirs():
    def force(func, path, _exc):
        os.chmod(os.path.dirname(path), 0o700)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)
            shutil.rmtree(path, ignore_errors=True)
        else:
            func(path)

    for base in (SCRATCH, SHM):
        for entry in os.scandir(base):
            if entry.is_dir(follow_symlinks=False):
                os.chmod(entry.path, 0o700)
                shutil.rmtree(entry.path, onerror=force)
            else:
                os.unlink(entry.path)


def clean(uid):
    """Remove what the run left (its processes are already dead); True when nothing of it remains."""
    dirs = False
    for base in (SCRATCH, SHM):
        for entry in os.scandir(base):
            if entry.is_dir(follow_symlinks=False):
                dirs = True
            else:
                os.unlink(entry.path)  # we own the sticky directory, so we may unlink anything directly in it
    if dirs:
        as_uid(uid, _remove_dirs)  # directories of the run's uid: only it may enter them
    if os.listdir(SCRATCH) or os.listdir(SHM) or uid_processes(uid):
        return False
    for table in ("shm", "sem", "msg"):
        with open(f"/proc/sysvipc/{table}") as fh:
            if len(fh.read().strip().splitlines()) > 1:
                return False
    return not (os.path.isdir(MQUEUE) and os.listdir(MQUEUE))


def serve(req, blobs, proto_in, sys_path):
    """Run one request; return (header, stdout, stderr)."""
    names = req["files"]
    for name, data in zip(names, blobs, strict=False):
        fd = os.open(f"{SCRATCH}/{name}", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with open(fd, "wb") as fh:
            fh.write(data)
    stdin_data = blobs[len(names)]
    if stdin_data:
        stdin_fd = os.memfd_create("stdin", 0)
        view = memoryview(stdin_data)
        while view:
            view = view[os.write(stdin_fd, view):]
        os.lseek(stdin_fd, 0, os.SEEK_SET)
    else:
        stdin_fd = os.open(os.devnull, os.O_RDONLY)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        child(req, stdin_fd, out_w, err_w, sys_path)
    for fd in (stdin_fd, out_w, err_w):
        os.close(fd)
    uid = req["uid"]
    deadline = started + req["timeout"]
    out, err = bytearray(), bytearray()
    caps = {out_r: req["max_output"], err_r: req["max_stderr"]}
    bufs = {out_r: out, err_r: err}
    trunc = {out_r: False, err_r: False}
    timed_out = over = False
    pidfd = os.pidfd_open(pid)
    streams = [out_r, err_r]
    exited = False
    while not exited:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        ready, _, _ = select.select(streams + [pidfd, proto_in], [], [], remaining)
        for fd in ready:
            if fd == proto_in:  # the host went away: nobody wants this result
                kill_uid(uid)
                os._exit(0)
            if fd == pidfd:
                exited = True
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                streams.remove(fd)
                continue
            room = caps[fd] - len(bufs[fd])
            if len(chunk) > room:
                bufs[fd] += chunk[:max(room, 0)]
                trunc[fd] = True
                over = over or fd == out_r
            else:
                bufs[fd] += chunk
        if over:
            break
    if not exited:
        kill_uid(uid)
    _, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - started
    os.close(pidfd)
    if uid_processes(uid):
        kill_uid(uid)  # what it left running (daemons, background children) dies with the run
    # Every writer is dead now: what is still in the pipes is the rest of the output.
    for fd in streams:
        while True:
            ready, _, _ = select.select([fd], [], [], 1.0)
            chunk = os.read(fd, 1 << 16) if ready else b""
            if not chunk:
                break
            room = caps[fd] - len(bufs[fd])
            bufs[fd] += chunk[:max(room, 0)]
            if len(chunk) > room:
                trunc[fd] = True
                over = over or fd == out_r
    os.close(out_r)
    os.close(err_r)
    code = os.waitstatus_to_exitcode(status)
    header = {
        "code": code,
        "cpu": usage.ru_utime + usage.ru_stime,
        "wall": wall,
        "timed_out": timed_out,
        "over": over,
        "out_trunc": trunc[out_r],
        "err_trunc": trunc[err_r],
        "setup_failed": code == SETUP_FAILED and bytes(err).startswith(b"sandbox set-up failed"),
        "retire": not clean(uid),
    }
    return header, bytes(out), bytes(err)


def main():
    sys_path = [p for p in sys.argv[1].split(os.pathsep) if p]
    proto_in, proto_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    for name in PRELOAD:
        __import__(name)
    # Objects that exist now are shared with every child; keep the collector from touching (and so copying) them.
    gc.collect()
    gc.freeze()
    write_frames(proto_out, b'{"ready": true}')
    while True:
        head = read_frame(proto_in)
        if head is None:
            return
        req = json.loads(head)
        blobs = [read_frame(proto_in) for _ in range(len(req["files"]) + 1)]
        if any(b is None for b in blobs):
            return
        header, out, err = serve(req, blobs, proto_in, sys_path)
        write_frames(proto_out, json.dumps(header).encode(), out, err)
        if header["retire"]:
            return


main()
