"""Choose the demo teacher's problems: GSM8K train problems SmolLM2-135M-Instruct can solve.

    python -m data_prep.data.select_teacher_problems GSM8K_TRAIN_JSONL [--work DIR] [--out FILE] [--limit N]

A 135M model is right on about 1 % of GSM8K problems, so a demo that asked it random problems would distil
nothing. This script asks it (through the real build, with the demo recipe's own teacher, prompt, sampling,
token budget, verification and quality filters: `recipes/demo.yaml` with its sources swapped) every candidate
problem once, and keeps the ones whose answer the build verified. Candidates follow the rule in SOURCES.md:
GSM8K train lines after line 400 (the demo's reference rows are lines 1–400) whose reference solution has
exactly two non-empty lines before `#### N`. The output lines are byte copies of GSM8K's, in file order, so the
selection can be checked against the upstream file; the 1-based line numbers are printed for SOURCES.md.

The build runs in this process (its own SIGTERM / Ctrl-C handling, its served teacher stopped with it) and is
resumable: run the same command again to go on. The demo asks these problems again, maybe in another dtype on
another CPU, so only some verify there: the selection makes "sometimes right" likely, not certain.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import yaml

from data_prep.__main__ import main as data_prep_main

ROOT = Path(__file__).resolve().parents[2]
FIRST_LINE = 401  # lines 1-400 are the demo's reference rows (gsm8k_train_400.jsonl)


def candidates(train: Path) -> list[tuple[int, bytes]]:
    """(1-based line number, raw line) of every candidate problem, in file order."""
    out = []
    with train.open("rb") as f:
        for n, raw in enumerate(f, 1):
            if n < FIRST_LINE or not raw.strip():
                continue
            steps = [s for s in json.loads(raw)["answer"].split("####")[0].splitlines() if s.strip()]
            if len(steps) == 2:  # two non-empty lines (line 2816 has a blank line between them)
                out.append((n, raw if raw.endswith(b"\n") else raw + b"\n"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("train", type=Path, help="GSM8K train.jsonl (openai/grade-school-math)")
    ap.add_argument("--work", type=Path, default=Path("runs/select_teacher_problems"))
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("gsm8k_train_teacher.jsonl"))
    ap.add_argument("--limit", type=int, default=None, help="ask only the first N candidates")
    ap.add_argument("--samples", type=int, default=1, help="teacher samples per candidate")
    args = ap.parse_args()
    train, work, out = args.train.resolve(), args.work.resolve(), args.out.resolve()
    os.chdir(ROOT)  # the demo recipe's paths (${DISTILLERY_CACHE} defaults to .cache) are relative to the repo

    cands = candidates(train)[: args.limit]
    work.mkdir(parents=True, exist_ok=True)
    pool = work / "candidates.jsonl"
    pool.write_bytes(b"".join(raw for _, raw in cands))
    recipe = yaml.safe_load((ROOT / "recipes" / "demo.yaml").read_text())
    recipe.update(name="select_teacher_problems", out=str(work / "corpus"), shard_size=1000,
                  sources=[{"path": str(pool.resolve()), "format": "gsm8k", "name": "gsm8k", "response": "teacher"}])
    recipe["teacher"]["samples"] = args.samples
    recipe.pop("description", None)
    (work / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    print(f"asking the demo teacher {len(cands)} candidates × {args.samples} (resumable: run again to go on)")
    rc = data_prep_main(["build", str(work / "recipe.yaml"), "--resume"])
    if rc:
        sys.exit(rc)

    solved: set[int] = set()  # lines of candidates.jsonl whose teacher answer verified
    for part in sorted((work / "corpus" / "data").glob("*.jsonl")):
        for line in part.open():
            row = json.loads(line)
            if row.get("teacher") not in (None, "reference") and row["verification"]["passed"]:
                solved.add(int(row["extra"]["origin"]["line"]))
    chosen = [(n, raw) for k, (n, raw) in enumerate(cands, 1) if k in solved]
    out.write_bytes(b"".join(raw for _, raw in chosen))
    print(f"{len(chosen)} of {len(cands)} candidates solved → {out}")
    print("GSM8K train lines (1-based):", " ".join(str(n) for n, _ in chosen))


if __name__ == "__main__":
    main()
