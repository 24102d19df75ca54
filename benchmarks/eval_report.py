"""How long `python -m eval report` takes on a full-size run, and how much memory it holds while reading it.

A synthetic MATH-500 run (500 problems × 16 samples, 4 KB responses: the size of an R1-protocol run's samples file
divided by about 8) is written to a temporary folder. The report (Markdown + HTML + figures) is timed beside the
floor for any reader of that file: one plain `json.loads` pass over its lines, in the same process. Peak Python
memory (tracemalloc) is measured in a second report run, against the size of the samples file.

    python -m benchmarks.eval_report [--problems 500] [--samples 16] [--chars 4000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
import tracemalloc
from pathlib import Path

from eval.jsonl import write_jsonl
from eval.metrics import summarize
from eval.report.build import write_report

MATH500 = Path(__file__).resolve().parents[1] / "eval" / "benchmarks" / "data" / "math500.jsonl"


def make_run(out: Path, problems: int, samples: int, chars: int) -> Path:
    rng = random.Random(0)
    source = [json.loads(x) for x in MATH500.read_text().splitlines()][:problems]
    slim = []

    def rows():
        for p in source:
            for j in range(samples):
                ok = rng.random() < 0.4
                row = {"benchmark": "math500", "problem_id": p["unique_id"], "sample": j, "prompt": p["problem"],
                       "gold": p["answer"], "response": "<think>" + "x" * chars + "</think>\\boxed{1}",
                       "extracted": p["answer"] if ok else "1", "correct": ok, "reason": "ok" if ok else "wrong answer",
                       "how": "boxed", "format_ok": True, "second_correct": ok, "second_reason": "equal",
                       "n_tokens": rng.randint(500, 8000), "finish_reason": "stop", "truncated": False,
                       "meta": {"subject": p["subject"], "level": p["level"]}}
                slim.append({k: v for k, v in row.items() if k not in ("prompt", "response")})
                yield row

    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "math500.samples.jsonl", rows())
    summary = {"model": "synthetic", "backend": "hf", "sampling": {"temperature": 0.6, "top_p": 0.95,
                                                                   "max_new_tokens": 32768, "seed": 0},
               "benchmarks": {"math500": {**summarize(slim), "benchmark": "math500",
                                          "samples_file": "math500.samples.jsonl"}}}
    (out / "summary.json").write_text(json.dumps(summary))
    return out / "math500.samples.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--problems", type=int, default=500)
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--chars", type=int, default=4000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        samples = make_run(run, args.problems, args.samples, args.chars)
        size_mb = samples.stat().st_size / 2**20
        n = args.problems * args.samples
        t0 = time.perf_counter()
        with samples.open() as f:
            for line in f:
                json.loads(line)
        floor = time.perf_counter() - t0
        t0 = time.perf_counter()
        write_report([run], Path(tmp) / "out")
        took = time.perf_counter() - t0
        tracemalloc.start()
        write_report([run], Path(tmp) / "out2")
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    print(f"samples file: {n:,} samples, {size_mb:.0f} MB; load average {os.getloadavg()}")
    print(f"plain json.loads pass (floor): {floor:.2f} s ({n / floor:,.0f} samples/s)")
    print(f"eval report (md + html + figures): {took:.2f} s ({n / took:,.0f} samples/s), {took / floor:.2f}× the floor")
    print(f"peak Python memory during the report: {peak:.1f} MB = {peak / size_mb:.2f}× the samples file")


if __name__ == "__main__":
    main()
