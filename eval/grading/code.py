"""Code grading (LiveCodeBench): the program is the last fenced block after the reasoning, run on every test.

The truncation rule is the same as for math and choice answers: a response that opened `<think>` and never
closed it ran out of budget, and none of its code is executed (drafts inside the reasoning are not answers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from eval.grading.extract import final_part


@dataclass
class CodeGrade:
    """Verdict for one response: `reason` is ok, truncated, no answer, or the first failing test's verdict."""

    correct: bool
    extracted: str | None
    reason: str
    how: str  # code_block | none | truncated
    test_verdicts: list[str] = field(default_factory=list)
    failure: str = ""

    @property
    def format_ok(self) -> bool:
        return self.how == "code_block"


def grade_code(items: Sequence[tuple[str, Any]], timeout_s: float = 6.0, workers: int | None = None,
               remote: Any = None) -> list[CodeGrade]:
    """Grade (response, problem) pairs; a problem has `.tests` and `.func_name` (eval.livecodebench.Problem)."""
    from eval.livecodebench import GradeJob, extract_code
    from eval.livecodebench import grade_many as grade_programs

    out: list[CodeGrade | None] = []
    jobs: list[GradeJob] = []
    for response, problem in items:
        text, truncated = final_part(response)
        if truncated:
            out.append(CodeGrade(False, None, "truncated", "truncated"))
            continue
        program = extract_code(text or "")
        if not program.strip():
            out.append(CodeGrade(False, None, "no answer", "none"))
            continue
        options: dict[str, Any] = {"timeout": timeout_s}
        if remote is not None:
            options["remote"] = remote
        jobs.append(GradeJob(program, problem.tests, problem.func_name, options))
        out.append(None)
    results = iter(grade_programs(jobs, workers=workers))
    graded = iter(jobs)
    final: list[CodeGrade] = []
    for item in out:
        if item is not None:
            final.append(item)
            continue
        job, result = next(graded), next(results)
        failure = next((v for v in result.verdicts if v.verdict != "passed"), None)
        reason = "ok" if result.passed else (failure.verdict if failure else "no tests")
        final.append(CodeGrade(result.passed, job.program, reason, "code_block",
                               [v.verdict for v in result.verdicts],
                               (failure.message or failure.verdict) if failure else ""))
    return final
