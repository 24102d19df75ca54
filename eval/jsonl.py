"""JSON Lines reading that names the file and line of every bad row, and plain writing."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class BadLine:
    """A line that could not be read as a JSON object."""

    path: str
    line: int
    reason: str
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | BadLine]]:
    """Yield (line_number, row) for each non-blank line; a bad line yields a BadLine instead of raising."""
    path = Path(path)
    with path.open(encoding="utf-8") as fh:
        for lineno, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as exc:
                yield lineno, BadLine(str(path), lineno, f"malformed JSON ({exc.msg} at column {exc.colno})", text)
                continue
            if not isinstance(row, dict):
                yield lineno, BadLine(str(path), lineno, f"expected a JSON object, got {type(row).__name__}", text)
                continue
            yield lineno, row


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read every row; raise ValueError naming file and line at the first bad one."""
    rows = []
    for _, row in iter_jsonl(path):
        if isinstance(row, BadLine):
            raise ValueError(str(row))
        rows.append(row)
    return rows


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]], append: bool = False) -> int:
    """Write rows one per line (UTF-8, no ASCII escaping); return how many were written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("a" if append else "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n
