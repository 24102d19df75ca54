"""The streaming build in two passes over shards; every shard is written atomically and marked when finished.

Pass 1 (ingest): sources → clean → shards of items in work/items/, each item's keys added to the dedup index.
Pass 2 (per item shard): dedup filter → decontaminate → respond → verify → work/out/ part of the same number.
Only one shard of rows is in memory at a time; what spans the build is the dedup index (a hash per problem),
the benchmark index and per-shard counts. An interrupted build resumes after the last marked shard: pass 1
re-reads the sources up to that point without writing anything and rebuilds the index from the finished item
shards; pass 2 skips finished parts.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from data_prep.clean import clean
from data_prep.difficulty import annotate, difficulty_filter
from data_prep.index_adapters import Decontaminator, Deduplicator, restore
from data_prep.progress import console
from data_prep.quality import quality_filter
from data_prep.reject import Reject
from data_prep.respond import RespondContext, respond
from data_prep.shards import finished, part, read_rows, write_atomic, write_json_atomic
from data_prep.sources import SourceStatus, label, mixed, source_name
from data_prep.stats import StageCounts, share_counts
from data_prep.verify import VerifyConfig, verify_rows
from eval.recipe import to_dict

if TYPE_CHECKING:
    from data_prep.recipe import BuildRecipe


class BuildDir:
    """The layout of one build directory, and the guard against overwriting or resuming a different recipe."""

    def __init__(self, recipe: BuildRecipe, out: Path, resume: bool):
        self.recipe, self.out, self.resume = recipe, out, resume
        self.work = out / "work"
        self.rejects_dir = out / "rejects"
        self.items = self.work / "items"  # pass 1 output: item shards
        self.items_marks = self.work / "items_done"
        self.parts = self.work / "out"  # pass 2 output: row shards
        self.parts_marks = self.work / "out_done"
        self.reject_parts = self.work / "rejects"
        self.ingest_done = self.work / "ingest.done"
        self.dedup_index = self.work / "dedup.index"

    def prepare(self) -> None:
        if self.out.exists() and any(self.out.iterdir()) and not self.resume:
            raise FileExistsError(f"{self.out} already holds a build; pass --resume to continue it, or choose --out")
        if self.resume and (self.work / "recipe.json").exists():
            old = json.loads((self.work / "recipe.json").read_text())
            if old != to_dict(self.recipe):
                raise ValueError(f"{self.out}: --resume with a different recipe than the one this build started "
                                 f"with (see {self.work / 'recipe.json'}); use a new --out")
        for d in (self.work, self.rejects_dir, self.items, self.items_marks, self.parts, self.parts_marks,
                  self.reject_parts):
            d.mkdir(parents=True, exist_ok=True)
        (self.work / "recipe.json").write_text(json.dumps(to_dict(self.recipe), indent=2) + "\n")


def _by_source(records: list[Any]) -> Counter:
    return Counter(r.source if isinstance(r, Reject) else r["source"] for r in records)


def pass_ingest(recipe: BuildRecipe, b: BuildDir, engine: Any, dedup: Deduplicator | None) -> dict[str, Any]:
    """Sources → clean → item shards (+ dedup keys). Returns {shards, sources} (also saved in work/ingest.done)."""
    if b.ingest_done.exists():
        done = json.loads(b.ingest_done.read_text())
        if dedup is not None:
            restore(dedup, b.dedup_index)
        console.print(f"[dim]ingest: done earlier ({done['shards']} shards), skipped[/dim]")
        return done
    statuses = [SourceStatus(source_name(s), label(s)) for s in recipe.sources]
    stream = mixed(recipe.sources, statuses, recipe.max_items)
    index = 0
    while True:
        chunk = list(islice(stream, recipe.shard_size))
        if not chunk:
            break
        mark = finished(b.items_marks, index)
        if mark is not None:  # finished before the interruption: rebuild the index from disk, write nothing
            if dedup is not None:
                dedup.add(list(read_rows(part(b.items, index))))
            index += 1
            continue
        t0 = time.monotonic()
        items = [x for x in chunk if not isinstance(x, Reject)]
        bad = [x for x in chunk if isinstance(x, Reject)]
        counts = StageCounts()
        counts.add("ingest", [], items, bad, sources_in=_by_source(chunk))
        t1 = time.monotonic()
        kept, rejects = engine.map(clean, items, recipe.clean)
        counts.add("clean", items, kept, rejects, time.monotonic() - t1)
        if dedup is not None:
            dedup.add(kept)
        write_atomic(part(b.items, index), kept)
        write_atomic(part(b.reject_parts, index, ".ingest.jsonl"), (r.to_json() for r in [*bad, *rejects]))
        counts.seconds["ingest"] += time.monotonic() - t0 - counts.seconds["clean"]
        write_json_atomic(part(b.items_marks, index, ".json"), counts.to_json())
        console.print(f"ingest shard {index}: {len(chunk)} records → {len(kept)} items "
                      f"({len(bad)} unreadable, {len(rejects)} cleaned out)")
        index += 1
    if dedup is not None:
        dedup.finalize()
        dedup.save(b.dedup_index)
    done = {"shards": index, "sources": [s.to_json() for s in statuses]}
    for s in statuses:
        if s.error:
            console.print(f"[red]error:[/red] source {s.name!r}: {s.error} (0 rows from it; the build goes on)")
        elif s.records == 0:
            console.print(f"[yellow]warning:[/yellow] source {s.name!r} ({s.label}) gave 0 rows")
    write_json_atomic(b.ingest_done, done)
    return done


def verify_stage(rows: list[dict[str, Any]], cfg: VerifyConfig) -> tuple[list[dict[str, Any]], list[Reject]]:
    """verify_rows, then keep what passed (and what nothing could check, if keep_unverifiable)."""
    kept, rejects = [], []
    # pass rates are counted over every verdict of a problem's samples, before the failed ones are dropped
    for r in annotate(verify_rows(rows, cfg)) if rows else []:
        v = r["verification"]
        if v["passed"] or (v["passed"] is None and cfg.keep_unverifiable):
            kept.append(r)
            continue
        origin = (r.get("extra") or {}).get("origin") or {}
        rejects.append(Reject("verify", v["reason"], file=origin.get("file"), line=origin.get("line"),
                              field="response", record=r, source=r["source"],
                              id=(r.get("extra") or {}).get("item_id")))
    return kept, rejects


def respond_stage(items: list[dict[str, Any]], recipe: BuildRecipe, ctx: RespondContext
                  ) -> tuple[list[dict[str, Any]], list[Reject]]:
    """The call site of the respond stage (teacher, reference or own responses) for one shard; `ctx` (journal,
    teacher server started on the first request) lives for the whole of pass 2."""
    rows, rejects = respond(items, recipe.teacher, ctx)
    where = {(it["origin"]["file"], it["origin"]["line"]): it for it in items}
    for r in rejects:  # today's respond rejects carry file and line; add source and id for the counts
        it = where.get((r.file, r.line))
        if it is not None and getattr(r, "source", None) is None:
            r.source, r.id = it["source"], it["id"]
    return rows, rejects


def pass_rows(recipe: BuildRecipe, b: BuildDir, engine: Any, dedup: Deduplicator | None,
              decon: Decontaminator | None, shards: int) -> None:
    """Per item shard: dedup filter → decontaminate → respond → verify → work/out part (skipping finished ones)."""
    todo = [i for i in range(shards) if finished(b.parts_marks, i) is None]
    if len(todo) < shards:
        console.print(f"[dim]rows: {shards - len(todo)} of {shards} shards done earlier, skipped[/dim]")
    offsets, total = [], 0  # each item shard's first row in pass 1's order: the dedup index's position
    for i in range(shards):
        offsets.append(total)
        with part(b.items, i).open("rb") as fh:
            total += sum(1 for line in fh if line.strip())
    with RespondContext(recipe.teacher, b.work) as ctx:
        for index in todo:
            if dedup is not None:
                dedup.seek(offsets[index])
            counts = StageCounts()
            items = list(read_rows(part(b.items, index)))
            all_rejects: list[Reject] = []

            def run(stage: str, fn, rows: list[dict], *args, counts=counts, all_rejects=all_rejects) -> list[dict]:
                t0 = time.monotonic()
                kept, rejects = fn(rows, *args)
                counts.add(stage, rows, kept, rejects, time.monotonic() - t0)
                all_rejects.extend(rejects)
                return kept

            if dedup is not None:
                items = run("dedup", dedup.filter, items)
            if decon is not None:
                items = run("decontaminate", decon.filter, items)
            rows = run("respond", respond_stage, items, recipe, ctx)
            rows = run("verify", lambda rs: engine.map(verify_stage, rs, recipe.verify), rows)
            rows = run("quality", quality_filter, rows, recipe.quality)
            rows = run("difficulty", difficulty_filter, rows, recipe.difficulty)
            dropped = [r.record for r in all_rejects if r.stage == "verify"]
            write_atomic(part(b.parts, index), rows)
            write_atomic(part(b.reject_parts, index, ".rows.jsonl"), (r.to_json() for r in all_rejects))
            mark = counts.to_json()
            mark["verification"] = share_counts(rows, dropped)
            mark["rows"] = len(rows)
            mark["by_category"] = dict(Counter(r["category"] for r in rows))
            write_json_atomic(part(b.parts_marks, index, ".json"), mark)
            console.print(f"rows shard {index + 1}/{shards}: {len(rows)} rows kept, {len(all_rejects)} rejected")

