"""Runs INSIDE the sandbox, first: set rlimits, drop to the sandbox uid, then execute the target as __main__.

Started as `python -I -S launcher.py TARGET UID GID AS CPU NPROC FSIZE NOFILE REPORT_FD SYS_PATH [ARGS...]`.
At a normal exit the launcher writes the CPU seconds used to REPORT_FD (bwrap's exit status carries no rusage).
Standard library only, and as few imports as possible: every millisecond here is paid on every run.
Arguments are positional strings rather than JSON because importing json costs more than the rest of this file.
"""

import os
import resource
import sys


def _limit(name: str, value: str, hard_extra: int = 0) -> None:
    n = int(value)
    if n >= 0:
        resource.setrlimit(getattr(resource, "RLIMIT_" + name), (n, n + hard_extra))


def _report_cpu(fd: int) -> None:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        os.write(fd, b"%.6f\n" % (own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime))
    except OSError:
        pass


def main() -> None:
    target, uid, gid, mem, cpu, nproc, fsize, nofile, report_fd, path = sys.argv[1:11]
    _limit("AS", mem)
    # CPU: SIGXCPU at the soft limit (catchable, so the hard limit one second later is the real backstop).
    _limit("CPU", cpu, hard_extra=1)
    _limit("NPROC", nproc)
    _limit("FSIZE", fsize)
    _limit("NOFILE", nofile)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if int(uid) >= 0:
        # bwrap ran us as root with only CAP_SETUID/CAP_SETGID; giving up uid 0 clears those too, and bwrap has
        # already set no_new_privs, so nothing below can regain them. RLIMIT_NPROC only binds non-root uids.
        os.setgroups([])
        os.setresgid(int(gid), int(gid), int(gid))
        os.setresuid(int(uid), int(uid), int(uid))
    sys.path[:] = [os.path.dirname(target)] + [p for p in path.split(os.pathsep) if p]
    sys.argv = [target] + sys.argv[11:]
    if int(report_fd) >= 0:
        import atexit

        atexit.register(_report_cpu, int(report_fd))
    with open(target, "rb") as fh:
        source = fh.read()
    main_module = type(sys)("__main__")
    main_module.__file__ = target
    main_module.__builtins__ = __builtins__
    sys.modules["__main__"] = main_module
    try:
        code = compile(source, target, "exec")
        exec(code, main_module.__dict__)
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: B902 - report exactly as `python target.py` would, minus our frame
        import traceback

        tb = exc.__traceback__
        traceback.print_exception(type(exc), exc, tb.tb_next if tb is not None else None)
        sys.stderr.flush()
        sys.exit(1)


main()
