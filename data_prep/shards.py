"""Shard files on disk: written to a temporary name and renamed into place, so a shard is either whole or absent,
and a JSON marker per finished shard (written last) that resume trusts."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from eval.jsonl import iter_jsonl


def write_atomic(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows as JSONL to `path` via `path.tmp` + fsync + rename; returns the number of rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return n


def write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a shard this build wrote (a bad line there means the disk was tampered with: raise)."""
    for _, rec in iter_jsonl(path):
        if not isinstance(rec, dict):
            raise ValueError(f"{path}: {rec}")
        yield rec


def part(directory: Path, index: int, suffix: str = ".jsonl") -> Path:
    return directory / f"part-{index:05d}{suffix}"


def finished(markers: Path, index: int) -> dict[str, Any] | None:
    """The marker of shard `index` if it finished, else None."""
    path = part(markers, index, ".json")
    return json.loads(path.read_text()) if path.exists() else None
