"""Deduplication: exact (normalised text), near-duplicate (MinHash LSH) and semantic (embeddings + faiss).

    dd = Deduplicator(DedupConfig(methods=["exact", "minhash"]))
    for batch in pass_1: dd.add(batch)
    dd.finalize()
    for batch in pass_2: kept, rejects = dd.filter(batch)
"""

from __future__ import annotations

from typing import Any

from data_prep.dedup.config import METHODS, DedupConfig
from data_prep.dedup.index import Deduplicator
from data_prep.dedup.rows import Reject
from data_prep.textnorm import normalize

__all__ = ["METHODS", "DedupConfig", "Deduplicator", "exact_dedup", "normalize"]


def exact_dedup(items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Reject]]:
    """Keep the first item of each normalised problem text; later copies become rejects naming the first.
    (The build's list-based call; the streaming build uses `Deduplicator`.)"""
    seen: dict[str, dict[str, Any]] = {}
    kept, rejects = [], []
    for item in items:
        key = normalize(item["problem"])
        first = seen.get(key)
        if first is None:
            seen[key] = item
            kept.append(item)
        else:
            o = first["origin"]
            rejects.append(Reject("dedup", f"duplicate of item {first['item_id']} ({o['file']}:{o['line']})",
                                  file=item["origin"]["file"], line=item["origin"]["line"], field="problem",
                                  record={"item_id": item["item_id"], "problem": item["problem"]}))
    return kept, rejects
