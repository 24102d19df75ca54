"""Finding the final answer inside a model response: reasoning cut-off, `<answer>` tags, `\\boxed{}`.

Shared by the math and multiple-choice graders so both read a response the same way (R1 / AM protocol:
cut at the last `</think>`, prefer `<answer>…</answer>`, then the last `\\boxed{}`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

_BOXED = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_ANSWER_OPEN = re.compile(r"<answer>", re.IGNORECASE)
_ANSWER_CLOSE = re.compile(r"</answer>", re.IGNORECASE)
_GSM8K = re.compile(r"^\s*####\s*(.+?)\s*$", re.MULTILINE)


@dataclass
class Extracted:
    """The final answer found in a response (None when there is none) and how it was found."""

    answer: str | None
    truncated: bool
    how: str  # "boxed" | "answer_tag_boxed" | "answer_tag" | "gsm8k" | "none" | "truncated" | "unbalanced_boxed"


def final_part(response: str) -> tuple[str | None, bool]:
    """The text after the last `</think>`; (None, True) when reasoning was opened but never closed."""
    cut = response.rfind(THINK_CLOSE)
    if cut >= 0:
        return response[cut + len(THINK_CLOSE):], False
    if THINK_OPEN in response:
        return None, True
    return response, False


def answer_tag(text: str) -> str | None:
    """Content of the last `<answer>` block (to `</answer>` or the end of the text), or None."""
    opens = list(_ANSWER_OPEN.finditer(text))
    if not opens:
        return None
    start = opens[-1].end()
    close = _ANSWER_CLOSE.search(text, start)
    return text[start:close.start() if close else len(text)].strip()


def last_boxed(text: str) -> tuple[str | None, bool]:
    """Content of the last `\\boxed{}`/`\\fbox{}` with balanced braces.

    Returns (content, found): found is True when a box command exists, content None when it is unbalanced
    (the response was cut off inside the box). Hand-written because a regex cannot match nested braces.
    """
    matches = list(_BOXED.finditer(text))
    if not matches:
        return None, False
    i = matches[-1].end()
    while i < len(text) and text[i] == " ":
        i += 1
    if i < len(text) and text[i] != "{":
        # `\boxed 5` form: the answer runs to the next space, `$` or end of line.
        m = re.match(r"[^\s$]+", text[i:])
        return (m.group(0) if m else None), True
    depth = 0
    start = i + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2  # `\{` and `\}` are literal braces, not grouping
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start:i].strip(), True
        i += 1
    return None, True


def _clean(answer: str) -> str:
    answer = answer.strip()
    while len(answer) >= 2 and answer[0] == "$" and answer[-1] == "$":
        answer = answer[1:-1].strip()
    if answer.endswith(".") and not answer.endswith(".."):  # sentence full stop, not an ellipsis
        answer = answer[:-1].rstrip()
    return answer


def extract_answer(response: str) -> Extracted:
    """Find the final answer: cut at the last `</think>`, then `<answer>`, the last `\\boxed{}`, `#### N`."""
    text, truncated = final_part(response)
    if text is None:
        return Extracted(None, truncated, "truncated")
    tagged = answer_tag(text)
    if tagged is not None:
        boxed, found = last_boxed(tagged)
        if boxed is not None:
            return Extracted(_clean(boxed), False, "answer_tag_boxed")
        if not found and tagged:
            return Extracted(_clean(tagged), False, "answer_tag")
    boxed, found = last_boxed(text)
    if boxed is not None:
        return Extracted(_clean(boxed), False, "boxed")
    if found:
        return Extracted(None, False, "unbalanced_boxed")
    gsm = _GSM8K.findall(text)
    if gsm:
        return Extracted(_clean(gsm[-1]), False, "gsm8k")
    return Extracted(None, False, "none")
