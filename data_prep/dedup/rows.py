"""What dedup and decontamination read from a row (id, text, reference, source) and how they build a reject."""

from __future__ import annotations

from typing import Any

try:  # the reject record moves to its own module (issue 7); older trees keep it in ingest
    from data_prep.reject import Reject
except ImportError:  # pragma: no cover - depends on which branch this runs on
    from data_prep.ingest import Reject

REFERENCE_KEYS = ("reference_answer", "test_cases", "answer", "tests")


def row_id(row: dict[str, Any], id_field: str = "id") -> str:
    """The row's id as text (`item_id` for items of the older build, else `id_field`)."""
    value = row.get(id_field, row.get("item_id"))
    return "" if value is None else str(value)


def has_reference(row: dict[str, Any]) -> bool:
    """True when the row carries a reference answer or test cases (the keep rule prefers such rows)."""
    return any(row.get(k) not in (None, "", [], {}) for k in REFERENCE_KEYS)


def make_reject(stage: str, reason: str, row: dict[str, Any], field: str, id_field: str = "id",
                detail: dict[str, Any] | None = None) -> Reject:
    """A reject naming the row's file and line (from `origin`), its id and source, with `detail` for audits."""
    origin = row.get("origin") or (row.get("extra") or {}).get("origin") or {}
    rej = Reject(stage, reason, file=origin.get("file"), line=origin.get("line"), field=field, record=row)
    # Set as attributes so this works with both Reject versions (to_json writes every attribute that is set).
    rej.source = row.get("source")
    rej.id = row_id(row, id_field) or None
    rej.detail = detail
    return rej
