"""Math answer grading: extract the final answer, normalise both sides, compare with two independent graders.

Primary grader (its verdict is `correct`): the normalised answers are equal as text, as integers, or as
choice letters — decided here, in-process — or else math-verify says they are equal (eval/grading/verify.py).
Second grader (`second_correct`): eval/grading/math_equal.py, a Qwen2.5-Math / PRIME style `math_equal` with
its own normaliser and its own LaTeX-to-sympy parser. Both see every sample; whatever needs sympy runs in the
worker pool under the same hard per-item deadline (eval/grading/pool.py), so no answer can hang a run.

Speed: identical (reference, answer) pairs are graded once per call (64 samples of a problem mostly write the
same answer), and most pairs never reach sympy.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from eval.grading.extract import STRICT_HOWS, Extracted, extract_answer
from eval.grading.math_equal import quick_equal
from eval.grading.normalize import choice_letter, compact, exact_number, normalize_answer, shape
from eval.grading.pool import run_jobs

__all__ = ["Extracted", "MathGrade", "extract_answer", "grade", "grade_many", "compare"]

_INT = re.compile(r"[-+]?\d{1,40}")
MAX_INPROCESS_CHARS = 1000


@dataclass
class MathGrade:
    """Verdict for one response. `reason`: ok | wrong answer | no answer | truncated | timeout | parse error |
    gold parse error | grader crashed | grader error. `how`: which extraction step found the answer.
    `method`: what decided the primary verdict (exact | numeric | choice | math_verify)."""

    correct: bool
    extracted: str | None
    reason: str
    how: str = "none"
    method: str | None = None
    second_correct: bool | None = None
    second_reason: str | None = None

    @property
    def format_ok(self) -> bool:
        """The answer was in `<answer>` or the last `\\boxed{}` after the reasoning."""
        return self.how in STRICT_HOWS

    @property
    def graders_agree(self) -> bool:
        return self.second_correct is None or self.second_correct == self.correct


@lru_cache(maxsize=1 << 16)  # pure over strings; the samples of a problem mostly repeat answers
def _primary_quick(gold: str, pred: str) -> tuple[bool, str] | None:
    """(correct, method) when normalised text, integers or choice letters decide; None for math-verify."""
    letter = choice_letter(gold, labelled=False)
    if letter is not None:
        return choice_letter(pred, labelled=True) == letter, "choice"
    gn = _normalized_gold(gold)
    pn = normalize_answer(pred, gn)
    if compact(gn) == compact(pn):
        return True, "exact"
    if _INT.fullmatch(gn) and _INT.fullmatch(pn):  # AIME "023" == 23, GSM8K "1,080" == 1080
        return int(gn) == int(pn), "numeric"
    g_val, p_val = exact_number(gn), exact_number(pn)
    if g_val is not None and p_val is not None:
        if g_val == p_val:
            return True, "numeric"
        if "." not in gn + pn:  # exact fractions that differ; decimals go to math-verify, which rounds them
            return False, "numeric"
        return None
    g_shape, p_shape = shape(gn), shape(pn)
    if g_shape != p_shape and "expr" not in (g_shape, p_shape) and "symbolic" not in (g_shape, p_shape):
        return False, "shape"  # a number is never a tuple, a matrix or a word
    if {g_shape, p_shape} == {"number", "symbolic"}:
        return False, "shape"  # a number never equals an expression in a free variable
    return None


@lru_cache(maxsize=1 << 16)
def _second_quick(pred: str, gold: str) -> bool | None:
    return quick_equal(pred, gold, percent="%" in gold or "%" in pred)


@lru_cache(maxsize=1 << 12)
def _normalized_gold(gold: str) -> str:
    return normalize_answer(gold)


def compare(gold: str, pred: str, timeout_s: float = 5.0, workers: int | None = None) -> tuple[bool, str]:
    """Primary verdict for an already extracted answer: (equal, reason)."""
    g = grade_many([(gold, "\\boxed{" + pred + "}")], timeout_s=timeout_s, workers=workers, second=False)[0]
    return g.correct, g.reason


def grade_many(
    pairs: Sequence[tuple[str, str]],
    timeout_s: float = 5.0,
    workers: int | None = None,
    strict: bool = False,
    second: bool = True,
) -> list[MathGrade]:
    """Grade (gold, response) pairs in order; each item that needs sympy gets at most `timeout_s` seconds per
    grader. `strict` accepts only `<answer>` / `\\boxed{}` answers; `second` runs the second grader too."""
    out: list[MathGrade] = []
    jobs: list[tuple] = []
    job_of: dict[tuple, int] = {}  # identical comparisons are graded once
    waiting: list[tuple[int, int | None, int | None]] = []  # (item, primary job, second job)

    def job(key: tuple) -> int:
        if key not in job_of:
            job_of[key] = len(jobs)
            jobs.append((len(jobs), *key))
        return job_of[key]

    for i, (gold, response) in enumerate(pairs):
        gold = str(gold)
        ex = extract_answer(response, strict=strict)
        if ex.truncated or ex.answer is None:
            reason = "truncated" if ex.truncated else "no answer"
            out.append(MathGrade(False, None, reason, ex.how, None, False if second else None,
                                 reason if second else None))
            continue
        grade = MathGrade(False, ex.answer, "", ex.how)
        # Answers longer than any real one are normalised and compared only in the deadline-bound workers.
        short = len(ex.answer) <= MAX_INPROCESS_CHARS and len(gold) <= MAX_INPROCESS_CHARS
        quick = _primary_quick(gold, ex.answer) if short else None
        p_job = None
        if quick is not None:
            grade.correct, grade.method = quick
            grade.reason = "ok" if grade.correct else "wrong answer"
        elif short:
            gn = _normalized_gold(gold)
            p_job = job(("mv", gn, normalize_answer(ex.answer, gn), gold, ex.answer))
        else:
            p_job = job(("mv", gold, ex.answer, gold, ex.answer))
        s_job = None
        if second:
            decided = _second_quick(ex.answer, gold) if short else None
            if decided is not None:
                grade.second_correct, grade.second_reason = decided, "ok" if decided else "wrong answer"
            else:
                s_job = job(("eq", ex.answer, gold))
        out.append(grade)
        if p_job is not None or s_job is not None:
            waiting.append((i, p_job, s_job))
    results = run_jobs(jobs, timeout_s, workers)
    for i, p_job, s_job in waiting:
        g = out[i]
        if p_job is not None:
            g.correct, g.reason = results[p_job]
            g.method = "math_verify"
        if s_job is not None:
            g.second_correct, g.second_reason = results[s_job]
    return out


def grade(gold: str, response: str, timeout_s: float = 5.0, strict: bool = False) -> MathGrade:
    """Grade one response against a reference answer (safe from any thread; the deadline always holds)."""
    return grade_many([(gold, response)], timeout_s=timeout_s, strict=strict)[0]
