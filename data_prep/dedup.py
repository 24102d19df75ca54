"""Exact deduplication of problems on normalised text (case, whitespace and punctuation spacing ignored)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from data_prep.ingest import Reject

_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Text as compared for exact matches: NFKC, lower case, single spaces."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def exact_dedup(items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Reject]]:
    """Keep the first item of each normalised problem text; later copies become rejects naming the first."""
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
