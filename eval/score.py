"""`python -m eval score --benchmark NAME --responses FILE.jsonl` — grade saved responses offline.

Each benchmark's scorer lives with its benchmark; this file only parses arguments, looks the scorer up,
and writes rows + summary. A scorer is `score_rows(rows, options) -> (scored_rows, summary)`: it must keep
every input field, keep input order, and add at least `correct`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.jsonl import BadLine, iter_jsonl, write_jsonl

# name -> "module:function"; imported lazily so scoring math never imports the sandbox and vice versa.
SCORERS: dict[str, str] = {
    "livecodebench": "eval.livecodebench.score:score_rows",
    "math500": "eval.benchmarks.scoring:math500",
    "aime24": "eval.benchmarks.scoring:aime24",
    "gpqa_diamond": "eval.benchmarks.scoring:gpqa_diamond",
    "gsm8k": "eval.benchmarks.scoring:gsm8k",
}


@dataclass
class ScoreOptions:
    """What every scorer may use; benchmark-specific knobs go in `extra`."""

    benchmark_dir: Path | None = None
    timeout: float | None = None
    workers: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def get_scorer(name: str) -> Callable[[list[dict], ScoreOptions], tuple[list[dict], dict]]:
    if name not in SCORERS:
        raise SystemExit(f"error: unknown benchmark {name!r} (known: {', '.join(sorted(SCORERS))})")
    module, func = SCORERS[name].split(":")
    return getattr(importlib.import_module(module), func)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval score", description=__doc__.splitlines()[0])
    ap.add_argument("--benchmark", required=True, help=f"one of: {', '.join(sorted(SCORERS))}")
    ap.add_argument("--responses", required=True, type=Path, help="JSONL rows with problem_id and response")
    ap.add_argument("--benchmark-dir", type=Path, default=None, help="local benchmark files (else the hub)")
    ap.add_argument("--out", type=Path, default=None, help="scored JSONL (default: <responses>.scored.jsonl)")
    ap.add_argument("--timeout", type=float, default=None, help="per-item / per-test time limit in seconds")
    ap.add_argument("--workers", type=int, default=None, help="parallel graders (default: CPU count)")
    args = ap.parse_args(argv)

    rows: list[dict] = []
    for _, row in iter_jsonl(args.responses):
        if isinstance(row, BadLine):
            print(f"error: {row}", file=sys.stderr)
            return 2
        rows.append(row)
    for i, row in enumerate(rows):
        for key in ("problem_id", "response"):
            if key not in row:
                print(f"error: {args.responses}: row {i + 1}: missing field '{key}'", file=sys.stderr)
                return 2

    scorer = get_scorer(args.benchmark)
    options = ScoreOptions(benchmark_dir=args.benchmark_dir, timeout=args.timeout, workers=args.workers)
    try:
        scored, summary = scorer(rows, options)
    except ValueError as exc:  # unknown problem_id, unreadable benchmark file: the message names file and row
        print(f"error: {args.responses}: {exc}", file=sys.stderr)
        return 2
    out = args.out or args.responses.with_suffix(".scored.jsonl")
    write_jsonl(out, scored)
    summary = {"benchmark": args.benchmark, "responses": str(args.responses), "out": str(out), **summary}
    out.with_suffix(".summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0
