"""Publishing a build: shards of kept rows, the verify rejects, stats.json, the dataset card and the summary."""

from __future__ import annotations

import json
import shutil
from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from data_prep.card import write_card
from data_prep.progress import console
from data_prep.teacher import journal_stats
from eval.jsonl import iter_jsonl, write_jsonl

if TYPE_CHECKING:
    from data_prep.build import Build, BuildRecipe


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
        "teacher": journal_stats(b.work / "teacher.results.jsonl", recipe.teacher),
        "rejects": {stage: sum(c.values()) for stage, c in reject_counts.items()},
        "reject_reasons": reject_counts,
        "by_source": dict(Counter(r["source"] for r in kept)),
        "by_category": dict(Counter(r["category"] for r in kept)),
    }
    (b.out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n")
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
    if stats.get("teacher"):
        t = stats["teacher"]
        console.print(f"teacher: {t['answered']}/{t['requests']} answered, {t['stopped']} finished, "
                      f"{t['hit_max_tokens']} hit max_tokens, {t['completion_tokens']} tokens")
    rej = ", ".join(f"{k} {v}" for k, v in stats["rejects"].items()) or "none"
    console.print(f"rejects by stage: {rej}  (reasons in {out}/rejects/, counts in {out}/stats.json)")
