"""The zygote pool: runs forked from one pre-started sandbox share nothing, keep their limits, and a dead or dirty
zygote is replaced. One zygote per pool here, so consecutive runs really land in the same one."""

from __future__ import annotations

import os
import signal
import time

import pytest

from eval.sandbox import Job, Limits, probe
from eval.sandbox.pool import ZygotePool

# Prints the facts a later run could inherit from an earlier one in the same zygote.
LOOK = (
    "import os, sys, json\n"
    "print('files', sorted(os.listdir('/tmp')), sorted(os.listdir('/dev/shm')), sorted(os.listdir('/dev/mqueue')))\n"
    "print('env', os.environ.get('LEAK'), 'module', getattr(json, 'LEAK', None), 'path', '/leak' in sys.path)\n"
    "print('procs', sorted(int(p) for p in os.listdir('/proc') if p.isdigit() and int(p) != os.getpid()))\n"
    "print('ipc', [len(open(f'/proc/sysvipc/{t}').read().splitlines()) for t in ('shm', 'sem', 'msg')])\n"
    "print('zygote', os.getppid(), 'uid', os.getuid())\n"
)
CLEAN = {"files": "['main.py'] [] []", "env": "None module None path False", "procs": "[1, 2]", "ipc": "[1, 1, 1]"}


def facts(stdout: str) -> dict[str, str]:
    return {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in stdout.splitlines()}


@pytest.fixture
def pool():
    with ZygotePool(probe(), size=1) as p:
        yield p


def test_consecutive_runs_in_one_zygote_share_nothing(pool):
    first = facts(pool.run(LOOK).stdout)
    assert {k: first[k] for k in CLEAN} == CLEAN
    dirty = pool.run(
        "import os, sys, json, subprocess\n"
        "open('/tmp/leak.txt', 'w').write('x')\nopen('/dev/shm/leak', 'w').write('x')\n"
        "os.makedirs('/tmp/d/e')\nopen('/tmp/d/e/f', 'w').write('x')\nos.chmod('/tmp/d/e', 0)\nos.chmod('/tmp/d', 0)\n"
        "os.environ['LEAK'] = '1'\njson.LEAK = 1\nsys.path.append('/leak')\n"
        "subprocess.Popen(['sleep', '60'], start_new_session=True)\n"
        "if os.fork() == 0:\n    os.setsid()\n    import time\n    time.sleep(60)\n"
        "print('dirty', os.getppid())"
    )
    assert dirty.status == "ok" and dirty.stdout.startswith("dirty ")
    after = facts(pool.run(LOOK).stdout)
    assert {k: after[k] for k in CLEAN} == CLEAN
    # Same zygote all along (nothing above made it retire), but a different uid for every run.
    assert after["zygote"].split()[0] == first["zygote"].split()[0] == dirty.stdout.split()[1]
    assert after["zygote"].split()[2] != first["zygote"].split()[2]
    assert pool.started == 1


def test_ipc_objects_left_behind_retire_the_zygote(pool):
    # SysV and POSIX message-queue objects outlive their creator; the zygote cannot remove another uid's, so it
    # hands itself in and the next run gets a fresh one, with empty IPC tables.
    shm = pool.run("import ctypes\nlibc = ctypes.CDLL(None)\nprint(libc.shmget(0, 4096, 0o1666) >= 0)")
    assert shm.stdout == "True\n" and pool.started == 1
    after = facts(pool.run(LOOK).stdout)
    assert after["ipc"] == "[1, 1, 1]" and pool.started == 2
    mq = pool.run("import ctypes\nlibc = ctypes.CDLL(None)\nprint(libc.mq_open(b'/q', 0o102, 0o666, None) >= 0)")
    assert mq.stdout == "True\n"
    assert facts(pool.run(LOOK).stdout)["files"] == CLEAN["files"] and pool.started == 3


def test_limits_are_per_run(pool):
    grab = "x = bytearray(200 << 20)\nprint('got it')"
    assert pool.run(grab, limits=Limits(memory_mb=128)).status == "memory"
    assert pool.run(grab, limits=Limits(memory_mb=512)).stdout == "got it\n"
    spin = pool.run("while True:\n    pass", limits=Limits(timeout=20, cpu=1))
    assert (spin.status, spin.signal) == ("timeout", signal.SIGXCPU)
    assert pool.run("import resource\nprint(resource.getrlimit(resource.RLIMIT_CPU))",
                    limits=Limits(cpu=7)).stdout == "(7, 8)\n"
    flood = pool.run("print('y' * 5000)", limits=Limits(max_output=1000))
    assert (flood.status, len(flood.stdout), flood.stdout_truncated) == ("output_limit", 1000, True)
    slow = pool.run("import time\ntime.sleep(30)", limits=Limits(timeout=0.5))
    assert slow.status == "timeout" and slow.wall_time < 5
    assert pool.run("print(sum(range(10)))").stdout == "45\n"
    assert pool.started == 1  # all of it in one zygote


def test_scratch_size_gets_its_own_zygote(pool):
    small = pool.run("open('/tmp/big', 'wb').write(b'x' * (3 << 20))", limits=Limits(scratch_mb=2))
    assert small.status == "runtime_error" and ("File too large" in small.stderr or "No space" in small.stderr)
    big = pool.run("open('/tmp/f1', 'wb').write(b'x' * (3 << 20))\nopen('/tmp/f2', 'wb').write(b'x' * (3 << 20))\n"
                   "print('ok')", limits=Limits(scratch_mb=8))
    assert big.stdout == "ok\n" and pool.started == 2


def test_a_killed_zygote_is_replaced(pool):
    assert pool.run("print(1)").stdout == "1\n"
    idle = pool._idle[0]
    os.killpg(idle.proc.pid, signal.SIGKILL)  # dies while idle
    idle.proc.wait()
    assert pool.run("print(2)").stdout == "2\n" and pool.started == 2


def test_a_zygote_dying_mid_run_is_a_sandbox_error_then_replaced(pool):
    import threading

    assert pool.run("print(1)").stdout == "1\n"
    zygote = pool._idle[0]
    threading.Timer(0.5, lambda: os.killpg(zygote.proc.pid, signal.SIGKILL)).start()
    r = pool.run("import time\ntime.sleep(20)", limits=Limits(timeout=20))
    assert r.status == "sandbox_error" and "zygote" in r.stderr
    assert pool.run("print(3)").stdout == "3\n" and pool.started == 2


def test_run_many_on_a_pool_and_nothing_left_behind(pool, sandbox_processes):
    jobs = [Job(f"import os\nprint({i}, os.getuid() != 0)") for i in range(20)]
    results = pool.run_many(jobs, workers=3)
    assert [r.stdout for r in results] == [f"{i} True\n" for i in range(20)]
    assert pool.started == 3
    time.sleep(0.3)  # the first batch's threads are gone; zygotes started from them must outlive them
    assert [r.stdout for r in pool.run_many(jobs, workers=3)] == [f"{i} True\n" for i in range(20)]
    assert pool.started == 3
    pool.close()
    assert sandbox_processes() == []


def test_host_killed_mid_run_takes_its_zygotes_along(tmp_path, sandbox_processes):
    import subprocess
    import sys
    from pathlib import Path

    # The shared pool starts its zygotes from one long-lived thread so that bwrap's parent-death signal follows
    # the host process, not whichever short-lived thread needed a zygote first.
    script = tmp_path / "host.py"
    script.write_text(
        "from eval.sandbox import Job, Limits, run_many\n"
        "run_many([Job('print(1)')] * 4, workers=2)\nprint('warm', flush=True)\n"
        "run_many([Job('import time\\ntime.sleep(60)', limits=Limits(timeout=60))] * 2, workers=2)\n")
    repo = Path(__file__).resolve().parents[2]
    host = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=repo,
                            env={**os.environ, "PYTHONPATH": str(repo)})
    try:
        assert host.stdout.readline() == "warm\n"
        deadline = time.monotonic() + 20
        while len(sandbox_processes()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(sandbox_processes()) >= 2  # both sleepers are running
        tree = descendants(host.pid)
        assert len([p for p in tree if b"/.sandbox/zygote.py" in cmdline(p)]) >= 2
    finally:
        host.kill()
        host.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (sandbox_processes() or any(cmdline(p) for p in tree)):
        time.sleep(0.05)
    assert sandbox_processes() == [] and [p for p in tree if cmdline(p)] == []


def cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read()
    except OSError:
        return b""


def descendants(root: int) -> list[int]:
    """Host pids of every process below `root`."""
    parents = {}
    for name in os.listdir("/proc"):
        try:
            with open(f"/proc/{name}/status") as fh:
                parents[int(name)] = int(next(x for x in fh if x.startswith("PPid:")).split()[1])
        except (OSError, ValueError, StopIteration):
            continue
    found, frontier = [], [root]
    while frontier:
        kids = [pid for pid, ppid in parents.items() if ppid in frontier]
        found += kids
        frontier = kids
    return found
