"""Stateful sessions: cells share state, each has its own time limit, and a killed interpreter comes back."""

from __future__ import annotations

from eval.sandbox import Limits, Session


def test_cells_share_state_and_show_trailing_values(sandbox_processes):
    with Session(cell_timeout=3) as s:
        assert s.run_cell("x = 20\ndef f(y):\n    return x + y").status == "ok"
        r = s.run_cell("f(22)")
        assert (r.status, r.stdout, r.restarted) == ("ok", "42\n", False)
        r = s.run_cell("import math\nprint(math.comb(10, 3))\nNone")
        assert r.stdout == "120\n"
        r = s.run_cell("import os\nos.write(1, b'fd-level')\nos.getuid() != 0")
        assert r.stdout == "True\n"  # writes to fd 1 do not corrupt the conversation
        r = s.run_cell("print(undefined_name)")
        assert r.status == "runtime_error"
        assert r.stderr.splitlines()[-1] == "NameError: name 'undefined_name' is not defined"
        assert s.run_cell("x").stdout == "20\n"  # an error does not lose the session
        assert s.isolated
    assert sandbox_processes() == []


def test_cell_timeouts_keep_state_by_replay():
    with Session(cell_timeout=1.5) as s:
        s.run_cell("total = 0\nfor i in range(10):\n    total += i")
        r = s.run_cell("import time\ntime.sleep(30)")
        assert r.status == "timeout" and r.wall_time < 10
        r = s.run_cell("total * 2")
        assert (r.status, r.stdout, r.restarted) == ("ok", "90\n", True)
        assert s.restarts == 1
        # CPU-bound: SIGXCPU inside the cell usually stops it first (the interpreter survives); on a busy machine
        # the wall-clock limit may win and the interpreter is restarted. State survives either way.
        r = s.run_cell("while True:\n    pass")
        assert r.status == "timeout"
        r = s.run_cell("total")
        assert r.stdout == "45\n"


def test_cell_limits_memory_and_output():
    with Session(cell_timeout=5, limits=Limits(memory_mb=512), max_cell_output=1000) as s:
        r = s.run_cell("b = bytearray(4 << 30)")
        assert r.status == "memory" and "MemoryError" in r.stderr
        r = s.run_cell("for i in range(10000):\n    print(i)")
        assert r.status == "ok" and r.stdout_truncated and len(r.stdout) == 1000
        assert r.stdout.startswith("0\n1\n2\n")
        assert s.run_cell("1 + 1").stdout == "2\n"
