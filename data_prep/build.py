"""`python -m data_prep build RECIPE` — ingest → dedup → decontaminate → respond → verify → quality → difficulty
→ publish.

Each stage writes its output under `<out>/work/` and a `.done` marker; `--resume` skips finished stages and
the teacher stage picks up where it stopped (its results are appended as they arrive), so an interrupted
build neither redoes nor duplicates work. Rejected records go to `<out>/rejects/<stage>.jsonl` with a reason.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from data_prep.decontaminate import DecontaminateConfig, Decontaminator
from data_prep.dedup import exact_dedup
from data_prep.difficulty import DifficultyConfig, difficulty_filter
from data_prep.ingest import Reject, ingest
from data_prep.progress import console
from data_prep.publish import print_summary, publish
from data_prep.quality import QualityConfig, quality_filter
from data_prep.respond import run_respond
from data_prep.row import stable_id
from data_prep.teacher import TeacherConfig, check_teacher
from data_prep.verify import VerifyConfig, verify_rows
from eval.jsonl import read_jsonl, write_jsonl
from eval.recipe import to_dict


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
    quality: QualityConfig = field(default_factory=QualityConfig)
    difficulty: DifficultyConfig = field(default_factory=DifficultyConfig)
    shard_size: int = 5000
    out: str = "runs/data"


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


def build(recipe: BuildRecipe, out: str | Path | None = None, resume: bool = False) -> dict[str, Any]:
    """Run every stage of `recipe` into `out`; return the stats written to stats.json."""
    check_teacher(recipe.teacher, [s.response for s in recipe.sources], f"recipe '{recipe.name}'")
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
    rows = stage("quality", lambda rs: quality_filter(rs, recipe.quality), rows)
    rows = stage("difficulty", lambda rs: difficulty_filter(rs, recipe.difficulty), rows)
    stats = publish(rows, b, recipe, info)
    stats["seconds"] = round(time.monotonic() - t_all, 1)
    (b.out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    print_summary(stats, b.out)
    return stats
