"""`python -m eval score --benchmark NAME --responses FILE.jsonl` — grade saved responses offline.

Rows need `response` and say which problem they answer by `problem_id` (or `id`), or by its text (`problem` /
`question`). A row's own `gold` overrides the benchmark's answer (for GPQA: the letter of the correct option
under the other harness's own option order), so outputs of another harness can be re-scored as they were asked;
with a `gold` on every row the benchmark file is not even needed. Any math benchmark can be scored from a file
(`--benchmark math --data FILE`: MATH test, AMC, OlympiadBench, …). Grading goes through the same dispatch as
`eval run` (eval/grading/dispatch.py). Every input field is kept, in input order; the verdict fields are added.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from eval.benchmarks.loaders import BenchmarkDataError, Problem
from eval.benchmarks.registry import BENCHMARKS, get_benchmark
from eval.grading.dispatch import GradeOptions, grade_samples
from eval.jsonl import BadLine, iter_jsonl, write_jsonl
from eval.metrics import summarize
from eval.summary import print_benchmark_table, write_disagreements

console = Console(stderr=True, soft_wrap=True)  # one-line errors stay one line

# File names looked for in --benchmark-dir.
LOCAL_FILES = {
    "math500": ("math500.jsonl",),
    "aime24": ("aime24.jsonl",),
    "gpqa_diamond": ("gpqa_diamond.jsonl", "gpqa_diamond.csv", "gpqa_diamond.parquet"),
    "gsm8k": ("gsm8k_test.jsonl", "test.jsonl"),
    "math": ("math.jsonl", "test.jsonl"),
}


class ScoreError(ValueError):
    """Bad input for scoring; the message names the file, row and field."""


def text_key(text: str) -> str:
    """How a problem is matched by its text: case and whitespace do not matter."""
    return " ".join(str(text).split()).lower()


def _data_path(name: str, data: Path | None, directory: Path | None) -> Path | None:
    if data is not None:
        return data
    if directory is None or name == "livecodebench":
        return directory
    if not directory.is_dir():
        raise BenchmarkDataError(f"--benchmark-dir {directory}: not a directory")
    for filename in LOCAL_FILES.get(name, ()):
        if (directory / filename).exists():
            return directory / filename
    raise BenchmarkDataError(f"--benchmark-dir {directory}: none of {', '.join(LOCAL_FILES.get(name, ()))} found "
                             f"for benchmark {name}")


def _load(name: str, path: Path | None, options: dict[str, Any], all_gold: bool) -> list[Problem]:
    bench = get_benchmark(name)
    try:
        if name == "livecodebench":
            # Score whatever problems the rows name: no date window.
            return bench.loader(path, release=options.get("release", "release_latest"), start_date=None,
                                end_date=None)
        return bench.loader(path)
    except BenchmarkDataError:
        if all_gold and bench.grader != "code":
            return []  # every row brings its own answer: the benchmark file is not needed
        raise


def match_rows(rows: list[dict[str, Any]], problems: list[Problem], name: str,
               source: str) -> list[tuple[str, str, Problem | None]]:
    """(problem_id, gold, problem) for every row: by id, else by problem text; a row's `gold` overrides."""
    by_id = {p.problem_id: p for p in problems}
    by_text = {text_key(p.problem): p for p in problems}
    out = []
    for i, row in enumerate(rows, start=1):
        rid = row.get("problem_id", row.get("id"))
        text = row.get("problem", row.get("question"))
        problem = by_id.get(str(rid)) if rid is not None else None
        if problem is None and isinstance(text, str):
            problem = by_text.get(text_key(text))
        gold = row.get("gold")
        if gold is not None and str(gold).strip():
            gold = str(gold).strip()
        else:
            gold = None
        if problem is None and gold is None:
            what = f"problem_id {rid!r}" if rid is not None else (f"problem text {str(text)[:60]!r}" if text else None)
            if what is None:
                raise ScoreError(f"{source}: row {i}: no 'problem_id', 'id', 'problem' or 'question' field")
            raise ScoreError(f"{source}: row {i}: {what} is not a {name} problem ({len(problems)} loaded) and the "
                             "row has no 'gold'")
        if problem is not None:
            pid = problem.problem_id
        elif rid is not None:
            pid = str(rid)
        else:
            pid = "text-" + hashlib.sha256(text_key(str(text)).encode()).hexdigest()[:12]
        out.append((pid, gold if gold is not None else problem.gold, problem))  # type: ignore[union-attr]
    return out


def score_rows(name: str, rows: list[dict[str, Any]], grade_options: GradeOptions, data: Path | None = None,
               benchmark_dir: Path | None = None, loader_options: dict[str, Any] | None = None,
               source: str = "<rows>") -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Grade rows against benchmark `name`; returns (scored rows, summary). Raises ScoreError /
    BenchmarkDataError with one-line messages."""
    bench = get_benchmark(name)
    for i, row in enumerate(rows, start=1):
        if not isinstance(row.get("response"), str):
            raise ScoreError(f"{source}: row {i}: missing or non-string field 'response'")
    all_gold = all(row.get("gold") not in (None, "") for row in rows)
    problems = _load(name, _data_path(name, data, benchmark_dir), loader_options or {}, all_gold)
    matched = match_rows(rows, problems, name, source)
    if bench.grader == "code":
        payloads = [p.payload if p is not None else None for _, _, p in matched]
    else:
        payloads = None
    verdicts = grade_samples(bench.grader, [g for _, g, _ in matched], [r["response"] for r in rows],
                             grade_options, payloads)
    scored = []
    for row, (pid, gold, problem), v in zip(rows, matched, verdicts, strict=True):
        out = {**row, "problem_id": row.get("problem_id", pid), "gold": gold, **v.row_fields(),
               "truncated": row.get("finish_reason") == "length" or v.truncated}
        if problem is not None and problem.meta and "meta" not in row:
            out["meta"] = {k: val for k, val in problem.meta.items() if k != "n_tests"}
        scored.append(out)
    summary = {**summarize(scored), "metric": bench.metric, "grader": bench.grader,
               "strict_format": grade_options.strict}
    return scored, summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval score", description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--benchmark", required=True, help=f"one of: {', '.join(sorted(BENCHMARKS))}")
    ap.add_argument("--responses", required=True, type=Path, help="JSONL rows with response and problem_id/problem")
    ap.add_argument("--data", type=Path, default=None, help="the benchmark's data file (any math file for 'math')")
    ap.add_argument("--benchmark-dir", type=Path, default=None, help="folder with the benchmark's files "
                    "(LiveCodeBench: livecodebench.jsonl or the official test*.jsonl)")
    ap.add_argument("--out", type=Path, default=None, help="scored JSONL (default: <responses>.scored.jsonl)")
    ap.add_argument("--timeout", type=float, default=None, help="per-answer (math) / per-test (code) limit, seconds")
    ap.add_argument("--workers", type=int, default=None, help="parallel graders (default: CPU count)")
    ap.add_argument("--strict-format", action="store_true", help="accept only <answer> / \\boxed{} answers")
    ap.add_argument("--no-second-grader", action="store_true", help="skip the independent math_equal grader")
    ap.add_argument("--release", default="release_latest", help="LiveCodeBench release tag of the local files")
    args = ap.parse_args(argv)

    if args.benchmark not in BENCHMARKS:
        console.print(f"[red]error:[/red] unknown benchmark {args.benchmark!r} (known: {', '.join(sorted(BENCHMARKS))})")
        return 2
    rows: list[dict[str, Any]] = []
    if not args.responses.exists():
        console.print(f"[red]error:[/red] {escape(str(args.responses))}: file not found")
        return 2
    for _, row in iter_jsonl(args.responses):
        if isinstance(row, BadLine):
            console.print(f"[red]error:[/red] {escape(str(row))}")
            return 2
        rows.append(row)
    options = GradeOptions(workers=args.workers, strict=args.strict_format, second_grader=not args.no_second_grader)
    if args.timeout:
        options.timeout_s = options.code_timeout_s = args.timeout
    from eval.sandbox import SandboxUnavailable

    try:
        scored, summary = score_rows(args.benchmark, rows, options, args.data, args.benchmark_dir,
                                     {"release": args.release}, str(args.responses))
    except (ScoreError, BenchmarkDataError) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        return 2
    except SandboxUnavailable as exc:
        console.print(f"[red]error:[/red] sandbox unavailable: {escape(str(exc))}")
        return 3
    out = args.out or args.responses.with_suffix(".scored.jsonl")
    write_jsonl(out, scored)
    disagreements = write_disagreements(out.with_suffix(".disagreements.jsonl"), scored)
    summary = {"benchmark": args.benchmark, "responses": str(args.responses), "out": str(out),
               **({"disagreements_file": str(disagreements)} if disagreements else {}), **summary}
    out.with_suffix(".summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print_benchmark_table({args.benchmark: summary}, console)
    print(json.dumps(summary, indent=2), file=sys.stdout)
    return 0
