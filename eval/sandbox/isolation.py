"""How a sandboxed process is started: bubblewrap namespaces + a uid switch, or (opt-in only) no isolation.

bubblewrap gives a private mount namespace (read-only interpreter, a size-capped tmpfs as the only writable
place), a private network namespace (no interfaces besides a loopback nobody else shares), a private PID
namespace (the program cannot see or signal host processes, and everything in it dies with it), no
capabilities, and a seccomp filter against the kernel interfaces a contained program has no use for
(eval/sandbox/seccomp.py). As root we run bwrap without a user namespace and let the launcher switch to an unprivileged uid,
because RLIMIT_NPROC is not enforced for uid 0 (see ../shared/notes/platform.md); as a normal user bwrap maps
us to `nobody` in a user namespace instead.
"""

from __future__ import annotations

import functools
import os
import random
import shutil
import subprocess
import sys
import sysconfig
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from eval.sandbox.limits import Limits, MiB
from eval.sandbox.seccomp import deny_filter

LAUNCHER = Path(__file__).with_name("launcher.py")
INSIDE_DIR = "/.sandbox"  # where the launcher and drivers are bound read-only
SCRATCH = "/tmp"  # the one writable place: a size-capped tmpfs, also cwd and HOME
# An interpreter installed where the sandbox mounts something of its own (a virtualenv or conda env under /tmp,
# say) would be hidden by that mount; it is bound under this directory instead, at its host path.
RELOCATED = "/.sandbox-python"
_SHADOWED = (SCRATCH, "/dev", "/proc", INSIDE_DIR, RELOCATED)
# Unprivileged uids with no passwd entry; a random one per run so concurrent runs do not share an NPROC count
# and cannot signal each other.
UID_RANGE = (1_200_000, 1_265_535)

ENV_BWRAP = "DISTILLERY_SANDBOX_BWRAP"  # path of the bwrap binary; a bad path makes the probe fail
ENV_ALLOW_UNISOLATED = "DISTILLERY_SANDBOX_ALLOW_UNISOLATED"

SANDBOX_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": SCRATCH,
    "TMPDIR": SCRATCH,
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "TZ": "UTC",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONIOENCODING": "utf-8",
    # BLAS libraries start one thread per core at import; under RLIMIT_AS that alone can fail.
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}

UNISOLATED_WARNING = (
    "\n" + "!" * 100 + "\n"
    "!! SANDBOX ISOLATION IS OFF: untrusted code is running as a plain subprocess with rlimits only.\n"
    "!! It can read your files, use the network, and (as root) ignore the process limit.\n"
    "!! You opted in (allow_unisolated / --allow-unisolated / DISTILLERY_SANDBOX_ALLOW_UNISOLATED=1).\n"
    "!! Install bubblewrap (`apt-get install -y bubblewrap`) to run it isolated.\n" + "!" * 100 + "\n"
)


class SandboxUnavailable(RuntimeError):
    """Isolation cannot be provided here and the caller did not opt in to running unisolated."""


@dataclass(frozen=True)
class Probe:
    ok: bool
    reason: str
    bwrap: str | None = None
    as_root: bool = False


@dataclass
class Launch:
    """A command ready for Popen, plus what must stay open until it has started."""

    argv: list[str]
    pass_fds: tuple[int, ...] = ()
    cwd: str | None = None
    env: dict[str, str] | None = None
    isolated: bool = True
    backend: str = "bwrap"
    cleanup: list[str] = field(default_factory=list)  # host temp dirs (unisolated mode only)
    close_fds: list[int] = field(default_factory=list)  # ours to close once the process has started
    report_fd: int | None = None  # read end of the launcher's CPU-time report
    info_fd: int | None = None  # read end of bwrap's --info-fd (the host pid of the sandbox's first process)


def bwrap_binary() -> str | None:
    configured = os.environ.get(ENV_BWRAP)
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("bwrap")


def inside_path(host: str) -> str:
    """Where a host path of the interpreter is seen inside the sandbox: the same path, unless a sandbox mount
    (the scratch tmpfs at /tmp, /dev, /proc) would hide it; then the same path under RELOCATED."""
    for top in _SHADOWED:
        if host == top or host.startswith(top.rstrip("/") + "/"):
            return RELOCATED + host
    return host


def interpreter_inside() -> str:
    """The interpreter's path inside the sandbox (the path as invoked, so a virtualenv finds its pyvenv.cfg)."""
    exe = os.path.abspath(sys.executable)
    parent = os.path.realpath(os.path.dirname(exe))
    return inside_path(os.path.join(parent, os.path.basename(exe)))


@functools.lru_cache(maxsize=1)
def python_roots() -> list[str]:
    """Directories the sandboxed interpreter needs, read-only: its prefix, stdlib and site-packages."""
    candidates = [sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable)),
                  os.path.dirname(os.path.abspath(sys.executable))]
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        candidates.append(sysconfig.get_paths()[key])
    candidates += [p for p in sys.path if p and ("site-packages" in p or "dist-packages" in p)]
    roots: list[str] = []
    for path in sorted({os.path.realpath(p) for p in candidates if p and os.path.isdir(p)}, key=len):
        if not any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots):
            roots.append(path)
    return [r for r in roots if not r.startswith("/usr/")]


@functools.lru_cache(maxsize=2)
def sandbox_sys_path(inside: bool = True) -> list[str]:
    """sys.path for the sandboxed program: stdlib and site-packages, never the project or the cwd; as seen inside
    the sandbox (`inside`) or on the host (the unisolated fallback).

    The interpreter starts with -S, so .pth files are not executed: they are code (some import half a library
    at every start-up) and they may point at the project's own source, which the program must not see.
    """
    prefixes = {os.path.realpath(pre) + "/" for pre in (sys.base_prefix, sys.prefix)}
    keep = []
    for p in sys.path:
        if not p or not os.path.isdir(p):
            continue
        real = os.path.realpath(p)
        if any(real.startswith(pre) for pre in prefixes) or "site-packages" in real or "dist-packages" in real:
            keep.append(inside_path(real) if inside else real)
    return list(dict.fromkeys(keep))


def _system_binds() -> list[str]:
    args: list[str] = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    # Only these two files of /etc: the loader cache (speed) and the time zone. No passwd, no shadow, no hosts.
    args += ["--perms", "0755", "--dir", "/etc"]
    for etc in ("/etc/ld.so.cache", "/etc/localtime"):
        if os.path.exists(etc):
            args += ["--ro-bind", etc, etc]
    return args


def _parent_dirs(path: str, made: set[str]) -> list[str]:
    """bwrap creates missing parents of a bind target mode 0700; make them traversable for the sandbox uid."""
    args: list[str] = []
    parts = Path(path).parts
    for i in range(2, len(parts)):
        parent = str(Path(*parts[:i]))
        if parent in made or parent in ("/usr", "/tmp", "/proc", "/dev"):
            continue
        made.add(parent)
        args += ["--perms", "0755", "--dir", parent]
    return args


def _rlimit_args(limits: Limits, report_fd: int) -> list[str]:
    return [
        str(limits.memory_mb * MiB),
        str(limits.cpu_seconds),
        str(limits.max_processes),
        str(limits.scratch_mb * MiB),
        str(limits.max_open_files),
        str(report_fd),
    ]


def check_file_names(files: dict[str, bytes]) -> None:
    for name in files:
        if "/" in name or name in ("", ".", "..") or "\0" in name:
            raise ValueError(f"sandbox file name {name!r}: must be a plain file name (no directories)")


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name, 0)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def build_bwrap(
    probe: Probe,
    limits: Limits,
    files: dict[str, bytes],
    target: str,
    binds: dict[str, str] | None = None,
    args: list[str] | None = None,
    zygote: bool = False,
) -> Launch:
    """bwrap command running `target` (a path inside) with `files` copied into the scratch tmpfs.

    With `zygote`, `target` is started directly, with `args` only: it stays uid 0 with CAP_SETUID/CAP_SETGID and
    switches uid per child itself (eval/sandbox/zygote.py).
    """
    assert probe.bwrap is not None
    check_file_names(files)
    argv = [probe.bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    uid = gid = -1
    if probe.as_root:
        uid = gid = random.randint(*UID_RANGE)
        argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        argv += ["--unshare-user", "--uid", "65534", "--gid", "65534"]
    argv += ["--die-with-parent", "--new-session", "--hostname", "sandbox", "--clearenv"]
    for key, value in SANDBOX_ENV.items():
        argv += ["--setenv", key, value]
    argv += _system_binds()
    made: set[str] = set()
    for root in python_roots():
        seen_at = inside_path(root)
        argv += _parent_dirs(seen_at, made) + ["--ro-bind", root, seen_at]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    # POSIX semaphores and shared memory (multiprocessing) live in /dev/shm: private, size-capped like /tmp.
    argv += ["--size", str(limits.scratch_mb * MiB), "--perms", "1777", "--tmpfs", "/dev/shm"]
    argv += ["--size", str(limits.scratch_mb * MiB), "--perms", "1777", "--tmpfs", SCRATCH]
    if zygote:
        # A zygote checks after every run that its runs left no POSIX message queue: mounting the (private)
        # mqueue file system is what makes them listable.
        argv += ["--mqueue", "/dev/mqueue"]
    argv += ["--perms", "0755", "--dir", INSIDE_DIR, "--ro-bind", str(LAUNCHER), f"{INSIDE_DIR}/launcher.py"]
    for host, inside in (binds or {}).items():
        argv += ["--ro-bind", host, inside]
    report_r, report_w = os.pipe()
    info_r, info_w = os.pipe()
    fds: list[int] = [report_w, info_w]
    argv += ["--info-fd", str(info_w)]
    for name, data in files.items():
        fd = _memfd(name, data)
        fds.append(fd)
        argv += ["--perms", "0644", "--file", str(fd), f"{SCRATCH}/{name}"]
    bpf = deny_filter()
    if bpf is not None:
        fd = _memfd("seccomp", bpf)
        fds.append(fd)
        argv += ["--seccomp", str(fd)]
    if zygote:
        argv += ["--chdir", SCRATCH, "--", interpreter_inside(), "-I", "-S", target, *(args or [])]
        return Launch(argv=argv, pass_fds=tuple(fds), close_fds=fds, report_fd=report_r, info_fd=info_r)
    argv += ["--chdir", SCRATCH, "--", interpreter_inside(), "-I", "-S", f"{INSIDE_DIR}/launcher.py", target,
             str(uid), str(gid), *_rlimit_args(limits, report_w), os.pathsep.join(sandbox_sys_path()), *(args or [])]
    return Launch(argv=argv, pass_fds=tuple(fds), close_fds=fds, report_fd=report_r, info_fd=info_r)


def build_unisolated(
    limits: Limits,
    files: dict[str, bytes],
    target: str,
    binds: dict[str, str] | None = None,
    args: list[str] | None = None,
) -> Launch:
    """Plain subprocess with the same launcher and rlimits, in a temp dir standing in for the scratch tmpfs."""
    import tempfile

    check_file_names(files)
    scratch = tempfile.mkdtemp(prefix="sandbox-unisolated-")
    for name, data in files.items():
        Path(scratch, name).write_bytes(data)
    mapping = {inside: host for host, inside in (binds or {}).items()}
    host_target = mapping.get(target, os.path.join(scratch, os.path.basename(target)))
    env = dict(SANDBOX_ENV, HOME=scratch, TMPDIR=scratch)
    report_r, report_w = os.pipe()
    argv = [sys.executable, "-I", "-S", str(LAUNCHER), host_target, "-1", "-1", *_rlimit_args(limits, report_w),
            os.pathsep.join(sandbox_sys_path(inside=False)), *(args or [])]
    return Launch(argv=argv, pass_fds=(report_w,), cwd=scratch, env=env, isolated=False, backend="unisolated",
                  cleanup=[scratch], close_fds=[report_w], report_fd=report_r)


@functools.lru_cache(maxsize=8)
def _probe_cached(bwrap: str | None, as_root: bool) -> Probe:
    if bwrap is None:
        return Probe(False, "bubblewrap (bwrap) not found; install it with `apt-get install -y bubblewrap`"
                     f" or point {ENV_BWRAP} at it")
    probe = Probe(True, "bwrap works", bwrap=bwrap, as_root=as_root)
    code = b"import os\nprint(os.getuid())\n"
    launch = build_bwrap(probe, Limits(timeout=10), {"probe.py": code}, f"{SCRATCH}/probe.py")
    try:
        out = subprocess.run(launch.argv, pass_fds=launch.pass_fds, capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Probe(False, f"bwrap failed to start: {exc}")
    finally:
        for fd in launch.close_fds + [launch.report_fd, launch.info_fd]:
            os.close(fd)
    if out.returncode != 0 or not out.stdout.strip().isdigit() or int(out.stdout) == 0:
        err = out.stderr.decode(errors="replace").strip().splitlines()[-3:]
        return Probe(False, f"bwrap could not start an isolated interpreter (exit {out.returncode}): {' | '.join(err)}")
    return probe


def probe() -> Probe:
    """Can this host isolate? Cached per (bwrap path, root-ness); the check runs a real sandboxed interpreter."""
    return _probe_cached(bwrap_binary(), os.geteuid() == 0)


def unisolated_allowed(allow_unisolated: bool | None) -> bool:
    if allow_unisolated is not None:
        return allow_unisolated
    return os.environ.get(ENV_ALLOW_UNISOLATED, "").lower() in ("1", "true", "yes")


_warned = False


def warn_unisolated() -> None:
    """Loud, on stderr, every process that falls back; plus a Python warning callers can turn into an error."""
    global _warned
    warnings.warn("sandbox isolation is off: running untrusted code unisolated", RuntimeWarning, stacklevel=3)
    if not _warned:
        print(UNISOLATED_WARNING, file=sys.stderr, flush=True)
        _warned = True
