"""The corpus row: one (problem, response) pair, the format data_prep writes and train reads.

Required: id, messages, problem, source, category, verification{method, passed, score, reason}.
Optional: reference_answer, test_cases, teacher, sampling, difficulty, pass_rate, n_tokens, extra.
`extra` holds what a seed format carries beyond these fields, so converters can round-trip losslessly.
"""

from __future__ import annotations

import hashlib
from typing import Any

REQUIRED = ("id", "messages", "problem", "source", "category", "verification")
OPTIONAL = (
    "reference_answer", "test_cases", "teacher", "sampling", "difficulty", "pass_rate", "n_tokens", "extra",
)
CATEGORIES = ("math", "code", "science", "other")
ROLES = ("system", "user", "assistant", "tool")


def stable_id(*parts: str) -> str:
    """A short id that depends only on content, so reruns and resumes name rows the same way."""
    h = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return h[:16]


def unverified() -> dict[str, Any]:
    """The verification block of a row that no verifier has looked at yet."""
    return {"method": "unverified", "passed": None, "score": None, "reason": "not verified yet"}


def make_row(
    *,
    problem: str,
    response: str,
    source: str,
    category: str,
    system: str | None = None,
    id: str | None = None,
    verification: dict[str, Any] | None = None,
    **optional: Any,
) -> dict[str, Any]:
    """Build a row from a problem and an assistant response; unknown optional fields are an error."""
    bad = [k for k in optional if k not in OPTIONAL]
    if bad:
        raise ValueError(f"unknown row field {bad[0]!r} (optional fields: {', '.join(OPTIONAL)})")
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": problem},
        {"role": "assistant", "content": response},
    ]
    row = {
        "id": id or stable_id(source, problem, response),
        "messages": messages,
        "problem": problem,
        "source": source,
        "category": category,
        "verification": verification or unverified(),
    }
    row.update({k: v for k, v in optional.items() if v is not None})
    return row


def row_errors(row: Any) -> list[str]:
    """Every way `row` breaks the format, as 'field: what was expected' strings (empty list = valid)."""
    if not isinstance(row, dict):
        return [f"<row>: expected an object, got {type(row).__name__}"]
    errors = [f"{k}: missing required field" for k in REQUIRED if k not in row]
    for key in ("id", "problem", "source"):
        if key in row and (not isinstance(row[key], str) or not row[key].strip()):
            errors.append(f"{key}: expected a non-empty string, got {row[key]!r}")
    if "category" in row and row["category"] not in CATEGORIES:
        errors.append(f"category: expected one of {list(CATEGORIES)}, got {row['category']!r}")
    msgs = row.get("messages")
    if "messages" in row:
        if not isinstance(msgs, list) or not msgs:
            errors.append("messages: expected a non-empty list of {role, content}")
        else:
            for i, m in enumerate(msgs):
                if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
                    errors.append(f"messages[{i}]: expected {{role in {list(ROLES)}, content: str}}, got {m!r:.80}")
            if isinstance(msgs[-1], dict) and msgs[-1].get("role") != "assistant":
                errors.append("messages: the last turn must be the assistant's response")
    ver = row.get("verification")
    if "verification" in row:
        if not isinstance(ver, dict):
            errors.append("verification: expected an object {method, passed, score, reason}")
        else:
            for key in ("method", "passed", "score", "reason"):
                if key not in ver:
                    errors.append(f"verification.{key}: missing")
            if "passed" in ver and ver["passed"] is not None and not isinstance(ver["passed"], bool):
                errors.append(f"verification.passed: expected true, false or null, got {ver['passed']!r}")
    unknown = [k for k in row if k not in REQUIRED and k not in OPTIONAL]
    if unknown:
        errors.append(f"{unknown[0]}: unknown field (put format-specific data under 'extra')")
    return errors


def response_of(row: dict[str, Any]) -> str:
    """The assistant response a row is about (its last turn)."""
    return row["messages"][-1]["content"]
