"""Turn a dataset's own reference solution into a training response: `<think>…</think>` + final `\\boxed{}`.

Reference solutions are free, correct-by-construction traces for the easy part of a corpus; they still go
through the same verifier as teacher responses, which is what catches extraction bugs (GSM8K's "1,200").
"""

from __future__ import annotations

import re

from eval.grading.extract import last_boxed

_CALC = re.compile(r"<<[^<>]*>>")  # GSM8K calculator annotations: "48/2 = <<48/2=24>>24"
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?:\D|$))")


def gsm8k_final_answer(solution: str) -> str | None:
    """The number after GSM8K's last '####', thousands separators removed ("1,200" → "1200")."""
    if "####" not in solution:
        return None
    answer = solution.rsplit("####", 1)[1].strip()
    answer = _THOUSANDS.sub("", answer).replace("$", "").strip()
    return answer or None


def gsm8k_to_response(solution: str) -> str | None:
    """GSM8K's worked solution as reasoning, its final line as the answer; None when there is no '####'."""
    answer = gsm8k_final_answer(solution)
    if answer is None:
        return None
    body = _CALC.sub("", solution.rsplit("####", 1)[0]).strip()
    last = body.splitlines()[-1].strip() if body else ""
    closing = f"{last}\n\n" if last else ""
    return f"<think>\n{body}\n</think>\n\n{closing}The final answer is $\\boxed{{{answer}}}$."


def solution_to_response(solution: str) -> tuple[str, str | None]:
    """A MATH/s1K-style solution as reasoning, closed by its last boxed answer: (response, answer or None)."""
    answer, _ = last_boxed(solution)
    final = f"The final answer is $\\boxed{{{answer}}}$." if answer is not None else solution.strip().splitlines()[-1]
    return f"<think>\n{solution.strip()}\n</think>\n\n{final}", answer
