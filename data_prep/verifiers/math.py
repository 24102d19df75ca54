"""Math verification through eval's grader: the one dispatch path that scores benchmarks (eval.grading.dispatch)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eval.grading.dispatch import GradeOptions, Verdict, grade_samples

# Grader reasons that a second opinion can overturn: the grader read an answer it judged wrong, or found none
# it could parse. Truncated responses never reach the judge (the reasoning did not finish).
JUDGEABLE = ("wrong answer", "no answer", "parse error", "gold parse error", "timeout", "grader crashed",
             "grader error")


@dataclass
class MathVerdict:
    passed: bool
    score: float
    reason: str
    extracted: str | None
    judgeable: bool


def verify_math(pairs: Sequence[tuple[str, str]], timeout_s: float = 5.0, workers: int | None = None,
                strict: bool = True) -> list[MathVerdict]:
    """Grade (reference answer, response) pairs in order. `strict` reads only `<answer>` / `\\boxed{}` answers
    (a training response should state its answer where a reader, and a reward function, looks for it)."""
    verdicts: list[Verdict] = grade_samples("math", [str(g) for g, _ in pairs], [r for _, r in pairs],
                                            GradeOptions(timeout_s=timeout_s, workers=workers, strict=strict,
                                                         second_grader=False))
    out = []
    for v in verdicts:
        reason = v.reason if v.correct or v.extracted is None else f"{v.reason}: got {v.extracted!r}"
        out.append(MathVerdict(v.correct, 1.0 if v.correct else 0.0, reason, v.extracted,
                               not v.correct and v.reason.split(":")[0] in JUDGEABLE))
    return out
