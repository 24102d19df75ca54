"""contamination.json and contamination.md beside the corpus (train/lineage.py copies the JSON into checkpoints
as corpus_contamination.json)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

JSON_NAME = "contamination.json"  # the name train.lineage.REPORTS expects
MD_NAME = "contamination.md"


def write_contamination_report(out_dir: str | Path, records: Iterable[dict[str, Any]],
                               benchmarks: list[str] | None = None, checked: int | None = None,
                               methods: list[str] | None = None) -> dict[str, Any]:
    """Write both files from removal records ({id, benchmark, item_id, method, score, ...}); return the JSON."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = list(records)
    report = {
        "benchmarks": benchmarks if benchmarks is not None else sorted({r["benchmark"] for r in rows}),
        "methods": methods,
        "checked": checked,
        "removed": len(rows),
        "by_benchmark": dict(Counter(r["benchmark"] for r in rows).most_common()),
        "by_method": dict(Counter(r["method"] for r in rows).most_common()),
        "items_hit": len({(r["benchmark"], r["item_id"]) for r in rows}),
        "removed_rows": rows,
    }
    (out / JSON_NAME).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    lines = ["# Contamination report", "",
             f"Benchmarks: {', '.join(report['benchmarks']) or 'none'}; methods: {', '.join(methods or []) or '-'}; "
             f"rows checked: {checked if checked is not None else '-'}; removed: {len(rows)} "
             f"(matching {report['items_hit']} benchmark items).", "",
             "| benchmark | removed |", "|---|---|",
             *[f"| {b} | {n} |" for b, n in report["by_benchmark"].items()], "",
             "| method | removed |", "|---|---|", *[f"| {m} | {n} |" for m, n in report["by_method"].items()], ""]
    if rows:
        lines += ["| row id | benchmark | item id | method | score |", "|---|---|---|---|---|"]
        lines += [f"| {r.get('id', '')} | {r['benchmark']} | {r['item_id']} | {r['method']} | {r['score']} |"
                  for r in rows]
    (out / MD_NAME).write_text("\n".join(lines) + "\n")
    return report
