"""One-shot runs: the structured result, limits, stdin, files, the pool and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from eval.sandbox import Job, Limits, run, run_many
from eval.sandbox.runner import classify


def test_ok_with_stdin_and_exact_fields():
    r = run("import sys\ndata = sys.stdin.read()\nprint(data.upper(), end='')", stdin="hello\nworld\n")
    assert (r.status, r.exit_code, r.signal, r.stdout, r.stderr) == ("ok", 0, None, "HELLO\nWORLD\n", "")
    assert r.isolated and r.backend == "bwrap-zygote"  # run() forks from the shared pool by default
    assert 0 < r.wall_time < 10 and r.cpu_time is not None and r.cpu_time > 0


def test_large_stdin_is_read_fully():
    data = "7\n" * 500_000  # 1 MB: more than a pipe buffer
    r = run("import sys\nprint(sum(int(x) for x in sys.stdin))", stdin=data)
    assert r.stdout == "3500000\n"


def test_runtime_error_keeps_exit_code_and_traceback():
    r = run("import sys\nprint('before')\nsys.stderr.write('oops\\n')\nsys.exit(3)")
    assert (r.status, r.exit_code, r.stdout, r.stderr) == ("runtime_error", 3, "before\n", "oops\n")
    r = run("def f():\n    return 1 / 0\nf()")
    assert r.status == "runtime_error" and r.exit_code == 1
    assert r.stderr.splitlines()[-1] == "ZeroDivisionError: division by zero"
    assert 'File "/tmp/main.py", line 2, in f' in r.stderr and "launcher" not in r.stderr


@pytest.mark.parametrize("pool", [True, False])
def test_program_runs_as_unprivileged_user_in_scratch(pool):
    # It sees only its own PID namespace: bwrap's init, the zygote (pooled runs) and itself.
    r = run("import os\nprint(os.getuid() != 0, os.getgid() != 0, os.getcwd(), os.environ['HOME'], "
            "sorted(int(p) for p in os.listdir('/proc') if p.isdigit())[:2])", pool=pool)
    assert r.stdout == "True True /tmp /tmp [1, 2]\n"
    assert r.backend == ("bwrap-zygote" if pool else "bwrap")


def test_scratch_files_and_size_cap():
    r = run("print(open('data.txt').read().strip())\nopen('out.txt', 'w').write('y' * 1000)\nprint('wrote')",
            files={"data.txt": "seeded\n"})
    assert r.stdout == "seeded\nwrote\n"
    big = run("open('/tmp/big', 'wb').write(b'x' * (3 << 20))", limits=Limits(scratch_mb=2))
    assert big.status == "runtime_error" and ("File too large" in big.stderr or "No space left" in big.stderr)


def test_stderr_is_capped_without_killing():
    r = run("import sys\nsys.stderr.write('e' * 200_000)\nprint('done')", limits=Limits(max_stderr=1000))
    assert (r.status, r.stdout, len(r.stderr), r.stderr_truncated) == ("ok", "done\n", 1000, True)


def test_packages_importable_but_not_the_project():
    r = run("import yaml\nprint(yaml.safe_load('a: 1'))\nimport eval.sandbox")
    assert r.stdout == "{'a': 1}\n"
    assert r.stderr.splitlines()[-1].startswith("ModuleNotFoundError")


def test_program_from_path(tmp_path):
    script = tmp_path / "p.py"
    script.write_text("print(6 * 7)\n")
    assert run(path=script).stdout == "42\n"
    with pytest.raises(ValueError, match="exactly one"):
        run("print(1)", path=script)


def test_bad_limits_and_file_names_are_errors():
    with pytest.raises(ValueError, match="timeout must be positive"):
        run("pass", limits=Limits(timeout=0))
    with pytest.raises(ValueError, match="plain file name"):
        run("pass", files={"../x": "y"})


def test_classify_rules():
    limits = Limits(timeout=2)
    assert classify(0, 0.1, "", limits, False, False, "bwrap")[0] == "ok"
    assert classify(137, 0.1, "", limits, False, False, "bwrap") == ("killed", None, 9)
    assert classify(137, 2.0, "", limits, False, False, "bwrap") == ("timeout", None, 9)
    assert classify(128 + 24, 0.5, "", limits, False, False, "bwrap") == ("timeout", None, 24)
    assert classify(1, 0.1, "Traceback\nMemoryError\n", limits, False, False, "bwrap") == ("memory", 1, None)
    assert classify(-9, 0.1, "", limits, True, False, "bwrap")[0] == "timeout"
    assert classify(-9, 0.1, "", limits, False, True, "bwrap")[0] == "output_limit"
    assert classify(2, 0.1, "x", limits, False, False, "bwrap") == ("runtime_error", 2, None)


def test_run_many_keeps_order_and_statuses():
    jobs = [Job(f"print({i} * {i})") for i in range(12)]
    jobs.insert(5, Job("import time\ntime.sleep(10)", limits=Limits(timeout=1)))
    jobs.insert(9, Job("raise SystemExit(4)"))
    results = run_many(jobs, workers=2)
    assert [r.status for r in results].count("ok") == 12
    assert results[5].status == "timeout" and results[9].exit_code == 4
    oks = [r.stdout for r in results if r.status == "ok"]
    assert oks == [f"{i * i}\n" for i in range(12)]


def test_cli_prints_one_json_object(tmp_path):
    script = tmp_path / "rev.py"
    script.write_text("print(input()[::-1])\n")
    stdin = tmp_path / "in.txt"
    stdin.write_text("sandbox\n")
    out = subprocess.run([sys.executable, "-m", "eval.sandbox", "run", str(script), "--stdin", str(stdin),
                          "--timeout", "5", "--memory-mb", "256"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert {k: result[k] for k in ("status", "exit_code", "stdout", "isolated")} == {
        "status": "ok", "exit_code": 0, "stdout": "xobdnas\n", "isolated": True}
    assert set(result) >= {"signal", "stderr", "wall_time", "cpu_time", "stdout_truncated"}
    slow = tmp_path / "slow.py"
    slow.write_text("while True: pass\n")
    out = subprocess.run([sys.executable, "-m", "eval.sandbox", "run", str(slow), "--timeout", "1"],
                         capture_output=True, text=True, timeout=60)
    assert json.loads(out.stdout)["status"] == "timeout"
    missing = subprocess.run([sys.executable, "-m", "eval.sandbox", "run", str(tmp_path / "nope.py")],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "nope.py: no such file" in missing.stderr


def test_ordinary_process_features_still_work():
    # The seccomp filter refuses clone3 with ENOSYS so libc falls back to clone: threads, fork, subprocess and
    # multiprocessing (which also needs the private /dev/shm) keep working.
    code = ("import multiprocessing, subprocess, threading, os\n"
            "t = threading.Thread(target=print, args=('thread',)); t.start(); t.join()\n"
            "print(subprocess.run(['echo', 'child'], capture_output=True, text=True).stdout.strip())\n"
            "with multiprocessing.Pool(2) as pool:\n    print(pool.map(abs, [-1, -2]))")
    r = run(code, limits=Limits(timeout=20))
    assert (r.status, r.stdout) == ("ok", "thread\nchild\n[1, 2]\n"), r.stderr


def test_no_descriptor_leaks_in_the_caller():
    import os

    from eval.sandbox import Session

    run("print(0)")  # the shared pool's zygote is started (and keeps its pipes) from here on
    before = len(os.listdir("/proc/self/fd"))
    run("print(1)", stdin="x")
    run("import time\ntime.sleep(5)", limits=Limits(timeout=0.5))
    run("print('x' * 100)", limits=Limits(max_output=10))
    with pytest.raises(ValueError):
        run("pass", files={"a/b": "x"})
    with Session() as s:
        s.run_cell("1")
    assert len(os.listdir("/proc/self/fd")) == before
