"""Counts a build keeps per stage and per source (rows in, kept, rejected), and the verified share per source;
merged over shards, so a resumed build reports the same figures as an uninterrupted one."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from data_prep.reject import Reject

STAGES = ("ingest", "clean", "dedup", "decontaminate", "respond", "verify")


class StageCounts:
    """{stage: {source: {in, out, rejected}}} plus seconds per stage."""

    def __init__(self, data: dict[str, Any] | None = None):
        self.data: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
        self.seconds: Counter = Counter()
        if data:
            self.merge(data)

    def add(self, stage: str, rows_in: list[dict], kept: list[dict], rejects: list[Reject], seconds: float = 0.0,
            sources_in: dict[str, int] | None = None) -> None:
        s = self.data[stage]
        if sources_in is None:
            sources_in = Counter(r.get("source", "?") for r in rows_in)
        for src, n in sources_in.items():
            s[src]["in"] += n
        for r in kept:
            s[r.get("source", "?")]["out"] += 1
        for r in rejects:
            s[r.source or "?"]["rejected"] += 1
        self.seconds[stage] += seconds

    def merge(self, data: dict[str, Any]) -> None:
        for stage, by_source in data.get("stages", {}).items():
            for src, c in by_source.items():
                self.data[stage][src].update(c)
        self.seconds.update(data.get("seconds", {}))

    def to_json(self) -> dict[str, Any]:
        return {"stages": {st: {src: dict(c) for src, c in by.items()} for st, by in self.data.items()},
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()}}

    def totals(self) -> dict[str, dict[str, Any]]:
        """{stage: {rows (kept), rejects, in, seconds, by_source}} in pipeline order."""
        out = {}
        for stage in [*STAGES, *sorted(set(self.data) - set(STAGES))]:
            if stage not in self.data:
                continue
            by = self.data[stage]
            tot = Counter()
            for c in by.values():
                tot.update(c)
            out[stage] = {"in": tot["in"], "rows": tot["out"], "rejects": tot["rejected"],
                          "seconds": round(self.seconds[stage], 2),
                          "by_source": {src: {"in": c["in"], "out": c["out"], "rejected": c["rejected"]}
                                        for src, c in sorted(by.items())}}
        return out


def share_counts(kept: list[dict], dropped: list[dict]) -> dict[str, dict[str, int]]:
    """Per `source/response_mode`: rows, passed, failed, unverifiable (of every verified row, kept or dropped)."""
    groups: dict[str, Counter] = defaultdict(Counter)
    for r in [*kept, *dropped]:
        key = f"{r['source']}/{(r.get('extra') or {}).get('response_mode', 'own')}"
        groups[key]["rows"] += 1
        p = r["verification"]["passed"]
        groups[key]["passed" if p else ("unverifiable" if p is None else "failed")] += 1
    return {k: dict(c) for k, c in groups.items()}


def shares(counts: dict[str, dict[str, int]]) -> dict[str, dict[str, Any]]:
    """Verified share per (source, response mode): the figure that exposes extraction and grading bugs."""
    out = {}
    for key, c in sorted(counts.items()):
        c = Counter(c)
        checked = c["passed"] + c["failed"]
        out[key] = {"rows": c["rows"], "passed": c["passed"], "failed": c["failed"],
                    "unverifiable": c["unverifiable"],
                    "verified_share": round(c["passed"] / checked, 4) if checked else None}
    return out
