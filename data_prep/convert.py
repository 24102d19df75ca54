"""Lossless converters between corpus rows and the two seed formats.

AM-DeepSeek-R1-Distilled: {"messages": [{role, content, info{source, reference_answer, test_case,
think_content, answer_content}}, ...]}. OpenMathInstruct-1: {question, generated_solution, expected_answer,
predicted_answer, error_message, is_correct, dataset, generation_type}.
Whatever a format carries that has no row field is kept under `extra`, so `from_row(to_row(x)) == x`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from data_prep.row import make_row, unverified
from eval.grading.extract import extract_answer

AM_INFO_KEYS = ("source", "reference_answer", "test_case", "think_content", "answer_content")
OPENMATH_KEYS = (
    "question", "generated_solution", "expected_answer", "predicted_answer",
    "error_message", "is_correct", "dataset", "generation_type",
)
_THINK_ANSWER = re.compile(r"^<think>(.*?)</think>\s*<answer>(.*)</answer>\s*$", re.S)


class ConvertError(ValueError):
    """A record that does not have the shape its format requires; the message names the field."""


def _am_category(user_info: dict[str, Any]) -> str:
    # The AM release has no category column; test cases mean code, a reference answer almost always math.
    if user_info.get("test_case"):
        return "code"
    if user_info.get("reference_answer") not in (None, ""):
        return "math"
    return "other"


def am_to_row(record: dict[str, Any]) -> dict[str, Any]:
    """One AM record → one corpus row (the last assistant turn is the response)."""
    msgs = record.get("messages")
    if not isinstance(msgs, list) or len(msgs) < 2:
        raise ConvertError("messages: expected a list with a user and an assistant turn")
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or "role" not in m or not isinstance(m.get("content"), str):
            raise ConvertError(f"messages[{i}]: expected {{role, content, info}}")
    users = [m for m in msgs if m["role"] == "user"]
    if not users or msgs[-1]["role"] != "assistant":
        raise ConvertError("messages: expected a user turn and a final assistant turn")
    user_info = users[0].get("info") or {}
    asst_info = msgs[-1].get("info") or {}
    test_cases = None
    if user_info.get("test_case"):
        try:
            test_cases = json.loads(user_info["test_case"])
        except (TypeError, json.JSONDecodeError):
            test_cases = user_info["test_case"]
    extra = {"am": {"info": [m.get("info") for m in msgs], "top": {k: v for k, v in record.items() if k != "messages"}}}
    row = make_row(
        problem=users[0]["content"],
        response=msgs[-1]["content"],
        source=user_info.get("source") or "am",
        category=_am_category(user_info),
        reference_answer=user_info.get("reference_answer"),
        test_cases=test_cases,
        teacher=asst_info.get("source"),
        extra=extra,
    )
    row["messages"] = [{"role": m["role"], "content": m["content"]} for m in msgs]
    return row


def row_to_am(row: dict[str, Any]) -> dict[str, Any]:
    """One corpus row → one AM record; rows that came from AM come back byte-for-byte equal as JSON values."""
    kept = (row.get("extra") or {}).get("am")
    if kept and len(kept["info"]) == len(row["messages"]):
        msgs = [{"role": m["role"], "content": m["content"], "info": info}
                for m, info in zip(row["messages"], kept["info"])]
        for m in msgs:
            if m["info"] is None:
                del m["info"]
        return {"messages": msgs, **kept.get("top", {})}
    # A row made by distillery: build AM's info blocks from the row's fields.
    test_case = row.get("test_cases")
    if test_case is not None and not isinstance(test_case, str):
        test_case = json.dumps(test_case)
    response = row["messages"][-1]["content"]
    match = _THINK_ANSWER.match(response)
    think, answer = (match.group(1), match.group(2)) if match else (None, None)
    if match is None and "</think>" in response:
        think, _, answer = response.partition("</think>")
        think = think.removeprefix("<think>")
    base = {"source": row["source"], "reference_answer": row.get("reference_answer"), "test_case": test_case}
    msgs = []
    for m in row["messages"]:
        if m["role"] == "assistant":
            info = {**base, "source": row.get("teacher") or row["source"],
                    "think_content": think, "answer_content": answer}
        else:
            info = {**base, "think_content": None, "answer_content": None}
        msgs.append({"role": m["role"], "content": m["content"], "info": info})
    return {"messages": msgs}


def openmath_to_row(record: dict[str, Any]) -> dict[str, Any]:
    """One OpenMathInstruct-1 record → one corpus row; `is_correct` becomes the verification verdict."""
    for key in ("question", "generated_solution"):
        if not isinstance(record.get(key), str) or not record[key].strip():
            raise ConvertError(f"{key}: expected a non-empty string")
    is_correct = record.get("is_correct")
    if is_correct is None:
        verification = unverified()
    else:
        verification = {
            "method": "openmath_is_correct",
            "passed": bool(is_correct),
            "score": 1.0 if is_correct else 0.0,
            "reason": "correct" if is_correct else (record.get("error_message") or "wrong answer"),
        }
    return make_row(
        problem=record["question"],
        response=record["generated_solution"],
        source=record.get("dataset") or "openmathinstruct-1",
        category="math",
        reference_answer=None if record.get("expected_answer") is None else str(record["expected_answer"]),
        verification=verification,
        # Everything but the two texts the row already holds, verbatim (types included), for the way back.
        extra={"openmath": {k: v for k, v in record.items() if k not in ("question", "generated_solution")}},
    )


def row_to_openmath(row: dict[str, Any]) -> dict[str, Any]:
    """One corpus row → one OpenMathInstruct-1 record (fields of the original come back unchanged)."""
    kept = (row.get("extra") or {}).get("openmath")
    out: dict[str, Any] = {
        "question": row["problem"],
        "generated_solution": row["messages"][-1]["content"],
    }
    if kept is not None:
        out.update(kept)
        return out
    ver = row["verification"]
    out.update({
        "expected_answer": row.get("reference_answer"),
        "predicted_answer": extract_answer(row["messages"][-1]["content"], strict=True).answer,
        "error_message": None if ver.get("passed") else ver.get("reason"),
        "is_correct": ver.get("passed"),
        "dataset": row["source"],
        "generation_type": "distillery",
    })
    return out


TO_ROW = {"am": am_to_row, "openmath": openmath_to_row}
FROM_ROW = {"am": row_to_am, "openmath": row_to_openmath}


def _export(rows: Iterable[dict[str, Any]], path: str | Path, convert) -> int:
    """Write converted rows one JSON line at a time to a temporary file renamed into place: streaming (memory
    independent of the corpus size), and a killed export never leaves a half-written file under `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    n = 0
    try:
        with tmp.open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(convert(row), ensure_ascii=False) + "\n")
                n += 1
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return n


def export_am(rows: Iterable[dict[str, Any]], path: str | Path) -> int:
    """Publish-time export of corpus rows in AM-DeepSeek-R1-Distilled's format; returns the number written."""
    return _export(rows, path, row_to_am)


def export_openmath(rows: Iterable[dict[str, Any]], path: str | Path) -> int:
    """Publish-time export of corpus rows in OpenMathInstruct-1's format; returns the number written."""
    return _export(rows, path, row_to_openmath)
