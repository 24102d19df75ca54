"""The one dispatch path from a benchmark's grader name to verdicts: used by `eval run`, `eval score` and the
lm-eval task files alike, so a sample gets the same verdict whichever way it was scored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

GRADERS = ("math", "choice", "code")


@dataclass
class GradeOptions:
    """How to grade: deadlines, parallelism, the strict-format reading and the second math grader."""

    timeout_s: float = 5.0  # per math answer and grader
    code_timeout_s: float = 6.0  # per LiveCodeBench test (the official limit)
    workers: int | None = None  # grader processes / concurrent sandboxes (default: one per CPU)
    strict: bool = False  # accept only <answer> / \boxed{} (math), "Answer: X" / boxed letter (choice)
    second_grader: bool = True  # run the independent math_equal grader beside math-verify
    remote: Any = None  # a RemoteSandbox for code, instead of the local sandbox


@dataclass
class Verdict:
    """One sample's grade, as written into its row (see `row_fields`)."""

    correct: bool
    extracted: str | None
    reason: str
    how: str
    format_ok: bool
    truncated: bool
    second_correct: bool | None = None
    second_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def row_fields(self) -> dict[str, Any]:
        """The fields a samples.jsonl / scored row carries (README: "Sample rows")."""
        fields: dict[str, Any] = {"extracted": self.extracted, "correct": self.correct, "reason": self.reason,
                                  "how": self.how, "format_ok": self.format_ok}
        if self.second_correct is not None:
            fields["second_correct"] = self.second_correct
            fields["second_reason"] = self.second_reason
        return {**fields, **self.extra}


def grade_samples(grader: str, golds: Sequence[str], responses: Sequence[str], options: GradeOptions,
                  problems: Sequence[Any] | None = None) -> list[Verdict]:
    """Grade responses in order. `golds` are reference answers (math) or correct letters (choice); code
    needs `problems` (objects with `.tests` and `.func_name`)."""
    if grader == "math":
        from eval.grading.math import grade_many

        grades = grade_many(list(zip(golds, responses, strict=True)), timeout_s=options.timeout_s,
                            workers=options.workers, strict=options.strict, second=options.second_grader)
        return [Verdict(g.correct, g.extracted, g.reason, g.how, g.format_ok, g.reason == "truncated",
                        g.second_correct, g.second_reason) for g in grades]
    if grader == "choice":
        from eval.grading.choice import grade_choice

        grades = [grade_choice(g, r, strict=options.strict) for g, r in zip(golds, responses, strict=True)]
        return [Verdict(g.correct, g.extracted, g.reason, g.how, g.format_ok, g.reason == "truncated")
                for g in grades]
    if grader == "code":
        from eval.grading.code import grade_code

        if problems is None:
            raise ValueError("code grading needs the problems (tests)")
        grades = grade_code(list(zip(responses, problems, strict=True)), timeout_s=options.code_timeout_s,
                            workers=options.workers, remote=options.remote)
        return [Verdict(g.correct, g.extracted, g.reason, g.how, g.format_ok, g.reason == "truncated",
                        extra={"test_verdicts": g.test_verdicts, "failure": g.failure}) for g in grades]
    raise ValueError(f"unknown grader {grader!r} (known: {', '.join(GRADERS)})")
