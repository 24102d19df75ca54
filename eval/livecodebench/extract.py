"""Take the program out of a model response the way the official LiveCodeBench grader does."""

from __future__ import annotations


def extract_code(response: str) -> str:
    """The lines between the last two lines containing ``` (the last fenced block); "" when there is none.

    Reasoning models often show drafts earlier in the response, so the official grader takes the final block.
    A response with fewer than two fence lines yields "" (graded as wrong, not as a crash).
    """
    lines = response.split("\n")
    fences = [i for i, line in enumerate(lines) if "```" in line]
    if len(fences) < 2:
        return ""
    return "\n".join(lines[fences[-2] + 1: fences[-1]])
