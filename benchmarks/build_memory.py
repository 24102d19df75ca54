"""Peak memory of a streaming build at two sizes: AM-shaped rows with 8 KB responses, reference responses (own),
no teacher. Each build runs in a fresh child process; its peak RSS (ru_maxrss of the child) is the figure.

    python -m benchmarks.build_memory [--small 50000] [--large 200000] [--shard-size 5000]

Prints both peaks, their ratio (flat: close to 1 while the data grew 4x), and the projected peak for 1.4M rows
(a straight line through the two points; target <= 4 GB).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

WORDS = ("integral derivative triangle prime modulo sequence polynomial vertex matrix probability digit sum area "
         "radius circle angle ratio fraction equation root").split()


def make_rows(path: Path, n: int, response_bytes: int = 8192) -> None:
    """n distinct AM-format rows (user + assistant with info blocks) with `response_bytes` of reasoning each."""
    with path.open("w") as fh:
        for i in range(n):
            words = " ".join(WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(12))
            problem = f"Problem {i}: given the {words}, compute the value of {i} * {i % 97} + {i % 13}."
            think = (f"Step {i}: " + "we reason about the " + words + ". ") * (response_bytes // (len(words) + 40))
            think = think[:response_bytes]
            answer = f"The answer is $\\boxed{{{i * (i % 97) + i % 13}}}$."
            rec = {"messages": [
                {"role": "user", "content": problem,
                 "info": {"source": "synthetic", "reference_answer": str(i * (i % 97) + i % 13), "test_case": None,
                          "think_content": None, "answer_content": None}},
                {"role": "assistant", "content": f"<think>{think}</think>\n<answer>{answer}</answer>",
                 "info": {"source": "am-0309", "think_content": think, "answer_content": answer,
                          "reference_answer": None, "test_case": None}}]}
            fh.write(json.dumps(rec) + "\n")


def measure(n: int, workdir: Path, shard_size: int) -> dict[str, float]:
    src = workdir / f"am_{n}.jsonl"
    make_rows(src, n)
    recipe = workdir / f"r_{n}.yaml"
    recipe.write_text(yaml.safe_dump({
        "name": f"mem-{n}", "shard_size": shard_size, "decontaminate": None,
        "sources": [{"path": str(src), "format": "am", "response": "own"}],
        "clean": {"answer_parse": {"enabled": False}},
    }))
    out = workdir / f"out_{n}"
    t0 = time.monotonic()
    log = workdir / f"build_{n}.log"
    with log.open("w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "data_prep", "build", str(recipe), "--out", str(out)],
                                stdout=fh, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS (its grader workers are separate)
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"build of {n} rows failed:\n{log.read_text()[-3000:]}")
    peak_kb = usage.ru_maxrss
    stats = json.loads((out / "stats.json").read_text())
    src.unlink()
    return {"rows": stats["rows"], "peak_mb": peak_kb / 1024, "seconds": time.monotonic() - t0,
            "input_mb": n * 8.6 * 2 / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", type=int, default=50000)
    ap.add_argument("--large", type=int, default=200000)
    ap.add_argument("--shard-size", type=int, default=5000)
    ap.add_argument("--dir", default=None, help="work folder (default: a temporary folder, removed at the end)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        small = measure(args.small, Path(tmp), args.shard_size)
        large = measure(args.large, Path(tmp), args.shard_size)
    slope = (large["peak_mb"] - small["peak_mb"]) / (args.large - args.small)
    projected = large["peak_mb"] + slope * (1_400_000 - args.large)
    print(f"load average: {os.getloadavg()}")
    for name, m in (("small", small), ("large", large)):
        print(f"{name}: {m['rows']} rows kept, peak RSS {m['peak_mb']:.0f} MB, {m['seconds']:.0f} s")
    print(f"peak ratio large/small: {large['peak_mb'] / small['peak_mb']:.2f} (rows x{args.large / args.small:.0f})")
    print(f"projected peak for 1.4M rows: {projected:.0f} MB (target <= 4096 MB: "
          f"{'met' if projected <= 4096 else 'NOT met'})")


if __name__ == "__main__":
    main()
