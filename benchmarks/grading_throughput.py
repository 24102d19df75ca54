"""Long-reasoning responses graded per second: eval.grading (both graders) against plain math-verify.

    python -m benchmarks.grading_throughput [--shared ../shared] [--workers 2] [--baseline-n 240]

The responses are built the way R1-style models write them, from real MATH-500 and AIME 2024 problems: a
`<think>` block of several KB of real solution text (this problem's and others', with drafts boxed inside the
reasoning), then `</think>` and a final answer — mostly the reference answer boxed as written or in an equivalent
form, some wrong, some stated in prose, some in `<answer>` tags, a few cut off before `</think>` — 4 samples per
MATH-500 problem and 16 per AIME problem (the AM protocol). Both sides grade the same responses in this process:

  ours      eval.grading.math.grade_many: extraction, normalisation, math-verify AND the second grader, each item
            under a hard deadline, `--workers` grader processes
  baseline  plain math-verify on whole responses, `verify(parse(gold), parse(response))`, in a pool of the same
            number of processes (what a user writes without this package), on the first --baseline-n responses

Prints responses/s for both, their ratio, and how the two verdicts compare.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from eval.grading.math import grade_many
from eval.grading.pool import default_workers

FILLER = [
    "Wait, let me double-check that step.", "Hmm, that does not look right; let me redo the computation.",
    "Let me verify this with a different approach.", "So far so good.", "Actually, I should be careful here.",
    "Let me re-read the problem statement.", "That means we need to consider another case.",
]


def _read(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _variant(gold: str, rng: random.Random) -> str:
    """The reference answer written another (equivalent) way, as models do."""
    choices = [gold, gold.replace("\\frac", "\\dfrac"), f"x = {gold}", gold.replace(" ", ""), f"{gold}\\text{{ units}}",
               f"\\left({gold}\\right)" if "," not in gold else gold]
    return rng.choice(choices)


def build_responses(shared: Path, seed: int = 0) -> list[tuple[str, str]]:
    """(gold, response) pairs: 4 per MATH-500 problem, 16 per AIME 2024 problem."""
    rng = random.Random(seed)
    math500 = _read(shared / "benchmarks" / "math500.jsonl")
    aime = _read(shared / "benchmarks" / "aime24.jsonl")
    corpus = [r["solution"] for r in math500] + [r["solution"] for r in aime]
    pairs = []
    for problems, n in ((math500, 4), (aime, 16)):
        golds = [str(r["answer"]) for r in problems]
        for row in problems:
            gold = str(row["answer"])
            for _ in range(n):
                parts = [row["solution"]]
                while sum(map(len, parts)) < rng.randint(3000, 12000):
                    parts.append(rng.choice(FILLER))
                    parts.append(rng.choice(corpus))
                think = "\n\n".join(parts)
                kind = rng.random()
                wrong = rng.choice(golds)
                if kind < 0.62:
                    final = f"Therefore, the answer is $\\boxed{{{gold}}}$."
                elif kind < 0.72:
                    final = f"So the final answer is $\\boxed{{{_variant(gold, rng)}}}$."
                elif kind < 0.82:
                    final = f"Hence the answer is $\\boxed{{{wrong}}}$."
                elif kind < 0.88:
                    final = rng.choice([f"So the answer is ${gold}$.", f"Answer: {gold}",
                                        f"Putting it together, the value is ${gold}$."])
                elif kind < 0.94:
                    final = f"<answer>\\boxed{{{rng.choice([gold, wrong])}}}</answer>"
                else:
                    pairs.append((gold, "<think>\n" + think))  # ran out of budget
                    continue
                pairs.append((gold, f"<think>\n{think}\n</think>\n\n**Solution.** {row['solution'][:400]}\n\n{final}"))
    return pairs


def _baseline_one(pair: tuple[str, str]) -> bool:
    from math_verify import parse, verify

    gold, response = pair
    try:
        return bool(verify(parse(f"\\boxed{{{gold}}}"), parse(response)))
    except Exception:  # noqa: BLE001 - a failure is a wrong verdict, as for a user's loop
        return False


def baseline(pairs: list[tuple[str, str]], workers: int) -> list[bool]:
    """Plain math-verify on whole responses in `workers` processes (its own SIGALRM timeouts apply there)."""
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_baseline_one, pairs[:workers]))  # start and import before timing
        return list(pool.map(_baseline_one, pairs, chunksize=4))


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--baseline-n", type=int, default=240)
    args = ap.parse_args()
    workers = args.workers or default_workers()
    pairs = build_responses(args.shared)
    sizes = sorted(len(r) for _, r in pairs)
    print(f"{len(pairs)} responses, median {sizes[len(sizes) // 2] / 1024:.1f} KB, max {sizes[-1] / 1024:.1f} KB; "
          f"workers={workers}; load average {os.getloadavg()[0]:.2f}")
    grade_many([("1", "\\boxed{1}"), ("\\frac12", "\\boxed{0.5}"), ("x^2", "\\boxed{x\\cdot x}")], workers=workers)

    t0 = time.perf_counter()
    ours = grade_many(pairs, workers=workers)
    t_ours = time.perf_counter() - t0

    subset = pairs[:: max(1, len(pairs) // args.baseline_n)][: args.baseline_n]
    t0 = time.perf_counter()
    base = baseline(subset, workers)
    t_base = time.perf_counter() - t0

    rate_ours, rate_base = len(pairs) / t_ours, len(subset) / t_base
    print(f"ours (extraction + math-verify + second grader): {rate_ours:7.0f} responses/s  "
          f"({len(pairs)} in {t_ours:.1f} s)")
    print(f"baseline (plain math-verify, whole responses):   {rate_base:7.0f} responses/s  "
          f"({len(subset)} in {t_base:.1f} s)")
    print(f"ratio: {rate_ours / rate_base:.1f}x")
    index = {id(p): i for i, p in enumerate(pairs)}
    ours_subset = [ours[index[id(p)]].correct for p in subset]
    agree = sum(a == b for a, b in zip(ours_subset, base, strict=True))
    print(f"on the baseline's {len(subset)} responses: ours {sum(ours_subset)} correct, baseline {sum(base)}, "
          f"same verdict on {agree}; graders disagree on {sum(not g.graders_agree for g in ours)} of {len(ours)}; "
          f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
