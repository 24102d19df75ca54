"""Rejected rows written by parallel map workers: each worker appends to its own part file as it finds them, and the
parts are merged in worker order (= row order) at the end, so nothing is lost or written twice."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path


def category(reason: str) -> str:
    """The field a reject reason names (`messages[1].role: ...` → `messages[1].role`), for the counts."""
    return reason.split(" (")[0].split(":")[0]


def part_file(rejects_dir: str | Path, kind: str, rank: int | None) -> Path:
    """This worker's part file for rejects of `kind` (rank None: the single-process map)."""
    return Path(rejects_dir) / f".{kind}.part-{rank or 0:05d}.jsonl"


def append(path: Path, records: list[dict]) -> None:
    """Append `records` as JSON lines (opened per batch, so a killed worker leaves whole lines behind)."""
    if records:
        with path.open("a", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def clear_parts(rejects_dir: Path, kinds: tuple[str, ...]) -> None:
    """Remove part files of `kinds` an interrupted earlier build left behind, so nothing is counted twice."""
    rejects_dir.mkdir(parents=True, exist_ok=True)
    for kind in kinds:
        for part in rejects_dir.glob(f".{kind}.part-*.jsonl"):
            part.unlink()


def merge_parts(rejects_dir: Path, kind: str) -> tuple[Counter, dict | None, int]:
    """Concatenate the part files of `kind` into `<kind>.jsonl`, streaming line by line.

    Returns the reasons counted by the field they name, the first record, and the number of records.
    """
    parts = sorted(rejects_dir.glob(f".{kind}.part-*.jsonl"))
    counts: Counter = Counter()
    first, n = None, 0
    target = rejects_dir / f"{kind}.jsonl"
    if not parts:
        target.unlink(missing_ok=True)
        return counts, None, 0
    with target.open("w", encoding="utf-8") as out:
        for part in parts:
            with part.open(encoding="utf-8") as f:
                for line in f:
                    rec = json.loads(line)
                    counts[category(rec["reason"])] += 1
                    first = first or rec
                    n += 1
                    out.write(line)
            part.unlink()
    return counts, first, n
