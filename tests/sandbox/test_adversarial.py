"""Hostile programs, each contained with the right status, the host unchanged and no process left behind.

All programs run once, in parallel, through each real path of run_many: the zygote pool (the default: each run
forked from a pre-started sandbox) and one fresh sandbox per run; each test then checks one of them.
"""

from __future__ import annotations

import hashlib
import os
import socket
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from eval.sandbox import Job, Limits, run_many

SECRET_ENV = "DISTILLERY_SANDBOX_TEST_SECRET"
SECRET_VALUE = "s3cr3t-env-value-7f1c"
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Case:
    code: str
    status: str
    stdout: str | None = None  # exact stdout expected, if given
    stderr: str | tuple[str, ...] | None = None  # substring (or one of several) expected in stderr
    # Generous wall limit: these end long before it unless contained wrongly; on a loaded CI machine zero-filling
    # 512 MiB alone can take seconds.
    limits: Limits = Limits(timeout=20, memory_mb=512, scratch_mb=16)


CASES: dict[str, Case] = {
    # --- network -----------------------------------------------------------------------------------------------
    "connect_host_loopback": Case(
        "import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\nprint('CONNECTED')",
        "runtime_error", stderr="ConnectionRefusedError"),  # its loopback is its own: nobody listens there
    "connect_outside": Case(
        "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)\nprint('CONNECTED')",
        "runtime_error", stderr="Network is unreachable"),
    "udp_outside": Case(
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.sendto(b'x', ('8.8.8.8', 53))",
        "runtime_error", stderr="Network is unreachable"),
    "dns_lookup": Case(
        "import socket\nprint(socket.getaddrinfo('example.com', 443))", "runtime_error", stderr="gaierror"),
    "list_interfaces": Case(
        "import socket\nprint(sorted(name for _, name in socket.if_nameindex()))", "ok", stdout="['lo']\n"),
    # --- host files ------------------------------------------------------------------------------------------------
    "read_etc_shadow": Case("print(open('/etc/shadow').read())", "runtime_error", stderr="FileNotFoundError"),
    "read_etc_passwd": Case("print(open('/etc/passwd').read())", "runtime_error", stderr="FileNotFoundError"),
    "read_home_secret": Case("print(open({secret!r}).read())", "runtime_error", stderr="FileNotFoundError"),
    "list_home": Case("import os\nprint(os.listdir(os.path.expanduser('~')))", "ok", stdout="['main.py']\n"),
    "read_repo_source": Case("print(open({repo_file!r}).read())", "runtime_error", stderr="FileNotFoundError"),
    "symlink_to_shadow": Case(
        "import os\nos.symlink('/etc/shadow', '/tmp/s')\nprint(open('/tmp/s').read())",
        "runtime_error", stderr="FileNotFoundError"),
    "read_parent_env": Case("import os\nprint(os.environ.get({env!r}))", "ok", stdout="None\n"),
    "scan_proc_environ": Case(
        "import os\nhits = 0\nfor pid in os.listdir('/proc'):\n"
        "    try:\n        hits += {value!r}.encode() in open(f'/proc/{{pid}}/environ', 'rb').read()\n"
        "    except OSError:\n        pass\nprint(hits, len([p for p in os.listdir('/proc') if p.isdigit()]) < 5)",
        "ok", stdout="0 True\n"),
    "read_raw_disk": Case("open('/dev/sda', 'rb').read(512)", "runtime_error", stderr="FileNotFoundError"),
    # --- writing / deleting --------------------------------------------------------------------------------------
    "write_usr": Case("open('/usr/distillery-evil', 'w').write('x')", "runtime_error", stderr="Read-only file system"),
    "write_host_tmp": Case(  # /tmp inside is a private tmpfs: the write succeeds but never reaches the host
        "open({host_tmp!r}, 'w').write('escaped')\nprint('written')", "ok", stdout="written\n"),
    "write_interpreter": Case(
        "import sys\nopen(sys.executable, 'ab').write(b'x')", "runtime_error",
        stderr=("Read-only file system", "PermissionError")),
    "delete_interpreter_lib": Case(
        "import os, sysconfig\nos.remove(os.path.join(sysconfig.get_paths()['stdlib'], 'os.py'))",
        "runtime_error", stderr="Read-only file system"),
    "delete_victim": Case("import os\nos.remove({victim!r})", "runtime_error", stderr="FileNotFoundError"),
    "disk_fill": Case(
        "block = b'x' * (1 << 20)\nwith open('/tmp/fill', 'wb') as f:\n    while True:\n        f.write(block)\n"
        "        f.flush()", "runtime_error", stderr="OSError"),
    # --- processes -----------------------------------------------------------------------------------------------
    "fork_bomb_bounded": Case(
        "import os, time\nn = 0\nwhile True:\n    if os.fork() == 0:\n        time.sleep(30)\n        os._exit(0)\n"
        "    n += 1\n    if n > 1000:\n        print('NOT CONTAINED')\n        break",
        "runtime_error", stderr="BlockingIOError"),
    "fork_bomb_exponential": Case(
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
        "timeout", limits=Limits(timeout=2, memory_mb=512, scratch_mb=16)),
    "thread_bomb": Case(
        "import threading, time\nwhile True:\n    threading.Thread(target=time.sleep, args=(30,), daemon=True).start()",
        "runtime_error", stderr="can't start new thread"),
    "daemon_left_behind": Case(
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(60)\n"
        "    os._exit(0)\nprint('parent done')", "ok", stdout="parent done\n"),
    "background_subprocess": Case(
        "import subprocess\nsubprocess.Popen(['sleep', '60'], start_new_session=True)\nprint('spawned')",
        "ok", stdout="spawned\n"),
    "kill_parent": Case(
        "import os, signal\ntry:\n    os.kill(os.getppid(), signal.SIGKILL)\nexcept PermissionError:\n"
        "    print('parent protected')\n"
        "try:\n    os.kill({host_pid}, signal.SIGKILL)\nexcept ProcessLookupError:\n    print('host pid invisible')",
        "ok", stdout="parent protected\nhost pid invisible\n"),
    # kill(-1) signals every process the caller may: in its PID namespace, under its uid, that is nobody else. (It
    # fails with ESRCH when the namespace holds nobody else at all, and returns 0 when every other process refused
    # with EPERM, as the zygote does: either way nothing but the caller may be hit, and it survives.)
    "kill_everything": Case("import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept ProcessLookupError:\n"
                            "    pass\nprint('survived')", "ok", stdout="survived\n"),
    "ptrace_attach": Case(
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nout = []\n"
        "for pid in (os.getppid(), 1, {host_pid}):\n"
        "    out.append(libc.ptrace(16, pid, None, None) == -1 and ctypes.get_errno() != 0)\nprint(out)",
        "ok", stdout="[True, True, True]\n"),
    "spawn_shell": Case(
        "import subprocess\nr = subprocess.run(['/bin/sh', '-c', 'id -u; cat /etc/shadow; ls /root/.ssh'], "
        "capture_output=True, text=True)\nprint(r.stdout.strip() != '0', 'root:' in r.stdout)",
        "ok", stdout="True False\n"),
    "become_root": Case("import os\nos.setuid(0)", "runtime_error", stderr="PermissionError"),
    "raise_rlimit": Case(
        "import resource\nsoft, hard = resource.getrlimit(resource.RLIMIT_NPROC)\n"
        "resource.setrlimit(resource.RLIMIT_NPROC, (hard + 1000, hard + 1000))",
        "runtime_error", stderr="ValueError"),
    "new_user_namespace": Case(  # blocked by the seccomp filter: user namespaces are kernel attack surface
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.unshare(0x10000000), ctypes.get_errno())", "ok", stdout="-1 1\n"),
    "mount_tmpfs": Case(
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.mount(b'none', b'/tmp', b'tmpfs', 0, None), ctypes.get_errno())", "ok", stdout="-1 1\n"),
    "io_uring": Case(
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nprint(libc.syscall(425, 1, None), ctypes.get_errno())",
        "ok", stdout="-1 1\n"),
    "chroot_escape": Case("import os\nos.chroot('/tmp')", "runtime_error", stderr="PermissionError"),
    "sethostname": Case("import socket\nsocket.sethostname('pwned')", "runtime_error", stderr="PermissionError"),
    # --- resources -----------------------------------------------------------------------------------------------
    "memory_bomb": Case("chunks = []\nwhile True:\n    chunks.append(bytearray(50 << 20))", "memory",
                        stderr="MemoryError"),
    "memory_one_shot": Case("x = bytearray(8 << 30)", "memory", stderr="MemoryError"),
    "stdout_100mb": Case("import sys\nfor _ in range(100):\n    sys.stdout.write('x' * (1 << 20))", "output_limit",
                         limits=Limits(timeout=20, memory_mb=512, max_output=1 << 20)),
    "sleep_past_limit": Case("import time\ntime.sleep(60)", "timeout",
                             limits=Limits(timeout=1.5, memory_mb=512)),
    "cpu_spin": Case("while True:\n    pass", "timeout", limits=Limits(timeout=30, cpu=1, memory_mb=512)),
    "segfault": Case("import ctypes\nctypes.string_at(0)", "killed"),
}


BACKENDS = {"pool": "bwrap-zygote", "oneshot": "bwrap"}


@pytest.fixture(scope="module", params=list(BACKENDS))
def outcome(request, tmp_path_factory):
    """Run every case once, in parallel; return results plus the host-side facts to check afterwards."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    accepted: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, addr = server.accept()
                accepted.append(str(addr))
                conn.close()
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    secret = Path.home() / f".distillery-sandbox-secret-{os.getpid()}"
    secret.write_text("top secret\n")
    victim = tmp_path_factory.mktemp("victim") / "keep.txt"
    victim.write_text("keep me\n")
    host_tmp = f"/tmp/distillery-sandbox-escape-{os.getpid()}"
    interpreter_digest = hashlib.sha256(Path(sys.executable).read_bytes()).hexdigest()
    os.environ[SECRET_ENV] = SECRET_VALUE
    values = dict(port=server.getsockname()[1], secret=str(secret), repo_file=str(REPO / "pyproject.toml"),
                  env=SECRET_ENV, value=SECRET_VALUE, host_tmp=host_tmp, victim=str(victim), host_pid=os.getpid())
    names = list(CASES)
    try:
        results = run_many([Job(CASES[n].code.format(**values), limits=CASES[n].limits) for n in names],
                           pool=request.param == "pool")
    finally:
        stop.set()
        thread.join()
        server.close()
        del os.environ[SECRET_ENV]
    host = {
        "accepted": accepted,
        "secret": secret.read_text(),
        "victim": victim.read_text(),
        "host_tmp_exists": os.path.exists(host_tmp),
        "interpreter_same": hashlib.sha256(Path(sys.executable).read_bytes()).hexdigest() == interpreter_digest,
        "usr_evil": os.path.exists("/usr/distillery-evil"),
    }
    secret.unlink()
    return dict(zip(names, results, strict=True)), host, BACKENDS[request.param]


def test_suite_is_large_enough():
    assert len(CASES) >= 30


@pytest.mark.parametrize("name", list(CASES))
def test_contained(outcome, name):
    results, _, backend = outcome
    case, result = CASES[name], results[name]
    detail = f"{name}: {result.status} exit={result.exit_code} sig={result.signal} stderr={result.stderr[-400:]!r}"
    assert result.isolated and result.backend == backend
    assert result.status == case.status, detail
    if case.stdout is not None:
        assert result.stdout == case.stdout, detail
    if case.stderr is not None:
        wanted = (case.stderr,) if isinstance(case.stderr, str) else case.stderr
        assert any(w in result.stderr for w in wanted), detail
    assert "CONNECTED" not in result.stdout and "NOT CONTAINED" not in result.stdout, detail


def test_host_unchanged(outcome):
    _, host, _ = outcome
    assert host == {
        "accepted": [],
        "secret": "top secret\n",
        "victim": "keep me\n",
        "host_tmp_exists": False,
        "interpreter_same": True,
        "usr_evil": False,
    }


def test_no_process_left_behind(outcome, sandbox_processes):
    # The daemon, the background `sleep 60` and the fork-bomb children all died with their sandboxes.
    assert sandbox_processes() == []


def test_output_cap_and_timing_facts(outcome):
    results, _, _ = outcome
    flood = results["stdout_100mb"]
    assert flood.stdout_truncated and len(flood.stdout) == 1 << 20
    assert results["sleep_past_limit"].wall_time < 5
    spin = results["cpu_spin"]
    assert spin.signal == 24 and spin.wall_time < 30  # SIGXCPU after 1 s of CPU, not the 30 s wall-clock limit
    assert results["segfault"].signal == 11
