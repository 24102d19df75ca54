"""Record readers: JSONL (line by line, bytes decoded per line), JSON lists, Parquet (row group by row group) and hub
datasets (`datasets.load_dataset(..., streaming=True)`). Each yields (line or record number, record | BadLine);
a problem with one record is a BadLine, a problem with the whole source raises SourceError with a one-line reason.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from eval.jsonl import BadLine

HUB_PREFIX = "hf://"
SUFFIXES = (".jsonl", ".json", ".parquet")


class SourceError(Exception):
    """A whole source cannot be read (missing, a directory, not parseable, hub unreachable): one line, no traceback."""


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def iter_jsonl_bytes(path: Path) -> Iterator[tuple[int, dict[str, Any] | BadLine]]:
    """JSONL read as bytes and decoded line by line, so one bad byte costs one line, not the file."""
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                shown = raw.decode("utf-8", errors="replace")[:200]
                yield lineno, BadLine(str(path), lineno, f"not UTF-8 (byte 0x{raw[exc.start]:02x} at column "
                                                         f"{exc.start + 1})", shown)
                continue
            if not text.strip():
                continue
            try:
                rec = json.loads(text)
            except json.JSONDecodeError as exc:
                yield lineno, BadLine(str(path), lineno, f"malformed JSON ({exc.msg} at column {exc.colno})",
                                      text[:2000])
                continue
            if not isinstance(rec, dict):
                yield lineno, BadLine(str(path), lineno, f"expected a JSON object, got {type(rec).__name__}",
                                      text[:2000])
                continue
            yield lineno, rec


def iter_json_list(path: Path) -> Iterator[tuple[int, dict[str, Any] | BadLine]]:
    # A JSON document is parsed whole (the stdlib has no incremental parser); large sources belong in JSONL or
    # Parquet, which stream. Records are numbered by their position in the list.
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 (byte at offset {exc.start}); "
                          "a JSON document cannot be read in part") from None
    except json.JSONDecodeError as exc:
        raise SourceError(f"{path}: malformed JSON at line {exc.lineno} column {exc.colno} "
                          f"({exc.msg})") from None
    if isinstance(data, dict) and len(data) == 1 and isinstance(next(iter(data.values())), list):
        data = next(iter(data.values()))  # {"data": [...]} / {"train": [...]} wrappers
    if not isinstance(data, list):
        raise SourceError(f"{path}: expected a JSON list of objects at the top level, got {type(data).__name__}")
    for i, rec in enumerate(data, start=1):
        yield i, rec if isinstance(rec, dict) else BadLine(str(path), i, "expected an object", repr(rec)[:200])


def iter_parquet(path: Path, batch_rows: int = 1024) -> Iterator[tuple[int, dict[str, Any] | BadLine]]:
    """Parquet rows, streamed a record batch at a time (never the whole table)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise SourceError(f"{path}: not a readable Parquet file ({_first_line(exc)})") from None
    n = 0
    try:
        for batch in pf.iter_batches(batch_size=batch_rows):
            for rec in batch.to_pylist():
                n += 1
                yield n, rec
    except (pa.ArrowException, OSError) as exc:
        raise SourceError(f"{path}: Parquet read failed after row {n} ({_first_line(exc)})") from None


def iter_file(path: Path) -> Iterator[tuple[int, dict[str, Any] | BadLine]]:
    if path.is_dir():
        raise SourceError(f"{path}: is a directory; give a file or a glob such as {path}/*.jsonl")
    if not path.exists():
        raise SourceError(f"{path}: file not found")
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise SourceError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if path.suffix == ".jsonl":
        yield from iter_jsonl_bytes(path)
    elif path.suffix == ".json":
        yield from iter_json_list(path)
    elif path.suffix == ".parquet":
        yield from iter_parquet(path)
    else:
        raise SourceError(f"{path}: unsupported file type {path.suffix!r} (use .jsonl, .json or .parquet)")


def expand(path: str) -> list[Path]:
    """The files a source path names: itself, or the sorted matches of a glob pattern."""
    if glob.has_magic(path):
        return [Path(p) for p in sorted(glob.glob(path))]
    return [Path(path)]


def parse_hub(spec: str) -> tuple[str, str | None, str]:
    """`hf://<repo>[:<config>]/<split>` → (repo, config, split)."""
    body = spec[len(HUB_PREFIX):]
    repo, _, split = body.rpartition("/")
    if not repo or not split:
        raise ValueError(f"{spec}: expected hf://<owner>/<name>[:<config>]/<split>")
    name, _, config = repo.partition(":")
    return name, config or None, split


def iter_hub(name: str, config: str | None, split: str, revision: str | None
             ) -> Iterator[tuple[int, dict[str, Any] | BadLine]]:
    """Rows of a hub dataset (or a local dataset folder), streamed; any failure to reach it is a SourceError."""
    import datasets

    label = f"hub dataset {name}" + (f":{config}" if config else "") + f"/{split}"
    try:
        ds = datasets.load_dataset(name, config, split=split, revision=revision, streaming=True)
        rows = iter(ds)
    except Exception as exc:  # datasets raises many types (ConnectionError, DatasetNotFoundError, ValueError...)
        raise SourceError(f"{label}: cannot be loaded ({type(exc).__name__}: {_first_line(exc)})") from None
    n = 0
    while True:
        try:
            rec = next(rows)
        except StopIteration:
            return
        except Exception as exc:
            raise SourceError(f"{label}: reading stopped after row {n} ({type(exc).__name__}: "
                              f"{_first_line(exc)})") from None
        n += 1
        yield n, rec
