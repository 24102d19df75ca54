"""Today's exact dedup and n-gram decontamination behind the interfaces the streaming build calls.

The build talks to a `Deduplicator` (two passes: `add` every batch, `finalize`, then `filter` every batch;
`save`/`load` for resume) and a `Decontaminator` (`from_config`, per-batch `filter`), and writes the
contamination report with `write_contamination_report`. This module implements them over data_prep/dedup.py's
normalisation and data_prep/decontaminate.py's n-gram index; the dedup/ and decontaminate/ packages (MinHash,
embeddings, LLM judge) provide the same names and replace this module's imports in build.py and recipe.py.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from data_prep.decontaminate import DecontaminateConfig
from data_prep.decontaminate import Decontaminator as NgramIndex
from data_prep.dedup import normalize
from data_prep.reject import Reject, item_reject

__all__ = ["DecontaminateConfig", "Decontaminator", "DedupConfig", "Deduplicator", "benchmark_problems",
           "write_contamination_report"]


@dataclass
class DedupConfig:
    """`dedup:` in a recipe (null: off). Exact matches on normalised problem text (NFKC, case, spaces)."""

    method: str = "exact"
    source_priority: list[str] = field(default_factory=list)  # earlier sources win ties among equally good rows


def _key(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(normalize(text).encode("utf-8"), digest_size=8).digest(), "little")


class Deduplicator:
    """One winner per normalised problem: rows with a reference answer or tests first, then source priority,
    then the first seen. Memory: one small tuple per distinct problem (no row is held)."""

    def __init__(self, cfg: DedupConfig):
        self.cfg = cfg
        self.priority = {name: i for i, name in enumerate(cfg.source_priority)}
        self.best: dict[int, tuple] = {}
        self.seen = 0

    def _rank(self, row: dict[str, Any]) -> tuple[int, int, int]:
        checkable = bool(row.get("reference_answer")) or bool(row.get("test_cases"))
        return (0 if checkable else 1, self.priority.get(row.get("source"), len(self.priority)), self.seen)

    def add(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            key, rank = _key(row["problem"]), self._rank(row)
            self.seen += 1
            cur = self.best.get(key)
            if cur is None or rank < cur[0]:
                o = row.get("origin") or {}
                self.best[key] = (rank, row["id"], sys.intern(str(o.get("file"))), o.get("line"))

    def finalize(self) -> None:
        """Nothing to merge for exact matches (kept for the MinHash/semantic index, which clusters here)."""

    def filter(self, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Reject]]:
        kept, rejects = [], []
        for row in rows:
            win = self.best.get(_key(row["problem"]))
            if win is None or win[1] == row["id"]:
                kept.append(row)
                continue
            rejects.append(item_reject("dedup", row, f"duplicate of item {win[1]} ({win[2]}:{win[3]})",
                                       field="problem", detail={"method": "exact", "kept": win[1]}))
        return kept, rejects

    def save(self, path: Path) -> None:
        tmp = Path(f"{path}.tmp")
        with tmp.open("wb") as fh:
            pickle.dump((self.seen, self.best), fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)

    def load(self, path: Path) -> None:
        with Path(path).open("rb") as fh:
            self.seen, self.best = pickle.load(fh)


def benchmark_problems(name: str) -> list[tuple[str, str]]:
    """(problem_id, text) pairs of a benchmark that eval ships or can load."""
    from eval.benchmarks import load_benchmark

    bench = load_benchmark(name)
    return [(str(p.id), p.problem) for p in bench.problems]


_PERCENT = re.compile(r"(\d+)%")


class Decontaminator:
    """Per-batch filter over the n-gram index; each reject's detail names benchmark, item, method and score."""

    def __init__(self, index: NgramIndex):
        self.index = index

    @classmethod
    def from_config(cls, cfg: DecontaminateConfig) -> Decontaminator:
        return cls(NgramIndex({n: benchmark_problems(n) for n in cfg.names()}, n=cfg.ngram,
                              min_coverage=cfg.min_coverage))

    def filter(self, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Reject]]:
        kept, rejects = [], []
        for row in rows:
            m = self.index.match(row["problem"])
            if m is None:
                kept.append(row)
                continue
            exact = m.how == "exact match"
            score = 1.0 if exact else int(_PERCENT.search(m.how).group(1)) / 100
            hit = {"benchmark": m.benchmark, "item_id": m.problem_id, "method": "exact" if exact else "ngram",
                   "score": score}
            rejects.append(item_reject("decontaminate", row, f"{m.benchmark} {m.problem_id}: {m.how}",
                                       field="problem", detail={"contamination": hit}))
        return kept, rejects


def write_contamination_report(out_dir: Path, records: list[dict[str, Any]]) -> None:
    """`contamination.json` and `contamination.md` beside the corpus: every removed row and what it matched."""
    by_bench = Counter(r["contamination"]["benchmark"] for r in records)
    by_method = Counter(r["contamination"]["method"] for r in records)
    report = {"removed": len(records), "by_benchmark": dict(by_bench), "by_method": dict(by_method),
              "records": records}
    (out_dir / "contamination.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    lines = ["# Contamination report", "", f"{len(records)} training problems removed.", "",
             "| benchmark | removed |", "|---|---:|", *[f"| {b} | {n} |" for b, n in sorted(by_bench.items())], "",
             "| id | source | benchmark | benchmark item | method | score |", "|---|---|---|---|---|---:|"]
    for r in records:
        c = r["contamination"]
        lines.append(f"| {r.get('id')} | {r.get('source')} | {c['benchmark']} | {c['item_id']} | {c['method']} | "
                     f"{c['score']:.2f} |")
    (out_dir / "contamination.md").write_text("\n".join(lines) + "\n")
