"""A record that cannot go on: which stage dropped it, why, and where it came from (source, file, line, field)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Reject:
    """A record that cannot go on, with the stage and a reason a person can act on."""

    stage: str
    reason: str
    file: str | None = None
    line: int | None = None
    field: str | None = None
    record: Any = None
    source: str | None = None
    id: str | None = None
    detail: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reject:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})

    def where(self) -> str:
        """`source file:line field` as far as known, for one-line messages."""
        loc = self.file or "?"
        if self.line is not None:
            loc += f":{self.line}"
        parts = [f"source {self.source!r}" if self.source else "", loc, f"field {self.field!r}" if self.field else ""]
        return " ".join(p for p in parts if p)


def item_reject(stage: str, item: dict[str, Any], reason: str, field: str | None = None, record: Any = None,
                detail: dict[str, Any] | None = None) -> Reject:
    """A reject for an item or row that carries its origin (items: `origin`, rows: `extra.origin`)."""
    origin = item.get("origin") or (item.get("extra") or {}).get("origin") or {}
    item_id = item.get("id") if "origin" in item else (item.get("extra") or {}).get("item_id", item.get("id"))
    if record is None:
        record = {"id": item_id, "problem": item.get("problem")}
    return Reject(stage, reason, file=origin.get("file"), line=origin.get("line"), field=field, record=record,
                  source=item.get("source"), id=item_id, detail=detail)
