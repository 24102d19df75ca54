"""`python -m eval score --benchmark livecodebench`: grade saved responses (rows with problem_id, response)."""

from __future__ import annotations

import sys
import time
from collections import Counter, defaultdict
from math import comb
from typing import Any

from eval.livecodebench.extract import extract_code
from eval.livecodebench.grade import DEFAULT_TIMEOUT, GradeJob, grade_many
from eval.livecodebench.problems import Problem, load_problems


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al. 2021): 1 - C(n-c, k) / C(n, k)."""
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def score_rows(rows: list[dict[str, Any]], options) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Extract each response's program, run it on its problem's tests, add extracted/correct/test_verdicts."""
    extra = dict(getattr(options, "extra", {}) or {})
    problems = load_problems(options.benchmark_dir, release=extra.get("release", "release_latest"))
    by_id: dict[str, Problem] = {p.question_id: p for p in problems}
    missing = [(i + 1, row["problem_id"]) for i, row in enumerate(rows) if str(row["problem_id"]) not in by_id]
    if missing:
        where = options.benchmark_dir or "the hub"
        shown = ", ".join(f"row {r}: {pid!r}" for r, pid in missing[:5])
        raise SystemExit(f"error: {len(missing)} response rows name a problem_id not in {where} "
                         f"({len(by_id)} problems loaded): {shown}")
    timeout = options.timeout or DEFAULT_TIMEOUT
    jobs = []
    for row in rows:
        problem = by_id[str(row["problem_id"])]
        jobs.append(GradeJob(extract_code(str(row["response"])), problem.tests, problem.func_name,
                             {"timeout": timeout}))
    print(f"livecodebench: grading {len(jobs)} responses over {len({r['problem_id'] for r in rows})} problems "
          f"(timeout {timeout:g} s per test)", file=sys.stderr)
    started = time.monotonic()
    results = grade_many(jobs, workers=options.workers, progress=True)
    elapsed = time.monotonic() - started
    scored = []
    per_problem: dict[str, list[bool]] = defaultdict(list)
    verdict_counts: Counter[str] = Counter()
    for row, job, result in zip(rows, jobs, results, strict=True):
        first_failure = next((v for v in result.verdicts if v.verdict != "passed"), None)
        scored.append({
            **row,
            "extracted": job.program,
            "correct": result.passed,
            "test_verdicts": [v.verdict for v in result.verdicts],
            "failure": (first_failure.message or first_failure.verdict) if first_failure else "",
        })
        per_problem[str(row["problem_id"])].append(result.passed)
        verdict_counts["passed" if result.passed else (first_failure.verdict if first_failure else "no_tests")] += 1
    n_min = min(len(v) for v in per_problem.values()) if per_problem else 0
    summary: dict[str, Any] = {
        "n_rows": len(rows),
        "n_problems": len(per_problem),
        "pass@1": round(sum(sum(v) / len(v) for v in per_problem.values()) / max(1, len(per_problem)), 6),
    }
    for k in (5, 10):
        if n_min >= k:
            summary[f"pass@{k}"] = round(
                sum(pass_at_k(len(v), sum(v), k) for v in per_problem.values()) / len(per_problem), 6)
    by_difficulty: dict[str, list[float]] = defaultdict(list)
    for pid, v in per_problem.items():
        by_difficulty[by_id[pid].difficulty or "unknown"].append(sum(v) / len(v))
    summary["pass@1_by_difficulty"] = {d: round(sum(x) / len(x), 6) for d, x in sorted(by_difficulty.items())}
    summary["outcomes"] = dict(sorted(verdict_counts.items()))
    summary["no_code_extracted"] = sum(1 for j in jobs if not j.program.strip())
    summary["isolated"] = all(r.isolated for r in results)
    summary["grading_seconds"] = round(elapsed, 2)
    return scored, summary
