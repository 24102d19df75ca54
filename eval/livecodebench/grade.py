"""Grade a program against LiveCodeBench-style tests in the sandbox, with the official rules.

The official rules (lcb_runner/evaluation/testing_util.py): tests run in order, public then private; the
first failing test ends the run; per-test time limit `timeout` (6 s); the whole check is also bounded by a
global limit of (timeout + 1) * n_tests + 5 s, and a problem that hits it fails every test. A problem passes
only if every test passes. data_prep can ask for all tests to run (`stop_on_first_failure=False`) to get a
pass rate instead.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from eval.livecodebench.compare import call_match, stdio_match
from eval.livecodebench.problems import TestCase
from eval.sandbox.limits import Limits, MiB
from eval.sandbox.remote import RemoteSandbox
from eval.sandbox.runner import default_workers
from eval.sandbox.runner import run as sandbox_run

DRIVER = Path(__file__).with_name("harness_driver.py")
DEFAULT_TIMEOUT = 6.0

Verdict = Literal["passed", "wrong_answer", "time_limit", "runtime_error", "global_timeout", "not_run"]


@dataclass
class TestVerdict:
    verdict: Verdict
    time: float = 0.0
    message: str = ""


@dataclass
class GradeResult:
    """`passed` is the official per-problem outcome; `verdicts` has one entry per test, in test order."""

    passed: bool
    verdicts: list[TestVerdict]
    error: str = ""  # why the program could not be loaded, or why grading stopped early
    wall_time: float = 0.0
    isolated: bool = True

    @property
    def n_passed(self) -> int:
        return sum(v.verdict == "passed" for v in self.verdicts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GradeJob:
    program: str
    tests: list[TestCase]
    func_name: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


def official_global_timeout(timeout: float, n_tests: int) -> float:
    return (timeout + 1) * n_tests + 5


def _verdict_from_run(reply: dict[str, Any], expected: str, func_name: str | None) -> TestVerdict:
    status, t = reply["status"], reply["time"]
    if status == "timeout":
        return TestVerdict("time_limit", t, "time limit exceeded")
    if status == "output_limit":
        return TestVerdict("wrong_answer", t, "output limit exceeded")
    if status in ("runtime_error", "memory"):
        tail = reply["stderr"].strip().splitlines()[-1:] or ["non-zero exit"]
        return TestVerdict("runtime_error", t, tail[0][:500])
    ok, message = call_match(reply["stdout"], expected) if func_name else stdio_match(reply["stdout"], expected)
    return TestVerdict("passed" if ok else "wrong_answer", t, message)


def grade_program(
    program: str,
    tests: list[TestCase],
    func_name: str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    global_timeout: float | None = None,
    stop_on_first_failure: bool = True,
    memory_mb: int = 4096,
    max_output_mb: int = 64,
    allow_unisolated: bool | None = None,
    remote: RemoteSandbox | None = None,
) -> GradeResult:
    """Run `program` on every test (stdin/stdout, or `Solution().<func_name>` when func_name is set).

    Each test is one run of the harness driver in a sandbox from the zygote pool (a pre-started sandbox forks
    a fresh child per run, so tests share nothing), or, with `remote`, one request to that SandboxFusion-style
    service. Raises SandboxUnavailable when the host cannot isolate and `allow_unisolated` is not set.
    """
    started = time.monotonic()
    n = len(tests)
    budget = official_global_timeout(timeout, n) if global_timeout is None else global_timeout
    deadline = started + budget
    source = DRIVER.read_text().replace("\nONE_SHOT = False\n", "\nONE_SHOT = True\n", 1)
    verdicts: list[TestVerdict] = []
    error = ""
    isolated = True
    for i, test in enumerate(tests):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            verdicts += [TestVerdict("global_timeout")] * (n - i)
            error = f"global time limit of {budget:g} s exceeded"
            break
        request = {"code": program, "fn_name": func_name, "max_output": max_output_mb * MiB, "input": test.input,
                   "timeout": timeout}
        # +5 s over the per-test limit for the interpreter start and the program's module-level code.
        limits = Limits(timeout=min(timeout + 5.0, remaining), cpu=timeout + 5, memory_mb=memory_mb,
                        max_output=2 * max_output_mb * MiB + (1 << 20), max_processes=64)
        if remote is not None:
            run = remote.run(source, stdin=json.dumps(request), limits=limits)
        else:
            run = sandbox_run(source, stdin=json.dumps(request), limits=limits, allow_unisolated=allow_unisolated)
        isolated = isolated and run.isolated
        try:
            reply = json.loads(run.stdout) if run.status == "ok" else None
        except json.JSONDecodeError:
            reply = None
        if reply is None:
            if run.status == "timeout" and time.monotonic() >= deadline - 0.01:
                verdicts += [TestVerdict("global_timeout")] * (n - i)
                error = f"global time limit of {budget:g} s exceeded"
                break
            # The harness itself died (the program killed it, or exhausted the sandbox): this test failed.
            verdict = TestVerdict("time_limit" if run.status == "timeout" else "runtime_error", run.wall_time,
                                  f"sandbox {run.status}: {run.stderr[-300:]}")
        elif not reply["ok"]:
            # Loading failed: the official grader reports one runtime error for the whole program.
            error = reply["error"].strip()
            verdicts.append(TestVerdict("runtime_error", 0.0, error.splitlines()[-1][:500] if error else ""))
            verdicts += [TestVerdict("not_run")] * (n - i - 1)
            break
        else:
            verdict = _verdict_from_run(reply, test.output, func_name)
        verdicts.append(verdict)
        if verdict.verdict != "passed" and stop_on_first_failure:
            verdicts += [TestVerdict("not_run")] * (n - i - 1)
            break
    if any(v.verdict == "global_timeout" for v in verdicts):
        # Official: a problem that hits the global limit fails as a whole.
        verdicts = [v if v.verdict != "not_run" else TestVerdict("global_timeout") for v in verdicts]
    passed = n > 0 and all(v.verdict == "passed" for v in verdicts)
    return GradeResult(passed, verdicts, error, round(time.monotonic() - started, 4), isolated)


def grade_many(jobs: list[GradeJob], workers: int | None = None, progress: bool = False) -> list[GradeResult]:
    """Grade many programs in parallel (one sandbox each at a time); results in input order.

    `progress` shows a bar with rate and ETA on stderr (for long scoring runs).
    """
    if not jobs:
        return []

    def one(job: GradeJob) -> GradeResult:
        return grade_program(job.program, job.tests, job.func_name, **job.options)

    with ThreadPoolExecutor(max_workers=workers or default_workers()) as pool:
        if not progress:
            return list(pool.map(one, jobs))
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        futures = [pool.submit(one, job) for job in jobs]
        columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=Console(stderr=True)) as bar:
            task = bar.add_task("grading", total=len(futures))
            for future in as_completed(futures):
                future.result()
                bar.advance(task)
        return [f.result() for f in futures]
