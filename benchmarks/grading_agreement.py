"""Agreement of eval.grading with other harnesses' stored per-sample labels on real generations.

    python -m benchmarks.grading_agreement [--shared ../shared] [--gsm8k-solutions FILE --gsm8k-test FILE]

Sources (each graded under its own protocol, every disagreement printed with the two verdicts):
  nemo   150 NeMo-Skills generations on MATH problems (../shared/samples), labels = NeMo-Skills' `symbolic_correct`;
         NeMo-Skills reads only the last \\boxed{}, so it is compared with our strict reading (and the lenient
         reading is shown too)
  gsm8k  OpenAI's GPT-3 solutions to GSM8K test problems with OpenAI's `is_correct` (tests/eval/data holds the first
         50 problems = 200 samples; pass the full openai/grade-school-math files for all 5,276)
Prints the agreement per source and overall, and the ratio to plain math-verify's agreement on the same samples.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from eval.grading.math import grade_many

REPO = Path(__file__).resolve().parents[1]
KEYS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")


def _read(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def nemo(shared: Path) -> tuple[list[tuple[str, str]], list[bool]]:
    rows = [r for i in range(3) for r in _read(shared / "samples" / "nemo_skills_openmath_outputs" / f"output-rs{i}.jsonl")]
    return [(r["expected_answer"], r["generation"]) for r in rows], [bool(r["symbolic_correct"]) for r in rows]


def gsm8k(test: Path, solutions: Path) -> tuple[list[tuple[str, str]], list[bool]]:
    pairs, labels = [], []
    for t, s in zip(_read(test), _read(solutions), strict=True):
        if t["question"] != s["question"]:
            raise SystemExit(f"{test} and {solutions} are not aligned")
        gold = t["answer"].split("####")[-1].strip()
        for key in KEYS:
            pairs.append((gold, s[key]["solution"]))
            labels.append(bool(s[key]["is_correct"]))
    return pairs, labels


def _plain_math_verify(pairs: list[tuple[str, str]]) -> list[bool]:
    from math_verify import parse, verify

    out = []
    for gold, response in pairs:
        try:
            out.append(bool(verify(parse(f"\\boxed{{{gold}}}"), parse(response))))
        except Exception:  # noqa: BLE001
            out.append(False)
    return out


def report(name: str, pairs: list[tuple[str, str]], labels: list[bool], strict: bool) -> tuple[int, int, int]:
    grades = grade_many(pairs, strict=strict)
    agree = sum(g.correct == lab for g, lab in zip(grades, labels, strict=True))
    plain = sum(p == lab for p, lab in zip(_plain_math_verify(pairs), labels, strict=True))
    reading = "strict" if strict else "lenient"
    print(f"{name:<6} {reading:<8} {agree}/{len(pairs)} = {100 * agree / len(pairs):.2f}% agree "
          f"(plain math-verify on whole responses: {100 * plain / len(pairs):.2f}%); "
          f"our two graders disagree on {sum(not g.graders_agree for g in grades)}")
    for (gold, _), g, lab in zip(pairs, grades, labels, strict=True):
        if g.correct != lab:
            print(f"    gold {gold!r}: theirs {lab}, ours {g.correct} ({g.reason}; extracted {g.extracted!r} by {g.how})")
    return agree, plain, len(pairs)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--gsm8k-test", type=Path, default=REPO / "tests" / "eval" / "data" / "gsm8k_test_head50.jsonl")
    ap.add_argument("--gsm8k-solutions", type=Path,
                    default=REPO / "tests" / "eval" / "data" / "gsm8k_example_model_solutions_head50.jsonl")
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}")
    pairs, labels = nemo(args.shared)
    report("nemo", pairs, labels, strict=False)
    totals = [report("nemo", pairs, labels, strict=True)]
    pairs, labels = gsm8k(args.gsm8k_test, args.gsm8k_solutions)
    totals.append(report("gsm8k", pairs, labels, strict=False))
    agree, plain, n = (sum(t[i] for t in totals) for i in range(3))
    print(f"overall (each source under its own protocol): {agree}/{n} = {100 * agree / n:.2f}% "
          f"(plain math-verify: {100 * plain / n:.2f}%, ratio {agree / max(plain, 1):.3f})")


if __name__ == "__main__":
    main()
