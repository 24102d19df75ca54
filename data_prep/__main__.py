"""`python -m data_prep build|convert|verify|dedup|decontaminate ...`

    build RECIPE.yaml [--out DIR] [--resume] [key=value ...]   the whole pipeline from a recipe
    convert --from am|openmath|row --to am|openmath|row IN.jsonl OUT.jsonl
    verify IN.jsonl --out OUT.jsonl [--timeout S] [--workers N]  (rows in the corpus format)
    dedup IN.jsonl --out OUT.jsonl [--method exact|minhash|semantic] [--threshold T] [--field problem]
          [--id-field id] [--engine local|ray]
    decontaminate IN.jsonl --out OUT.jsonl [--benchmarks aime24,math500,gpqa_diamond,livecodebench]
          [--benchmark-dir DIR] [--methods lexical,embedding,judge] [--field problem] [--id-field id]
          [--judge-url URL --judge-model NAME]

verify and convert write bad or dropped rows to OUT.rejects.jsonl with file, line and reason; dedup and
decontaminate take any JSONL of objects with an id and a text field, write the kept lines unchanged to OUT, the
removed rows (what each matched, method, score) to OUT.removed.jsonl and unreadable lines to OUT.rejects.jsonl.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

from data_prep.convert import FROM_ROW, TO_ROW, ConvertError
from data_prep.ingest import Reject
from data_prep.row import row_errors
from eval.jsonl import BadLine, iter_jsonl, write_jsonl
from eval.recipe import RecipeError


def _rows_in(path: Path) -> tuple[list[dict[str, Any]], list[Reject]]:
    """Corpus rows from a JSONL file; malformed lines and rows that break the format become rejects."""
    rows, rejects = [], []
    for line, rec in iter_jsonl(path):
        if isinstance(rec, BadLine):
            rejects.append(Reject("read", rec.reason, file=str(path), line=line, record=rec.text[:2000]))
            continue
        errors = row_errors(rec)
        if errors:
            field, _, reason = errors[0].partition(": ")
            rejects.append(Reject("read", reason, file=str(path), line=line, field=field, record=rec))
            continue
        rec.setdefault("extra", {})
        rec["extra"]["origin"] = {"file": str(path), "line": line}
        rows.append(rec)
    return rows, rejects


def _write(out: Path, rows: list[dict], rejects: list[Reject]) -> int:
    write_jsonl(out, rows)
    rej = out.with_suffix(".rejects.jsonl")
    write_jsonl(rej, [r.to_json() for r in rejects])
    print(f"{out}: {len(rows)} rows; {len(rejects)} rejects in {rej}", file=sys.stderr)
    return 0


def _raise_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds `with` blocks, so a teacher server started by the build stops too


def cmd_build(args: argparse.Namespace, overrides: list[str]) -> int:
    from data_prep.build import build, load_build_recipe

    signal.signal(signal.SIGTERM, _raise_on_sigterm)

    from data_prep.teacher import check_teacher

    recipe = load_build_recipe(args.recipe, overrides)  # the whole recipe is checked before any work starts
    check_teacher(recipe.teacher, [s.response for s in recipe.sources], args.recipe)
    if args.engine:
        recipe.engine = args.engine
    try:
        build(recipe, out=args.out, resume=args.resume, recipe_path=str(args.recipe))
    except KeyboardInterrupt:  # the `with` blocks have stopped the teacher server and kept every answer
        print("interrupted: finished work is kept; continue with --resume", file=sys.stderr)
        return 130
    return 0


def cmd_convert(args: argparse.Namespace, overrides: list[str]) -> int:
    rows, rejects = [], []
    for line, rec in iter_jsonl(args.input):
        if isinstance(rec, BadLine):
            rejects.append(Reject("convert", rec.reason, file=str(args.input), line=line))
            continue
        try:
            row = rec if args.src == "row" else TO_ROW[args.src](rec)
            if args.src == "row" and row_errors(row):
                raise ConvertError(row_errors(row)[0])
            rows.append(row if args.dst == "row" else FROM_ROW[args.dst](row))
        except ConvertError as exc:
            field, _, reason = str(exc).partition(": ")
            rejects.append(Reject("convert", reason, file=str(args.input), line=line, field=field, record=rec))
    return _write(args.output, rows, rejects)


def cmd_verify(args: argparse.Namespace, overrides: list[str]) -> int:
    from data_prep.verify import VerifyConfig, verify_rows

    rows, rejects = _rows_in(args.input)
    cfg = VerifyConfig(timeout_s=args.timeout, workers=args.workers, keep_unverifiable=True)
    verified = verify_rows(rows, cfg)
    print(f"passed {sum(bool(r['verification']['passed']) for r in verified)} of {len(verified)}", file=sys.stderr)
    return _write(args.out, verified, rejects)


def cmd_dedup(args: argparse.Namespace, overrides: list[str]) -> int:
    from data_prep.standalone import run_dedup

    run_dedup(args.input, args.out, args.method, args.threshold, args.field, args.id_field, args.engine)
    return 0


def cmd_decontaminate(args: argparse.Namespace, overrides: list[str]) -> int:
    from data_prep.standalone import run_decontaminate

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    judge = None
    if args.judge_url or args.judge_model:
        judge = {"base_url": args.judge_url, "model": args.judge_model}
        if args.judge_low is not None:
            judge["low"] = args.judge_low
    from data_prep.decontaminate import JudgeError

    try:
        run_decontaminate(args.input, args.out, [b.strip() for b in args.benchmarks.split(",") if b.strip()],
                          args.benchmark_dir, methods, args.field, args.id_field, judge)
    except JudgeError as exc:  # an unreachable or misbehaving judge: one line, not a traceback
        raise ValueError(str(exc)) from exc
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m data_prep", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("build", help="run a corpus recipe end to end")
    p.add_argument("recipe", type=Path)
    p.add_argument("--out", type=Path, default=None, help="output directory (default: the recipe's 'out')")
    p.add_argument("--resume", action="store_true", help="continue an interrupted build in --out")
    p.add_argument("--engine", choices=["local", "ray"], default=None, help="override the recipe's engine")
    p = sub.add_parser("convert", help="convert between corpus rows and seed formats")
    p.add_argument("--from", dest="src", choices=["row", *TO_ROW], required=True)
    p.add_argument("--to", dest="dst", choices=["row", *FROM_ROW], required=True)
    p.add_argument("input", type=Path)
    p.add_argument("output", type=Path)
    p = sub.add_parser("verify", help="run the verify stage alone on corpus rows")
    p.add_argument("input", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("--workers", type=int, default=None)
    for name in ("dedup", "decontaminate"):
        p = sub.add_parser(name, help=f"{name} any JSONL of objects with an id and a text field")
        p.add_argument("input", type=Path)
        p.add_argument("--out", type=Path, required=True)
        p.add_argument("--field", default="problem", help="the text compared (default: problem)")
        p.add_argument("--id-field", default="id", help="the row id (default: id)")
        if name == "dedup":
            p.add_argument("--method", choices=["exact", "minhash", "semantic"], default="minhash",
                           help="exact: normalised text; minhash: + near duplicates; semantic: + embeddings")
            p.add_argument("--threshold", type=float, default=None,
                           help="Jaccard (minhash, default 0.6) or cosine (semantic, default 0.95)")
            p.add_argument("--engine", choices=["local", "ray"], default="local")
        else:
            p.add_argument("--benchmarks", default="math500,aime24",
                           help="names (aime24, math500, gpqa_diamond, livecodebench) or benchmark files")
            p.add_argument("--benchmark-dir", type=Path, default=None,
                           help="folder with gpqa_diamond.jsonl, livecodebench*.jsonl, ... (as eval score)")
            p.add_argument("--methods", default="lexical", help="comma list of lexical, embedding, judge")
            p.add_argument("--judge-url", default=None, help="OpenAI-compatible base URL of the judge")
            p.add_argument("--judge-model", default=None)
            p.add_argument("--judge-low", type=float, default=None, help="lowest score sent to the judge")
    args, rest = ap.parse_known_args(argv)
    if rest and args.cmd != "build":
        ap.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        return globals()[f"cmd_{args.cmd}"](args, rest)
    except (RecipeError, FileExistsError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
