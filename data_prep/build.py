"""`python -m data_prep build RECIPE` — ingest → dedup → decontaminate → respond → verify → publish.

Each stage writes its output under `<out>/work/` and a `.done` marker; `--resume` skips finished stages and
the teacher stage picks up where it stopped (its results are appended as they arrive), so an interrupted
build neither redoes nor duplicates work. Rejected records go to `<out>/rejects/<stage>.jsonl` with a reason.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter, defaultdict
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from data_prep.card import write_card
from data_prep.decontaminate import DecontaminateConfig, Decontaminator
from data_prep.dedup import exact_dedup
from data_prep.ingest import Reject, ingest
from data_prep.row import make_row, stable_id
from data_prep.teacher import Teacher, TeacherConfig, TeacherServer
from data_prep.verify import VerifyConfig, verify_rows
from eval.jsonl import iter_jsonl, read_jsonl, write_jsonl
from eval.recipe import to_dict

console = Console(stderr=True)


@dataclass
class SourceConfig:
    """One input file and how its problems get responses."""

    path: str
    format: str  # gsm8k | s1k | math | am | openmath | row
    name: str | None = None  # the rows' `source` (default: the format name)
    offset: int = 0
    limit: int | None = None
    response: str = "reference"  # reference: its own solution; teacher: ask the teacher; own: seed row's response


@dataclass
class BuildRecipe:
    """A corpus build: every stage's settings; `python -m data_prep build --help` lists them."""

    name: str
    sources: list[SourceConfig]
    description: str = ""
    teacher: TeacherConfig | None = None
    dedup: bool = True
    decontaminate: DecontaminateConfig | None = field(default_factory=DecontaminateConfig)
    verify: VerifyConfig = field(default_factory=VerifyConfig)
    shard_size: int = 5000
    out: str = "runs/data"


def progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
                    TimeRemainingColumn(), console=console, transient=False)


class Build:
    """The state of one build directory: stage markers, work files and reject files."""

    def __init__(self, recipe: BuildRecipe, out: Path, resume: bool):
        self.recipe, self.out, self.resume = recipe, out, resume
        self.work = out / "work"
        self.rejects_dir = out / "rejects"

    def prepare(self) -> None:
        if self.out.exists() and any(self.out.iterdir()) and not self.resume:
            raise FileExistsError(f"{self.out} already holds a build; pass --resume to continue it, or choose --out")
        if self.resume and (self.work / "recipe.json").exists():
            old = json.loads((self.work / "recipe.json").read_text())
            if old != to_dict(self.recipe):
                raise ValueError(f"{self.out}: --resume with a different recipe than the one this build started "
                                 f"with (see {self.work / 'recipe.json'}); use a new --out")
        self.work.mkdir(parents=True, exist_ok=True)
        self.rejects_dir.mkdir(parents=True, exist_ok=True)
        (self.work / "recipe.json").write_text(json.dumps(to_dict(self.recipe), indent=2) + "\n")

    def done(self, stage: str) -> bool:
        return self.resume and (self.work / f"{stage}.done").exists()

    def finish(self, stage: str, rows: list[dict], rejects: list[Reject], seconds: float) -> None:
        write_jsonl(self.work / f"{stage}.jsonl", rows)
        write_jsonl(self.rejects_dir / f"{stage}.jsonl", [r.to_json() for r in rejects])
        info = {"rows": len(rows), "rejects": len(rejects), "seconds": round(seconds, 2)}
        (self.work / f"{stage}.done").write_text(json.dumps(info) + "\n")

    def load(self, stage: str) -> list[dict]:
        return read_jsonl(self.work / f"{stage}.jsonl")


def run_ingest(recipe: BuildRecipe) -> tuple[list[dict], list[Reject]]:
    items, rejects = [], []
    for src in recipe.sources:
        name = src.name or src.format
        for got in ingest(src.path, src.format, name, offset=src.offset, limit=src.limit):
            if isinstance(got, Reject):
                rejects.append(got)
                continue
            got["item_id"] = stable_id(name, got["problem"])
            got["response_mode"] = src.response
            items.append(got)
    return items, rejects


def benchmark_problems(name: str) -> list[tuple[str, str]]:
    """(problem_id, text) pairs of a benchmark that eval ships or can load."""
    from eval.benchmarks import load_benchmark

    bench = load_benchmark(name)
    return [(str(p.id), p.problem) for p in bench.problems]


def item_row(item: dict[str, Any], response: str, teacher: str | None = None,
             sampling: dict | None = None, n_tokens: int | None = None) -> dict[str, Any]:
    return make_row(problem=item["problem"], response=response, source=item["source"], category=item["category"],
                    reference_answer=item.get("reference_answer"), teacher=teacher, sampling=sampling,
                    n_tokens=n_tokens, extra={"origin": item["origin"], "item_id": item["item_id"],
                                              "response_mode": item["response_mode"]})


def run_teacher(items: list[dict], cfg: TeacherConfig, b: Build) -> tuple[list[dict], list[Reject]]:
    """Ask the teacher for every (item, sample) not already answered in work/teacher.jsonl."""
    results_path = b.work / "teacher.results.jsonl"
    answered: dict[tuple[str, int], dict] = {}
    if results_path.exists():
        for _, rec in iter_jsonl(results_path):
            if isinstance(rec, dict) and "error" not in rec:  # failed requests are retried on resume
                answered[(rec["item_id"], rec["sample"])] = rec
    by_id = {it["item_id"]: it for it in items}
    jobs = [(it["item_id"], s, it["problem"]) for it in items for s in range(cfg.samples)
            if (it["item_id"], s) not in answered]
    if jobs:
        serving = (TeacherServer(cfg.serve_model, b.work / "teacher_server.log", cfg.server_start_timeout_s,
                                 dtype=cfg.serve_dtype)
                   if cfg.serve_model and not cfg.base_url else nullcontext())
        with serving as server:
            base_url = cfg.base_url or server.base_url
            model = cfg.model if cfg.base_url or cfg.model != "teacher" else cfg.serve_model
            teacher = Teacher(TeacherConfig(**{**to_dict(cfg), "model": model}), base_url)
            console.print(f"teacher: {len(jobs)} requests to {base_url} ({len(answered)} already answered)")
            t0, tokens = time.monotonic(), 0
            with progress() as bar, results_path.open("a", encoding="utf-8") as fh:
                task = bar.add_task("teacher", total=len(jobs), rate="")

                def on_result(res: dict) -> None:
                    nonlocal tokens
                    fh.write(json.dumps(res, ensure_ascii=False) + "\n")
                    fh.flush()
                    if "error" not in res:
                        answered[(res["item_id"], res["sample"])] = res
                    tokens += res.get("completion_tokens") or 0
                    rate = f"{tokens / max(time.monotonic() - t0, 1e-9):.0f} tok/s"
                    bar.update(task, advance=1, rate=rate)

                teacher.respond(jobs, on_result)
    rows, rejects = [], []
    sampling = {"temperature": cfg.temperature, "top_p": cfg.top_p, "max_tokens": cfg.max_tokens}
    for it in items:
        for s in range(cfg.samples):
            res = answered.get((it["item_id"], s))
            if res is None:
                rejects.append(Reject("respond", "teacher request failed (retried on --resume)",
                                      file=it["origin"]["file"], line=it["origin"]["line"],
                                      record={"item_id": it["item_id"], "sample": s}))
                continue
            if not res["response"].replace("<think>", "").replace("</think>", "").strip():
                rejects.append(Reject("respond", "teacher returned no text (content and reasoning empty)",
                                      file=it["origin"]["file"], line=it["origin"]["line"], field="response",
                                      record={"item_id": it["item_id"], "sample": s}))
                continue
            if res.get("finish_reason") == "length":
                rejects.append(Reject("respond", f"teacher hit max_tokens={cfg.max_tokens} (truncated response)",
                                      file=it["origin"]["file"], line=it["origin"]["line"], field="response",
                                      record={"item_id": it["item_id"], "sample": s, "response": res["response"]}))
                continue
            rows.append(item_row(by_id[it["item_id"]], res["response"], teacher=cfg.model if cfg.base_url
                                 else Path(cfg.serve_model or "teacher").name, sampling={**sampling, "sample": s},
                                 n_tokens=res.get("completion_tokens")))
    return rows, rejects


def run_respond(items: list[dict], recipe: BuildRecipe, b: Build) -> tuple[list[dict], list[Reject]]:
    rows, rejects, to_teacher = [], [], []
    for it in items:
        mode = it["response_mode"]
        if mode == "teacher":
            to_teacher.append(it)
        elif mode == "reference":
            if it.get("reference_response"):
                rows.append(item_row(it, it["reference_response"], teacher="reference"))
            else:
                rejects.append(Reject("respond", "response: reference requested but the source has no solution",
                                      file=it["origin"]["file"], line=it["origin"]["line"], field="solution"))
        elif mode == "own":
            if "row" in it:
                row = dict(it["row"])
                row["extra"] = {**(row.get("extra") or {}), "origin": it["origin"], "item_id": it["item_id"],
                                "response_mode": "own"}
                rows.append(row)
            else:
                rejects.append(Reject("respond", "response: own requested but the format carries no response",
                                      file=it["origin"]["file"], line=it["origin"]["line"]))
        else:
            raise ValueError(f"{it['origin']['file']}: unknown response mode {mode!r} (reference, teacher, own)")
    if to_teacher:
        if recipe.teacher is None:
            raise ValueError("a source asks for response: teacher but the recipe has no 'teacher' section")
        t_rows, t_rejects = run_teacher(to_teacher, recipe.teacher, b)
        rows += t_rows
        rejects += t_rejects
    return rows, rejects


def shares(rows: list[dict]) -> dict[str, dict[str, Any]]:
    """Verified share per (source, response mode): the figure that exposes extraction and grading bugs."""
    groups: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        key = f"{r['source']}/{(r.get('extra') or {}).get('response_mode', 'own')}"
        groups[key]["rows"] += 1
        p = r["verification"]["passed"]
        groups[key]["passed" if p else ("unverifiable" if p is None else "failed")] += 1
    out = {}
    for key, c in sorted(groups.items()):
        checked = c["passed"] + c["failed"]
        out[key] = {"rows": c["rows"], "passed": c["passed"], "failed": c["failed"],
                    "unverifiable": c["unverifiable"],
                    "verified_share": round(c["passed"] / checked, 4) if checked else None}
    return out


def teacher_stats(results_path: Path) -> dict[str, Any] | None:
    """What the teacher did: requests, failures, truncations and tokens, from its results file."""
    if not results_path.exists():
        return None
    latest: dict[tuple[str, int], dict] = {}
    errors = 0
    for _, rec in iter_jsonl(results_path):
        if isinstance(rec, dict):
            errors += "error" in rec
            latest[(rec["item_id"], rec["sample"])] = rec
    ok = [r for r in latest.values() if "error" not in r]
    tokens = sum(r.get("completion_tokens") or 0 for r in ok)
    return {
        "requests": len(latest), "answered": len(ok), "failed_attempts": errors,
        "stopped": sum(r.get("finish_reason") == "stop" for r in ok),
        "hit_max_tokens": sum(r.get("finish_reason") == "length" for r in ok),
        "completion_tokens": tokens,
        "mean_seconds_per_request": round(sum(r["seconds"] for r in ok) / len(ok), 2) if ok else None,
    }


def publish(rows: list[dict], b: Build, recipe: BuildRecipe, stage_info: dict) -> dict[str, Any]:
    data = b.out / "data"
    if data.exists():
        shutil.rmtree(data)
    kept = [r for r in rows if r["verification"]["passed"] or
            (r["verification"]["passed"] is None and recipe.verify.keep_unverifiable)]
    dropped = [r for r in rows if r not in kept]
    n_shards = max(1, -(-len(kept) // recipe.shard_size))
    for i in range(n_shards):
        write_jsonl(data / f"train-{i:05d}-of-{n_shards:05d}.jsonl",
                    kept[i * recipe.shard_size:(i + 1) * recipe.shard_size])
    write_jsonl(b.rejects_dir / "verify.jsonl", [
        {"stage": "verify", "reason": r["verification"]["reason"], "file": r["extra"]["origin"]["file"],
         "line": r["extra"]["origin"]["line"], "field": "response", "record": r}
        for r in dropped if "origin" in (r.get("extra") or {})
    ])
    reject_counts: dict[str, Counter] = {}
    for path in sorted(b.rejects_dir.glob("*.jsonl")):
        reasons = Counter()
        for _, rec in iter_jsonl(path):
            if isinstance(rec, dict):
                reason = rec.get("reason", "?")
                reasons[reason.split(": got ")[0][:120]] += 1
        if reasons:
            reject_counts[path.stem] = dict(reasons.most_common(20))
    stats = {
        "name": recipe.name,
        "rows": len(kept),
        "shards": n_shards,
        "stages": stage_info,
        "verification": shares(rows),
        "teacher": teacher_stats(b.work / "teacher.results.jsonl"),
        "rejects": {stage: sum(c.values()) for stage, c in reject_counts.items()},
        "reject_reasons": reject_counts,
        "by_source": dict(Counter(r["source"] for r in kept)),
        "by_category": dict(Counter(r["category"] for r in kept)),
    }
    (b.out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    write_card(b.out, recipe, stats)
    return stats


def build(recipe: BuildRecipe, out: str | Path | None = None, resume: bool = False) -> dict[str, Any]:
    """Run every stage of `recipe` into `out`; return the stats written to stats.json."""
    b = Build(recipe, Path(out or recipe.out), resume)
    b.prepare()
    info: dict[str, Any] = {}
    t_all = time.monotonic()

    def stage(name: str, fn, *args) -> list[dict]:
        if b.done(name):
            console.print(f"[dim]{name}: done earlier, skipped (--resume)[/dim]")
        else:
            t0 = time.monotonic()
            rows, rejects = fn(*args)
            b.finish(name, rows, rejects, time.monotonic() - t0)
            console.print(f"{name}: {len(rows)} kept, {len(rejects)} rejected ({time.monotonic() - t0:.1f} s)")
        info[name] = json.loads((b.work / f"{name}.done").read_text())
        return b.load(name)

    items = stage("ingest", run_ingest, recipe)
    if recipe.dedup:
        items = stage("dedup", exact_dedup, items)
    if recipe.decontaminate and recipe.decontaminate.names():
        dc = recipe.decontaminate

        def decontaminate(items: list[dict]) -> tuple[list[dict], list[Reject]]:
            index = Decontaminator({n: benchmark_problems(n) for n in dc.names()}, n=dc.ngram,
                                   min_coverage=dc.min_coverage)
            return index.filter(items)

        items = stage("decontaminate", decontaminate, items)
    rows = stage("respond", run_respond, items, recipe, b)
    rows = stage("verify", lambda rs: (verify_rows(rs, recipe.verify), []), rows)
    stats = publish(rows, b, recipe, info)
    stats["seconds"] = round(time.monotonic() - t_all, 1)
    (b.out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    print_summary(stats, b.out)
    return stats


def print_summary(stats: dict[str, Any], out: Path) -> None:
    table = Table(title=f"corpus '{stats['name']}' → {out}/data ({stats['rows']} rows, {stats['seconds']} s)")
    table.add_column("source/response", no_wrap=True, min_width=24)
    for col in ("rows", "passed", "failed", "unverifiable", "verified share"):
        table.add_column(col, justify="right")
    for key, s in stats["verification"].items():
        share = "-" if s["verified_share"] is None else f"{100 * s['verified_share']:.1f}%"
        table.add_row(key, str(s["rows"]), str(s["passed"]), str(s["failed"]), str(s["unverifiable"]), share)
    console.print(table)
    if stats.get("teacher"):
        t = stats["teacher"]
        console.print(f"teacher: {t['answered']}/{t['requests']} answered, {t['stopped']} finished, "
                      f"{t['hit_max_tokens']} hit max_tokens, {t['completion_tokens']} tokens")
    rej = ", ".join(f"{k} {v}" for k, v in stats["rejects"].items()) or "none"
    console.print(f"rejects by stage: {rej}  (reasons in {out}/rejects/, counts in {out}/stats.json)")
