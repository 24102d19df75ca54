"""Scores over per-sample verdicts, all in percent like the published tables: pass@1 (mean over samples,
averaged over problems) with its standard error, unbiased pass@k, majority vote maj@k, the strict-format score
and format-compliance rate, truncation and no-answer rates, response length, agreement of the two math
graders, and per-subject / per-level / per-difficulty breakdowns."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

# Row `meta` keys that get a breakdown when present (MATH subject/level, LCB difficulty, GPQA domain).
BREAKDOWN_KEYS = ("subject", "level", "difficulty", "domain", "platform")


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


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def _stderr(values: Sequence[float]) -> float | None:
    """Standard error of the mean over problems (sample standard deviation / sqrt(problems))."""
    if len(values) < 2:
        return None
    mean = _mean(values)
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return math.sqrt(var / len(values))


def _pass1(by_problem: dict[str, list[dict[str, Any]]]) -> float:
    return 100.0 * _mean(_mean(bool(r["correct"]) for r in s) for s in by_problem.values())


def summarize(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Scores for one benchmark from sample rows (`problem_id`, `sample`, `correct`, `extracted`, and when
    present `format_ok`, `truncated`, `second_correct`, `n_tokens`, `response`, `reason`, `how`, `meta`).

    pass@k and maj@k use the smallest sample count any problem has, so a partly finished run still reports
    comparable numbers.
    """
    by_problem: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_problem[str(row["problem_id"])].append(row)
    if not by_problem:
        return {"n_problems": 0, "n_samples": 0, "pass@1": None}
    for samples in by_problem.values():
        samples.sort(key=lambda r: r.get("sample", 0))
    n_min = min(len(s) for s in by_problem.values())
    flat = [r for s in by_problem.values() for r in s]
    n_samples = len(flat)
    rates = [100.0 * _mean(bool(r["correct"]) for r in s) for s in by_problem.values()]
    out: dict[str, Any] = {
        "n_problems": len(by_problem),
        "n_samples": n_samples,
        "samples_per_problem": n_min,
        "pass@1": _mean(rates),
        "pass@1_stderr": _stderr(rates),
    }
    for k in ks_for(n_min)[1:]:
        out[f"pass@{k}"] = 100.0 * _mean(
            pass_at_k(len(s), sum(bool(r["correct"]) for r in s), k) for s in by_problem.values()
        )
    for k in ks_for(n_min)[1:]:
        out[f"maj@{k}"] = 100.0 * _mean(
            majority_correct([r.get("extracted") for r in s[:k]], [bool(r["correct"]) for r in s[:k]])
            for s in by_problem.values()
        )
    if any("format_ok" in r for r in flat):
        out["pass@1_strict"] = 100.0 * _mean(
            _mean(bool(r["correct"]) and bool(r.get("format_ok")) for r in s) for s in by_problem.values())
        out["format_rate"] = 100.0 * _mean(bool(r.get("format_ok")) for r in flat)
    out["truncated_rate"] = 100.0 * _mean(bool(r.get("truncated")) for r in flat)
    out["no_answer_rate"] = 100.0 * _mean(r.get("extracted") is None for r in flat)
    tokens = [r["n_tokens"] for r in flat if r.get("n_tokens") is not None]
    if tokens:
        out["mean_tokens"] = _mean(tokens)
    chars = [len(r["response"]) for r in flat if isinstance(r.get("response"), str)]
    if chars:
        out["mean_response_chars"] = _mean(chars)
    second = [r for r in flat if r.get("second_correct") is not None]
    if second:
        out["second_grader_pass@1"] = 100.0 * _mean(
            _mean(bool(r.get("second_correct")) for r in s) for s in by_problem.values())
        out["grader_disagreements"] = sum(bool(r["second_correct"]) != bool(r["correct"]) for r in second)
    if any("reason" in r for r in flat):
        out["reasons"] = dict(Counter(str(r.get("reason")) for r in flat).most_common())
    if any("how" in r for r in flat):
        out["answer_found_by"] = dict(Counter(str(r.get("how")) for r in flat).most_common())
    breakdowns: dict[str, dict[str, dict[str, Any]]] = {}
    for key in BREAKDOWN_KEYS:
        groups: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(dict)
        for pid, s in by_problem.items():
            value = (s[0].get("meta") or {}).get(key)
            if value is not None:
                groups[str(value)][pid] = s
        if groups:
            breakdowns[key] = {v: {"n_problems": len(g), "pass@1": _pass1(g)} for v, g in sorted(groups.items())}
    if breakdowns:
        out["by"] = breakdowns
    return out
