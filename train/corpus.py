"""Read a training corpus: a data_prep corpus folder, a .jsonl file, or a hub dataset, into chat examples.

Rows are validated here because a bad row must not crash a multi-day job: malformed rows go to a rejects
file with file, line and field named; rows whose verification did not pass are counted and skipped.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROLES = {"system", "user", "assistant", "tool"}


@dataclass
class CorpusStats:
    """What loading kept and dropped, for the start-up summary."""

    files: list[str] = field(default_factory=list)
    read: int = 0
    kept: int = 0
    unverified: int = 0
    rejected: Counter = field(default_factory=Counter)


def corpus_files(source: str | Path, split: str = "train") -> list[Path] | None:
    """Local files of a corpus (`<dir>/data/<split>-*.jsonl`, `<dir>/*.jsonl`, or one .jsonl); None for a hub name."""
    p = Path(source)
    if p.is_file():
        return [p]
    if p.is_dir():
        shards = sorted((p / "data").glob(f"{split}-*.jsonl")) if (p / "data").is_dir() else []
        shards = shards or sorted(p.glob(f"{split}-*.jsonl")) or sorted(p.glob("*.jsonl"))
        if not shards:
            raise FileNotFoundError(f"{p}: no {split}-*.jsonl shards under {p / 'data'} and no *.jsonl files")
        return shards
    if p.suffix in {".jsonl", ".json"} or str(source).startswith((".", "/")):
        raise FileNotFoundError(f"{source}: no such corpus file or folder")
    return None


def source_fingerprint(source: str | Path, split: str = "train") -> str:
    """Cheap identity of a corpus (paths, sizes, mtimes) for the tokenisation cache key; hub names hash as-is."""
    files = corpus_files(source, split)
    h = hashlib.sha256()
    if files is None:
        h.update(f"hub:{source}:{split}".encode())
    for f in files or []:
        st = f.stat()
        h.update(f"{f.resolve()}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def check_row(row: Any) -> str | None:
    """Why `row` cannot be trained on (naming the field), or None when it is a valid chat example."""
    if not isinstance(row, dict):
        return f"expected a JSON object, got {type(row).__name__}"
    messages = row.get("messages")
    if messages is None and isinstance(row.get("conversations"), list):
        return "conversations: ShareGPT format; convert to `messages` with data_prep convert"
    if not isinstance(messages, list) or not messages:
        return "messages: missing or empty"
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            return f"messages[{i}]: expected an object with role and content"
        if m.get("role") not in ROLES:
            return f"messages[{i}].role: {m.get('role')!r} is not one of {sorted(ROLES)}"
        if not isinstance(m.get("content"), str):
            return f"messages[{i}].content: expected a string, got {type(m.get('content')).__name__}"
    if messages[-1]["role"] != "assistant":
        return f"messages[{len(messages) - 1}].role: the last turn must be the assistant's (the training target)"
    if not messages[-1]["content"].strip():
        return f"messages[{len(messages) - 1}].content: empty assistant response"
    return None


def is_verified(row: dict) -> bool | None:
    """verification.passed as a bool, or None when the row carries no usable verification."""
    v = row.get("verification")
    if not isinstance(v, dict) or not isinstance(v.get("passed"), bool):
        return None
    return v["passed"]


def _normalise(row: dict, fallback_id: str) -> dict:
    messages = []
    for m in row["messages"]:
        content = m["content"]
        reasoning = m.get("reasoning_content")
        if m["role"] == "assistant" and isinstance(reasoning, str) and reasoning and "<think>" not in content:
            content = f"<think>\n{reasoning.strip()}\n</think>\n\n{content.lstrip()}"
        messages.append({"role": m["role"], "content": content})
    return {"id": str(row.get("id", fallback_id)), "messages": messages}


def _iter_local(files: list[Path]) -> Iterator[tuple[str, int, Any]]:
    for f in files:
        with f.open(encoding="utf-8") as fh:
            for line_no, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    yield str(f), line_no, json.loads(line)
                except json.JSONDecodeError as e:
                    yield str(f), line_no, ValueError(f"not valid JSON ({e.msg} at column {e.colno})")


def _iter_hub(name: str, config: str | None, split: str) -> Iterator[tuple[str, int, Any]]:
    from datasets import load_dataset

    ds = load_dataset(name, name=config, split=split)
    for i, row in enumerate(ds, 1):
        yield f"{name}[{split}]", i, row


def load_corpus(
    source: str | Path,
    *,
    split: str = "train",
    config: str | None = None,
    require_verified: bool = True,
    rejects_path: Path | None = None,
) -> tuple[list[dict], CorpusStats]:
    """Valid chat examples (`id`, `messages`) from `source`; malformed rows are written to `rejects_path`."""
    files = corpus_files(source, split)
    stats = CorpusStats(files=[str(f) for f in files] if files else [f"hub:{source}"])
    rows_iter = _iter_local(files) if files is not None else _iter_hub(str(source), config, split)
    kept: list[dict] = []
    rejects = []
    for where, line_no, row in rows_iter:
        stats.read += 1
        reason = str(row) if isinstance(row, ValueError) else check_row(row)
        if reason is None and require_verified:
            passed = is_verified(row)
            if passed is None:
                reason = "verification.passed: missing (set require_verified: false to train on unverified data)"
            elif not passed:
                stats.unverified += 1
                continue
        if reason is not None:
            stats.rejected[reason.split(" (")[0].split(":")[0]] += 1
            rid = row.get("id") if isinstance(row, dict) else None
            rejects.append({"stage": "train.corpus", "file": where, "line": line_no, "id": rid, "reason": reason})
            continue
        kept.append(_normalise(row, f"{Path(where).name}:{line_no}"))
    stats.kept = len(kept)
    if rejects and rejects_path is not None:
        rejects_path.parent.mkdir(parents=True, exist_ok=True)
        with rejects_path.open("w") as f:
            for r in rejects:
                f.write(json.dumps(r) + "\n")
    if not kept:
        first = f"; first reject: {rejects[0]['file']}:{rejects[0]['line']}: {rejects[0]['reason']}" if rejects else ""
        raise ValueError(
            f"{source}: no trainable rows ({stats.read} read, {stats.unverified} unverified, "
            f"{sum(stats.rejected.values())} rejected){first}"
        )
    return kept, stats
