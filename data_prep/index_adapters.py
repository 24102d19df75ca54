"""The dedup and decontamination indexes behind the names the streaming build calls.

The build talks to a `Deduplicator` (two passes: `add` every batch, `finalize`, then `filter` every batch; `save`
after pass 1 and `restore` on resume) and a `Decontaminator` (`from_config`, per-batch `filter`), both from the
data_prep.dedup and data_prep.decontaminate packages (exact, MinHash, semantic; lexical, embedding, LLM judge), and
writes the contamination report from the decontaminate rejects' records.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from data_prep.decontaminate import DecontaminateConfig, Decontaminator
from data_prep.decontaminate import write_contamination_report as _write_report
from data_prep.dedup import DedupConfig, Deduplicator

__all__ = ["DecontaminateConfig", "Decontaminator", "DedupConfig", "Deduplicator", "benchmark_problems",
           "restore", "write_contamination_report"]


def restore(dedup: Deduplicator, path: Path) -> Deduplicator:
    """The index pass 1 saved (resume): the same object, its state replaced by what was saved."""
    loaded = Deduplicator.load(path, dedup.cfg, getattr(dedup, "_embedder", None))
    dedup.__dict__.update(loaded.__dict__)
    return dedup


def benchmark_problems(name: str) -> list[tuple[str, str]]:
    """(problem_id, text) pairs of a benchmark that eval ships or can load."""
    from eval.benchmarks import load_benchmark

    bench = load_benchmark(name)
    return [(str(p.id), p.problem) for p in bench.problems]


def write_contamination_report(out_dir: Path, records: list[dict[str, Any]],
                               cfg: DecontaminateConfig | None = None, checked: int | None = None) -> None:
    """`contamination.json` and `contamination.md` beside the corpus, from the decontaminate rejects
    ({id, source, file, line, contamination: {benchmark, item_id, method, score}})."""
    flat = [{**{k: v for k, v in r.items() if k != "contamination"}, **r["contamination"]} for r in records]
    _write_report(out_dir, flat, benchmarks=cfg.names() if cfg else None, checked=checked,
                  methods=list(cfg.methods) if cfg else None)
