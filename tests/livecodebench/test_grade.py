"""Verdicts of the LiveCodeBench runner on handmade problems, following the official grading rules."""

from __future__ import annotations

import pytest

from eval.livecodebench import GradeJob, grade_many, grade_program
from eval.livecodebench.grade import official_global_timeout

# (problem, solution) -> expected per-test verdicts (official order: public then private; stop at first failure)
CASES = {
    ("abc001_a", "sum_ok"): ["passed"] * 4,
    ("abc001_a", "sum_ok_buffer_trailing_ws"): ["passed"] * 4,  # real stdin; trailing spaces and blank lines
    ("abc001_a", "sum_ok_main_guard"): ["passed"] * 4,
    ("abc001_a", "sum_ok_exit"): ["passed"] * 4,  # exit() ends the program, it is not an error
    ("abc001_a", "sum_wrong_on_private"): ["passed", "passed", "wrong_answer", "not_run"],
    ("abc001_a", "sum_extra_line"): ["wrong_answer"] + ["not_run"] * 3,
    ("abc001_a", "sum_slow"): ["time_limit"] + ["not_run"] * 3,
    ("abc001_a", "sum_crash"): ["passed", "runtime_error", "not_run", "not_run"],
    ("abc001_a", "sum_syntax_error"): ["runtime_error"] + ["not_run"] * 3,
    ("abc002_b", "mean_ok_trailing_zeros"): ["passed"] * 3,  # "1.50" == "1.5" and "3.00" == "3" as Decimals
    ("abc002_b", "mean_ok_float"): ["passed"] * 3,  # "3.0" == "3"
    ("abc002_b", "mean_wrong_rounding"): ["passed", "wrong_answer", "not_run"],  # "1.5" ok but "1.2" != "1.25"
    ("3301", "head_ok_tuple"): ["passed"] * 3,  # a returned tuple counts as a list; prints are ignored
    ("3301", "head_ok_uses_prelude"): ["passed"] * 3,  # islice/deque without imports, as the official prelude
    ("3301", "head_wrong"): ["wrong_answer", "not_run", "not_run"],
    ("3301", "head_missing_method"): ["runtime_error", "not_run", "not_run"],
    ("3301", "head_slow"): ["time_limit", "not_run", "not_run"],
    ("3302", "pairs_ok"): ["passed", "passed"],
    ("3302", "pairs_nested_tuples"): ["wrong_answer", "not_run"],  # only the top level is converted
}


@pytest.fixture(scope="module")
def graded(problems, lcb):
    keys = list(CASES)
    jobs = [GradeJob(lcb.SOLUTIONS[s], problems[p].tests, problems[p].func_name, {"timeout": 1.0})
            for p, s in keys]
    return dict(zip(keys, grade_many(jobs, workers=2), strict=True))


@pytest.mark.parametrize("key", list(CASES), ids=[f"{p}-{s}" for p, s in CASES])
def test_verdicts(graded, key):
    result = graded[key]
    assert [v.verdict for v in result.verdicts] == CASES[key], result
    assert result.passed == all(v == "passed" for v in CASES[key])
    assert result.isolated


def test_verdict_messages(graded):
    wrong = graded[("abc001_a", "sum_wrong_on_private")].verdicts[2]
    assert wrong.message == "wrong answer at line 1: '1' != '0'"
    assert graded[("abc001_a", "sum_extra_line")].verdicts[0].message == "wrong answer: 2 output lines, expected 1"
    crash = graded[("abc001_a", "sum_crash")].verdicts[1]
    assert crash.message == "ZeroDivisionError: integer division or modulo by zero"
    assert "no method or function named 'headK'" in graded[("3301", "head_missing_method")].error
    assert "SyntaxError" in graded[("abc001_a", "sum_syntax_error")].verdicts[0].message
    assert graded[("abc001_a", "sum_slow")].verdicts[0].time >= 1.0


def test_global_timeout_fails_the_whole_problem(problems, lcb):
    # Each test takes 2 s (inside its 3 s limit); the global limit of 3.8 s leaves room for exactly one.
    slowish = "import time\ntime.sleep(2)\na, b = map(int, input().split())\nprint(a + b)"
    result = grade_program(slowish, problems["abc001_a"].tests, timeout=3.0, global_timeout=3.8)
    assert not result.passed
    assert [v.verdict for v in result.verdicts] == ["passed", "global_timeout", "global_timeout", "global_timeout"]
    assert "global time limit of 3.8 s exceeded" in result.error
    assert official_global_timeout(6, 10) == 75


def test_all_tests_mode_gives_a_pass_rate(problems, lcb):
    result = grade_program(lcb.SOLUTIONS["sum_wrong_on_private"], problems["abc001_a"].tests,
                           timeout=1.0, stop_on_first_failure=False)
    assert [v.verdict for v in result.verdicts] == ["passed", "passed", "wrong_answer", "passed"]
    assert result.n_passed == 3 and not result.passed


def test_expected_outputs_never_enter_the_sandbox(problems, monkeypatch):
    # The grader compares outside: the sandboxed harness is sent the program and the inputs, never an output.
    import json

    from eval.livecodebench import grade as grade_module

    sent = []
    real_run = grade_module.sandbox_run

    def recording_run(source, stdin, limits, allow_unisolated=None):
        sent.append(json.loads(stdin))
        return real_run(source, stdin=stdin, limits=limits, allow_unisolated=allow_unisolated)

    monkeypatch.setattr(grade_module, "sandbox_run", recording_run)
    tests = problems["abc001_a"].tests
    program = "a, b = map(int, input().split())\nprint(a + b)"
    assert grade_program(program, tests, timeout=2.0).passed
    assert sent == [{"code": program, "fn_name": None, "max_output": 64 << 20, "input": t.input, "timeout": 2.0}
                    for t in tests]


def test_tests_run_through_the_zygote_pool(problems):
    from eval.sandbox.isolation import probe
    from eval.sandbox.pool import shared_pool

    pool = shared_pool(probe())
    before = pool.started
    result = grade_program("a, b = map(int, input().split())\nprint(a + b)", problems["abc001_a"].tests, timeout=2.0)
    assert result.passed and result.isolated
    assert pool.started - before <= pool.size  # pooled sandboxes were reused, not one started per test


def test_program_that_hangs_while_loading(problems):
    hang = "while True:\n    pass\nclass Solution:\n    def headK(self, nums, k):\n        return nums[:k]"
    result = grade_program(hang, problems["3301"].tests, "headK", timeout=1.0)
    assert [v.verdict for v in result.verdicts] == ["time_limit", "not_run", "not_run"]
    assert result.wall_time < 15


def test_big_inputs_and_outputs(problems):
    from eval.livecodebench import TestCase

    n = 200_000
    tests = [TestCase(f"{n}\n" + " ".join(map(str, range(n))) + "\n", "\n".join(map(str, range(n - 1, -1, -1))))]
    program = ("import sys\ndata = sys.stdin.buffer.read().split()[1:]\n"
               "sys.stdout.write('\\n'.join(x.decode() for x in reversed(data)))")
    result = grade_program(program, tests, timeout=6.0)
    assert [v.verdict for v in result.verdicts] == ["passed"]


def test_harness_stopped_by_the_program_does_not_hang_grading(problems):
    from eval.livecodebench import TestCase

    # A test child stops its parent (the harness) and leaves; the next request cannot be delivered or answered.
    stopper = "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)\nprint(int(input()) * 2)"
    tests = [TestCase("1\n", "2\n"), TestCase("x" * 300_000 + "\n", "0\n")]
    result = grade_program(stopper, tests, timeout=1.0, global_timeout=6.0)
    assert [v.verdict for v in result.verdicts] == ["global_timeout", "global_timeout"]
    assert result.wall_time < 15
