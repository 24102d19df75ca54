"""Scores over per-sample verdicts: pass@1 (mean over samples, averaged over problems), unbiased pass@k,
majority vote, truncation rate."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct: 1 - C(n-c, k) / C(n, k) (Chen et al. 2021)."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def _vote_key(answer: str) -> str:
    return "".join(answer.split())


def majority_correct(answers: Sequence[str | None], correct: Sequence[bool]) -> bool:
    """Whether the most common extracted answer is right. Answers graded correct are all equivalent to the
    gold, so they vote together (string keys alone would split `\\frac{14}{3}` and `14/3`); wrong answers vote
    by their whitespace-free text; no-answer samples do not vote; a tie goes to the answer seen first."""
    votes: Counter[str] = Counter()
    for answer, ok in zip(answers, correct, strict=True):
        if answer is None:
            continue
        votes["\0correct" if ok else _vote_key(answer)] += 1
    if not votes:
        return False
    best = max(votes.values())
    winner = next(k for k in votes if votes[k] == best)  # Counter keeps first-seen order
    return winner == "\0correct"


def ks_for(n: int) -> list[int]:
    """The k values reported for n samples: 1, powers of two below n, and n."""
    ks = [1]
    k = 2
    while k < n:
        ks.append(k)
        k *= 2
    if n > 1:
        ks.append(n)
    return ks


def summarize(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Scores for one benchmark from sample rows (`problem_id`, `correct`, `extracted`, `truncated`).

    Percentages, like the published tables. pass@k and maj@k use the smallest sample count any problem has,
    so a partly finished run still reports comparable numbers.
    """
    by_problem: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_problem[str(row["problem_id"])].append(row)
    if not by_problem:
        return {"n_problems": 0, "n_samples": 0, "pass@1": None}
    n_min = min(len(s) for s in by_problem.values())
    n_samples = sum(len(s) for s in by_problem.values())
    out: dict[str, Any] = {
        "n_problems": len(by_problem),
        "n_samples": n_samples,
        "samples_per_problem": n_min,
        "pass@1": 100.0 * _mean(_mean(bool(r["correct"]) for r in s) for s in by_problem.values()),
    }
    for k in ks_for(n_min)[1:]:
        out[f"pass@{k}"] = 100.0 * _mean(
            pass_at_k(len(s), sum(bool(r["correct"]) for r in s), k) for s in by_problem.values()
        )
    if n_min > 1:
        out[f"maj@{n_min}"] = 100.0 * _mean(
            majority_correct([r.get("extracted") for r in s[:n_min]], [bool(r["correct"]) for r in s[:n_min]])
            for s in by_problem.values()
        )
    out["truncated_rate"] = 100.0 * sum(bool(r.get("truncated")) for s in by_problem.values() for r in s) / n_samples
    out["no_answer_rate"] = 100.0 * sum(r.get("extracted") is None for s in by_problem.values() for r in s) / n_samples
    tokens = [r["n_tokens"] for s in by_problem.values() for r in s if r.get("n_tokens") is not None]
    if tokens:
        out["mean_tokens"] = sum(tokens) / len(tokens)
    return out


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0
