"""Read a training corpus into an Arrow dataset of chat examples (`id`, `messages`) without holding it in memory.

Sources: a data_prep corpus folder (`data/<split>-*.jsonl`), a folder of .jsonl files, one .jsonl file, or a hub
dataset. Local files are read line by line with `load_dataset("text")` (Arrow, memory-mapped) and parsed, checked
and normalised in a batched, multi-process map with an explicit output schema. Not `load_dataset("json")`: it
infers the schema from the first 10 MB, so an optional field that first appears later (`test_cases`, a
`reference_answer` that was null so far, AM's nested `info`) breaks the cast, and one malformed line fails the
whole load. Here a malformed row goes to `rejects/corpus.jsonl` with its file, line and field, and rows whose
verification did not pass are listed in `rejects/unverified.jsonl`; each map worker writes its own part file as
it goes and the parts are merged in order at the end.
"""

from __future__ import annotations

import json
import re
import shutil
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from train.arrow_map import batched_map
from train.errors import UserError, one_line
from train.lineage import corpus_record, scan_files
from train.rejects import append, clear_parts, merge_parts, part_file

ROLES = {"system", "user", "assistant", "tool"}
STAGE = "train.corpus"
VALIDATE_BATCH = 256  # rows per map call: a few MB of text at AM's 8 KB mean, bounded memory per worker
# A hub id is `name` or `owner/name`; anything else (more slashes, a file suffix, ./ or /) is meant as a local path.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


@dataclass
class CorpusStats:
    """What loading kept and dropped, for the start-up summary."""

    files: list[str] = field(default_factory=list)
    read: int = 0
    kept: int = 0
    unverified: int = 0
    rejected: Counter = field(default_factory=Counter)
    first_reject: dict | None = None


def chat_features():
    """The explicit schema of a loaded corpus: an id and a list of {role, content} turns."""
    from datasets import Features, List, Value

    return Features({"id": Value("string"), "messages": List({"role": Value("string"), "content": Value("string")})})


def corpus_files(source: str | Path, split: str = "train") -> list[Path] | None:
    """Local files of a corpus (`<dir>/data/<split>-*.jsonl`, `<dir>/*.jsonl`, or one .jsonl); None for a hub id."""
    p = Path(source)
    if p.is_file():
        return [p]
    if p.is_dir():
        shards = sorted((p / "data").glob(f"{split}-*.jsonl")) if (p / "data").is_dir() else []
        shards = shards or sorted(p.glob(f"{split}-*.jsonl")) or sorted(p.glob("*.jsonl"))
        if not shards:
            raise UserError(
                f"dataset_name {source}: folder has no {split}-*.jsonl shards under {p / 'data'} and no *.jsonl files"
            )
        return shards
    if not _HUB_ID.match(str(source)) or p.suffix in {".jsonl", ".json", ".parquet"}:
        raise UserError(
            f"dataset_name {source}: no such corpus file or folder (expected a data_prep corpus folder, a .jsonl "
            f"file or a hub dataset id; paths are relative to {Path.cwd()})"
        )
    return None


def source_fingerprint(source: str | Path, split: str = "train") -> str:
    """Cheap identity of a corpus (paths, sizes, mtimes) for the tokenisation cache key; hub names hash as-is."""
    import hashlib

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
    rid = row.get("id")
    return {"id": str(rid) if rid is not None else fallback_id, "messages": messages}


def validate_batch(
    batch: dict[str, list],
    indices: list[int],
    rank: int | None,
    *,
    names: list[str],
    offsets: list[int],
    lines: bool,
    require_verified: bool,
    rejects_dir: str,
) -> dict[str, list]:
    """Parse, check and normalise one batch of rows (map function); rejects are appended to this worker's part files.

    Rows of local files arrive as text lines (`lines`: column `text`), hub rows as columns; `names`/`offsets` turn a
    row index into its file and line (for a hub dataset: one name, the line is the row number).
    """
    out: dict[str, list] = {"id": [], "messages": []}
    rejects, unverified = [], []
    texts = batch["text"] if lines else None
    columns = list(batch)
    for k, idx in enumerate(indices):
        fi = bisect_right(offsets, idx) - 1
        where, line = names[fi], idx - offsets[fi] + 1
        if texts is not None:
            text = texts[k].lstrip("\ufeff")
            if not text.strip():
                continue  # blank line: not a row
            try:
                row: Any = json.loads(text)
            except json.JSONDecodeError as e:
                reason = f"not valid JSON ({e.msg} at column {e.colno})"
                rejects.append({"stage": STAGE, "file": where, "line": line, "id": None, "reason": reason})
                continue
        else:
            row = {c: batch[c][k] for c in columns}
        reason = check_row(row)
        if reason is None and require_verified:
            passed = is_verified(row)
            if passed is None:
                reason = "verification.passed: missing (set require_verified: false to train on unverified data)"
            elif not passed:
                unverified.append(
                    {
                        "stage": STAGE,
                        "file": where,
                        "line": line,
                        "id": row.get("id"),
                        "reason": "verification.passed: false",
                    }
                )
                continue
        if reason is not None:
            rid = row.get("id") if isinstance(row, dict) else None
            rejects.append({"stage": STAGE, "file": where, "line": line, "id": rid, "reason": reason})
            continue
        example = _normalise(row, f"{Path(where).name}:{line}")
        out["id"].append(example["id"])
        out["messages"].append(example["messages"])
    append(part_file(rejects_dir, "corpus", rank), rejects)
    append(part_file(rejects_dir, "unverified", rank), unverified)
    return out


def _load_hub(name: str, config: str | None, split: str, num_proc: int | None):
    from datasets import load_dataset

    try:
        return load_dataset(name, name=config, split=split, num_proc=num_proc)
    except Exception as err:  # datasets raises many kinds (offline, missing config/split, not found)
        raise UserError(
            f"dataset_name {name}: not a local file or folder, and loading it as a hub dataset failed: "
            f"{type(err).__name__}: {one_line(err)[:300]}"
        ) from err


def read_corpus(
    source: str | Path,
    *,
    split: str = "train",
    config: str | None = None,
    require_verified: bool = True,
    num_proc: int | None = None,
    rejects_dir: Path,
    work_dir: Path,
):
    """Valid chat examples from `source` as a memory-mapped Dataset (id, messages), its CorpusStats and lineage record.

    Intermediate Arrow files go to `work_dir` (the caller deletes it once the tokenised copy is saved).
    """
    from datasets import load_dataset

    files = corpus_files(source, split)
    work_dir = Path(work_dir)
    workers = num_proc if num_proc and num_proc > 1 else None
    if files is not None:
        root = Path(source) if Path(source).is_dir() else Path(source).parent
        scans = scan_files(files, root, workers=num_proc or 1)
        raw = load_dataset(
            "text",
            data_files=[str(f) for f in files],
            split="train",
            cache_dir=str(work_dir / "text"),
            num_proc=min(workers, len(files)) if workers and len(files) > 1 else None,
        )
        names = [str(f) for f in files]
        offsets = [0]
        for s in scans:
            offsets.append(offsets[-1] + s.lines)
        if offsets[-1] != len(raw):
            raise RuntimeError(f"{source}: counted {offsets[-1]} lines but the text loader read {len(raw)}")
        lineage = corpus_record(str(source), split, scans)
    else:
        raw = _load_hub(str(source), config, split, workers)
        names, offsets = [f"hub:{source}[{split}]"], [0]
        lineage = corpus_record(str(source), split, None, hub_fingerprint=raw._fingerprint)

    clear_parts(rejects_dir, ("corpus", "unverified"))
    ds = batched_map(
        raw,
        validate_batch,
        batch_size=VALIDATE_BATCH,
        features=chat_features(),
        out_file=work_dir / "rows.arrow",
        workers=workers,
        with_indices=True,
        fn_kwargs={
            "names": names,
            "offsets": offsets[:-1] if files is not None else offsets,
            "lines": files is not None,
            "require_verified": require_verified,
            "rejects_dir": str(rejects_dir),
        },
        desc="Checking corpus rows",
    )
    if files is not None:  # the checked rows are in rows*.arrow now; the raw text copy is no longer needed
        del raw
        shutil.rmtree(work_dir / "text", ignore_errors=True)
    rejected, first_reject, n_rejected = merge_parts(rejects_dir, "corpus")
    _, _, n_unverified = merge_parts(rejects_dir, "unverified")
    stats = CorpusStats(
        files=names,
        read=len(ds) + n_rejected + n_unverified,
        kept=len(ds),
        unverified=n_unverified,
        rejected=rejected,
        first_reject=first_reject,
    )
    lineage["rows"] = {"read": stats.read, "kept": stats.kept, "unverified": stats.unverified, "rejected": n_rejected}
    if not len(ds):
        first = (
            f"; first reject: {first_reject['file']}:{first_reject['line']}: {first_reject['reason']}"
            if first_reject
            else ""
        )
        raise UserError(
            f"dataset_name {source}: no trainable rows ({stats.read} read, {stats.unverified} unverified, "
            f"{n_rejected} rejected){first}; every reject is listed in {rejects_dir}"
        )
    return ds, stats, lineage
