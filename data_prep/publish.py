"""Publishing a build: the finished row parts linked as shards under data/, rejects split by stage, stats.json,
the contamination report, the dataset card and the console summary. Everything streams from the parts on disk."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from data_prep.card import write_card
from data_prep.index_adapters import write_contamination_report
from data_prep.progress import console
from data_prep.shards import finished, part
from data_prep.stats import StageCounts, shares
from data_prep.teacher import journal_stats

if TYPE_CHECKING:
    from data_prep.pipeline import BuildDir
    from data_prep.recipe import BuildRecipe


def link_shards(b: BuildDir, shards: int) -> int:
    """data/train-XXXXX-of-NNNNN.jsonl as hard links to the non-empty row parts (rebuilt on every publish)."""
    data = b.out / "data"
    if data.exists():
        shutil.rmtree(data)
    data.mkdir(parents=True)
    parts = [part(b.parts, i) for i in range(shards) if part(b.parts, i).stat().st_size > 0]
    if not parts:
        (data / "train-00000-of-00001.jsonl").write_text("")
        return 1
    for j, p in enumerate(parts):
        os.link(p, data / f"train-{j:05d}-of-{len(parts):05d}.jsonl")
    return len(parts)


def split_rejects(b: BuildDir, shards: int) -> tuple[dict[str, Counter], list[dict[str, Any]]]:
    """rejects/<stage>.jsonl from the per-shard reject parts; returns reasons per stage and contamination hits."""
    for old in b.rejects_dir.glob("*.jsonl"):
        old.unlink()
    handles: dict[str, Any] = {}
    reasons: dict[str, Counter] = {}
    contamination = []
    try:
        for suffix in (".ingest.jsonl", ".rows.jsonl"):
            for i in range(shards):
                path = part(b.reject_parts, i, suffix)
                if not path.exists():
                    continue
                with path.open(encoding="utf-8") as fh:
                    for line in fh:
                        rec = json.loads(line)
                        stage = rec["stage"]
                        if stage not in handles:
                            handles[stage] = (b.rejects_dir / f"{stage}.jsonl").open("w", encoding="utf-8")
                            reasons[stage] = Counter()
                        handles[stage].write(line)
                        reasons[stage][rec.get("reason", "?").split(": got ")[0][:120]] += 1
                        if stage == "decontaminate" and "contamination" in (rec.get("detail") or {}):
                            contamination.append({k: rec.get(k) for k in ("id", "source", "file", "line")}
                                                 | {"contamination": rec["detail"]["contamination"]})
    finally:
        for fh in handles.values():
            fh.close()
    return reasons, contamination


def publish(b: BuildDir, recipe: BuildRecipe, ingest: dict[str, Any]) -> dict[str, Any]:
    shards = ingest["shards"]
    counts = StageCounts()
    verification: dict[str, Counter] = {}
    by_category: Counter = Counter()
    rows = 0
    for i in range(shards):
        counts.merge(finished(b.items_marks, i))
        mark = finished(b.parts_marks, i)
        counts.merge(mark)
        rows += mark["rows"]
        by_category.update(mark.get("by_category", {}))
        for key, c in mark["verification"].items():
            verification.setdefault(key, Counter()).update(c)
    n_shards = link_shards(b, shards)
    reasons, contamination = split_rejects(b, shards)
    totals = counts.totals()
    final = totals.get("verify", {}).get("by_source", {})
    stats = {
        "name": recipe.name,
        "rows": rows,
        "shards": n_shards,
        "sources": ingest["sources"],
        "stages": totals,
        "verification": shares(verification),
        "teacher": journal_stats(b.work / "teacher.results.jsonl", recipe.teacher),
        "rejects": {stage: sum(c.values()) for stage, c in sorted(reasons.items())},
        "reject_reasons": {stage: dict(c.most_common(20)) for stage, c in sorted(reasons.items())},
        "by_source": {src: c["out"] for src, c in final.items() if c["out"]},
        "by_category": dict(by_category),
    }
    if recipe.decontaminate is not None:
        write_contamination_report(b.out, contamination, recipe.decontaminate)
    write_card(b.out, recipe, stats)
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
    flow = Table(title="rows per stage (in → kept, rejected)")
    flow.add_column("stage")
    flow.add_column("in", justify="right")
    flow.add_column("kept", justify="right")
    flow.add_column("rejected", justify="right")
    flow.add_column("seconds", justify="right")
    for stage, s in stats["stages"].items():
        flow.add_row(stage, str(s["in"]), str(s["rows"]), str(s["rejects"]), str(s["seconds"]))
    console.print(flow)
    for s in stats["sources"]:
        if s.get("error"):
            console.print(f"[red]source {s['name']!r}: 0 rows — {s['error']}[/red]")
        elif s["records"] == 0:
            console.print(f"[yellow]source {s['name']!r} ({s['label']}): 0 rows (empty)[/yellow]")
    if stats.get("teacher"):
        t = stats["teacher"]
        console.print(f"teacher: {t['answered']}/{t['requests']} answered, {t['stopped']} finished, "
                      f"{t['hit_max_tokens']} hit max_tokens, {t['completion_tokens']} tokens")
    rej = ", ".join(f"{k} {v}" for k, v in stats["rejects"].items()) or "none"
    console.print(f"rejects by stage: {rej}  (reasons in {out}/rejects/, counts in {out}/stats.json)")
