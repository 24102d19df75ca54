"""Offline re-scoring of saved responses for the math and multiple-choice benchmarks (`python -m eval score`).

Each function here is a scorer for eval/score.py: `score_rows(rows, options) -> (scored_rows, summary)`.
Rows need `problem_id` and `response`; every input field is kept and `extracted`, `correct`, `reason` added.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eval.benchmarks.loaders import BenchmarkDataError
from eval.benchmarks.registry import get_benchmark
from eval.grading.choice import grade_choice
from eval.grading.math import grade_many
from eval.metrics import summarize

# File names looked for in --benchmark-dir.
LOCAL_FILES = {
    "math500": ("math500.jsonl",),
    "aime24": ("aime24.jsonl",),
    "gpqa_diamond": ("gpqa_diamond.jsonl", "gpqa_diamond.csv", "gpqa_diamond.parquet"),
    "gsm8k": ("gsm8k_test.jsonl", "test.jsonl"),
}


def _data_path(name: str, options: Any) -> Path | None:
    explicit = (getattr(options, "extra", None) or {}).get("path")
    if explicit:
        return Path(explicit)
    directory = getattr(options, "benchmark_dir", None)
    if directory is None:
        return None
    for filename in LOCAL_FILES.get(name, ()):
        if (Path(directory) / filename).exists():
            return Path(directory) / filename
    raise BenchmarkDataError(f"{directory}: none of {', '.join(LOCAL_FILES.get(name, ()))} found for benchmark {name}")


def score_benchmark(name: str, rows: list[dict[str, Any]], options: Any) -> tuple[list[dict[str, Any]], dict]:
    """Grade `rows` against benchmark `name`'s golds; the summary holds pass@1 and friends (percentages)."""
    bench = get_benchmark(name)
    problems = {p.problem_id: p for p in bench.loader(_data_path(name, options))}
    for i, row in enumerate(rows, start=1):
        if str(row["problem_id"]) not in problems:
            raise BenchmarkDataError(f"row {i}: problem_id {row['problem_id']!r} is not a {name} problem")
    golds = [problems[str(r["problem_id"])].gold for r in rows]
    if bench.grader == "math":
        timeout = getattr(options, "timeout", None) or 5.0
        grades = grade_many([(g, str(r["response"])) for g, r in zip(golds, rows, strict=True)], timeout_s=timeout,
                            workers=getattr(options, "workers", None))
    else:
        grades = [grade_choice(g, str(r["response"])) for g, r in zip(golds, rows, strict=True)]
    scored = []
    for row, gold, g in zip(rows, golds, grades, strict=True):
        scored.append({**row, "gold": gold, "extracted": g.extracted, "correct": g.correct, "reason": g.reason,
                       "truncated": row.get("finish_reason") == "length" or g.reason == "truncated"})
    return scored, {**summarize(scored), "metric": bench.metric, "grader": bench.grader}


def math500(rows: list[dict[str, Any]], options: Any) -> tuple[list[dict[str, Any]], dict]:
    """Scorer for MATH-500."""
    return score_benchmark("math500", rows, options)


def aime24(rows: list[dict[str, Any]], options: Any) -> tuple[list[dict[str, Any]], dict]:
    """Scorer for AIME 2024."""
    return score_benchmark("aime24", rows, options)


def gpqa_diamond(rows: list[dict[str, Any]], options: Any) -> tuple[list[dict[str, Any]], dict]:
    """Scorer for GPQA-Diamond (needs the data from --benchmark-dir, $DISTILLERY_GPQA_PATH or the hub)."""
    return score_benchmark("gpqa_diamond", rows, options)


def gsm8k(rows: list[dict[str, Any]], options: Any) -> tuple[list[dict[str, Any]], dict]:
    """Scorer for GSM8K test."""
    return score_benchmark("gsm8k", rows, options)
