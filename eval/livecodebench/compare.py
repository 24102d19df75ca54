"""Output comparison with the official LiveCodeBench rules."""

from __future__ import annotations

import ast
import json
from decimal import Decimal, InvalidOperation


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().split("\n")]


def _decimals(line: str) -> list[Decimal] | None:
    try:
        return [Decimal(token) for token in line.split()]
    except InvalidOperation:
        return None


def stdio_match(output: str, expected: str) -> tuple[bool, str]:
    """Compare stdout with the expected output: same number of lines after stripping the whole text and each
    line; a line matches if equal as text, or if both lines parse as whitespace-separated numbers that are
    equal as Decimals (so 1.0 == 1.00 and 2 == 2.0, but 0.333 != 0.3333: the official rule has no epsilon)."""
    got, want = _lines(output), _lines(expected)
    if len(got) != len(want):
        return False, f"wrong answer: {len(got)} output lines, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if g == w:
            continue
        dg, dw = _decimals(g), _decimals(w)
        if dg is None or dw is None or dg != dw:
            return False, f"wrong answer at line {i + 1}: {_short(g)!r} != {_short(w)!r}"
    return True, ""


def call_match(returned_repr: str, expected_json: str) -> tuple[bool, str]:
    """Compare a call-based result (its repr, top-level tuple already made a list) with the expected JSON using
    Python `==`, as the official grader does; nested tuples therefore do not equal lists."""
    try:
        expected = json.loads(expected_json)
    except json.JSONDecodeError as exc:
        return False, f"expected output is not JSON: {exc}"
    try:
        got = ast.literal_eval(returned_repr)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False, f"wrong answer: returned {_short(returned_repr)!r}, not a plain value"
    if got == expected:
        return True, ""
    return False, f"wrong answer: returned {_short(returned_repr)!r}, expected {_short(expected_json)!r}"


def _short(text: str, n: int = 200) -> str:
    return text if len(text) <= n else text[: n // 2] + " ... " + text[-n // 2:]
