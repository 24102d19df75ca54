"""Graded pairs per second: eval.grading.math.grade_many against a plain single-process math-verify loop.

    python benchmarks/grading_throughput.py [--shared ../shared] [--workers N] [--gsm8k 2000]

Both sides grade the same (gold, response) pairs in this process:
  math500_ref    MATH-500 golds vs their own reference solutions (mostly the same text: the in-process path)
  math500_other  each MATH-500 gold vs the next problem's solution (different answers: every pair needs sympy)
  nemo           150 real NeMo-Skills model generations vs their expected answers (mixed)
  gsm8k          GSM8K golds vs their `#### N` solutions (integers: the in-process path)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from math_verify import parse, verify

from eval.grading.math import _default_workers, grade_many


def _read(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _pairs(shared: Path, n_gsm8k: int) -> dict[str, list[tuple[str, str]]]:
    math500 = _read(shared / "benchmarks" / "math500.jsonl")
    gsm8k = _read(shared / "samples" / "gsm8k_train.jsonl")[:n_gsm8k]
    nemo = [r for i in range(3) for r in _read(shared / "samples" / "nemo_skills_openmath_outputs" / f"output-rs{i}.jsonl")]
    return {
        "math500_ref": [(r["answer"], r["solution"]) for r in math500],
        "math500_other": [(a["answer"], b["solution"]) for a, b in zip(math500[:-1], math500[1:], strict=True)],
        "nemo": [(r["expected_answer"], r["generation"]) for r in nemo],
        "gsm8k": [(r["answer"].split("####")[-1].strip(), r["answer"]) for r in gsm8k],
    }


def baseline(pairs: list[tuple[str, str]]) -> int:
    """What a user writes without this package: parse both sides and verify, one pair after another."""
    return sum(bool(verify(parse(f"${gold}$"), parse(response))) for gold, response in pairs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--gsm8k", type=int, default=2000)
    args = ap.parse_args()
    workers = args.workers or _default_workers()
    grade_many([("1", "\\boxed{1}"), ("\\frac12", "\\boxed{0.5}")], workers=workers)  # start workers once
    print(f"workers={workers}")
    print(f"{'set':<14} {'pairs':>6} {'baseline/s':>11} {'grade_many/s':>13} {'ratio':>6}  correct ours/baseline")
    for name, pairs in _pairs(args.shared, args.gsm8k).items():
        t0 = time.perf_counter()
        base_correct = baseline(pairs)
        t_base = time.perf_counter() - t0
        t0 = time.perf_counter()
        grades = grade_many(pairs, workers=workers)
        t_ours = time.perf_counter() - t0
        ours_correct = sum(g.correct for g in grades)
        rate_base, rate_ours = len(pairs) / t_base, len(pairs) / t_ours
        print(f"{name:<14} {len(pairs):>6} {rate_base:>11.0f} {rate_ours:>13.0f} {rate_ours / rate_base:>5.1f}x  "
              f"{ours_correct}/{base_correct}")


if __name__ == "__main__":
    main()
