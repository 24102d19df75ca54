"""Read problem sources into items: one dict per problem, with where it came from (file, line).

An item carries `problem`, `source`, `category`, `reference_answer`, and, when the source has them, a
`reference_response` (its own solution rewritten as a trace) or a ready `row` (seed formats that already
hold a response). Anything unreadable becomes a reject naming file, line and field; nothing raises mid-run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data_prep.convert import TO_ROW, ConvertError
from data_prep.reference import gsm8k_final_answer, gsm8k_to_response, solution_to_response
from data_prep.row import row_errors
from eval.jsonl import BadLine, iter_jsonl

FORMATS = ("gsm8k", "s1k", "math", "am", "openmath", "row")


@dataclass
class Reject:
    """A record that cannot go on, with the stage and a reason a person can act on."""

    stage: str
    reason: str
    file: str | None = None
    line: int | None = None
    field: str | None = None
    record: Any = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


HUB_PREFIX = "hf://"


def iter_hub(spec: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of a hub dataset named `hf://<repo>[:<config>]/<split>`, e.g. `hf://openai/gsm8k:main/train`."""
    import datasets

    body = spec[len(HUB_PREFIX):]
    repo, _, split = body.rpartition("/")
    if not repo or not split:
        raise ValueError(f"{spec}: expected hf://<owner>/<name>[:<config>]/<split>")
    name, _, config = repo.partition(":")
    ds = datasets.load_dataset(name, config or None, split=split)
    yield from enumerate(ds, start=1)


def iter_records(path: Path | str) -> Iterator[tuple[int, dict[str, Any] | BadLine]]:
    """(line or item number, record) from .jsonl, a .json list, .parquet, or a hub dataset (hf://...)."""
    if str(path).startswith(HUB_PREFIX):
        yield from iter_hub(str(path))
        return
    path = Path(path)
    if path.suffix == ".jsonl":
        yield from iter_jsonl(path)
    elif path.suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            yield exc.lineno, BadLine(str(path), exc.lineno, f"malformed JSON ({exc.msg})", "")
            return
        if not isinstance(data, list):
            yield 1, BadLine(str(path), 1, "expected a JSON list of objects at the top level", "")
            return
        for i, rec in enumerate(data, start=1):
            yield i, rec if isinstance(rec, dict) else BadLine(str(path), i, "expected an object", repr(rec)[:200])
    elif path.suffix == ".parquet":
        import pyarrow.parquet as pq

        for i, rec in enumerate(pq.read_table(path).to_pylist(), start=1):
            yield i, rec
    else:
        raise ValueError(f"{path}: unsupported file type {path.suffix!r} (use .jsonl, .json or .parquet)")


def _text(record: dict[str, Any], *keys: str) -> tuple[str | None, str]:
    """The first of `keys` holding a non-empty string, and the field name to blame when none does."""
    for key in keys:
        value = record.get(key)
        if isinstance(value, str) and value.strip():
            return value, key
    return None, keys[0]


def _gsm8k(record: dict[str, Any]) -> dict[str, Any] | tuple[str, str]:
    problem, field = _text(record, "question")
    if problem is None:
        return field, "missing or empty problem text"
    solution, field = _text(record, "answer")
    if solution is None:
        return field, "missing or empty reference solution"
    answer = gsm8k_final_answer(solution)
    if answer is None:
        return "answer", "no '#### <answer>' line in the reference solution"
    return {"problem": problem, "reference_answer": answer, "reference_response": gsm8k_to_response(solution),
            "category": "math"}


def _solution_format(record: dict[str, Any]) -> dict[str, Any] | tuple[str, str]:
    problem, field = _text(record, "problem", "question")
    if problem is None:
        return field, "missing or empty problem text"
    solution, _ = _text(record, "solution")
    item: dict[str, Any] = {"problem": problem, "category": "math"}
    answer = record.get("answer")
    if solution is not None:
        response, boxed = solution_to_response(solution)
        item["reference_response"] = response
        answer = answer if isinstance(answer, str) and answer.strip() else boxed
    if isinstance(answer, str) and answer.strip():
        item["reference_answer"] = answer.strip()
    return item


def _seed(fmt: str) -> Callable[[dict[str, Any]], dict[str, Any] | tuple[str, str]]:
    def read(record: dict[str, Any]) -> dict[str, Any] | tuple[str, str]:
        try:
            row = TO_ROW[fmt](record)
        except ConvertError as exc:
            field, _, reason = str(exc).partition(": ")
            return field, reason
        return {"problem": row["problem"], "category": row["category"],
                "reference_answer": row.get("reference_answer"), "row": row}
    return read


def _row(record: dict[str, Any]) -> dict[str, Any] | tuple[str, str]:
    errors = row_errors(record)
    if errors:
        field, _, reason = errors[0].partition(": ")
        return field, reason
    return {"problem": record["problem"], "category": record["category"],
            "reference_answer": record.get("reference_answer"), "row": record}


READERS: dict[str, Callable[[dict[str, Any]], dict[str, Any] | tuple[str, str]]] = {
    "gsm8k": _gsm8k, "s1k": _solution_format, "math": _solution_format,
    "am": _seed("am"), "openmath": _seed("openmath"), "row": _row,
}


def ingest(path: str | Path, fmt: str, source: str, offset: int = 0, limit: int | None = None
           ) -> Iterator[dict[str, Any] | Reject]:
    """Items (or Rejects) for records [offset, offset+limit) of one source file."""
    if fmt not in READERS:
        raise ValueError(f"unknown source format {fmt!r} (known: {', '.join(FORMATS)})")
    if not str(path).startswith(HUB_PREFIX):
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: source file not found")
    taken = 0
    for index, (line, record) in enumerate(iter_records(path)):
        if index < offset:
            continue
        if limit is not None and taken >= limit:
            return
        taken += 1
        if isinstance(record, BadLine):
            yield Reject("ingest", record.reason, file=str(path), line=line, record=record.text[:2000])
            continue
        got = READERS[fmt](record)
        if isinstance(got, tuple):
            field, reason = got
            yield Reject("ingest", reason, file=str(path), line=line, field=field, record=record)
            continue
        got.setdefault("reference_answer", None)
        got.update(source=source, origin={"file": str(path), "line": line})
        yield got
