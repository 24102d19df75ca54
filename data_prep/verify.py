"""Verification: decide for every row whether its response is right, with the graders that score models.

Math rows with a reference answer go through eval's math grader (math-verify, per-item deadlines);
rows without anything to check against are marked unverifiable (AM scored those with a reward model,
which this build does not run).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from data_prep.row import response_of
from eval.grading.math import grade_many


@dataclass
class VerifyConfig:
    timeout_s: float = 5.0  # per item, enforced by killing the grader process
    workers: int | None = None  # grader processes (default: CPU count)
    keep_unverifiable: bool = False  # keep rows nothing could check (marked passed=null)
    require_think: bool = True  # format check: the response must close its <think> block


def verify_rows(rows: list[dict[str, Any]], cfg: VerifyConfig) -> list[dict[str, Any]]:
    """Return the rows with `verification` filled in (input order kept)."""
    math_idx = [i for i, r in enumerate(rows) if r["category"] == "math" and r.get("reference_answer")]
    grades = grade_many([(str(rows[i]["reference_answer"]), response_of(rows[i])) for i in math_idx],
                        timeout_s=cfg.timeout_s, workers=cfg.workers)
    out = [dict(r) for r in rows]
    for i, g in zip(math_idx, grades):
        out[i]["verification"] = {
            "method": "math_verify", "passed": g.correct, "score": 1.0 if g.correct else 0.0,
            "reason": g.reason if g.correct or g.extracted is None else f"{g.reason}: got {g.extracted!r}",
        }
    done = set(math_idx)
    for i, row in enumerate(out):
        if i in done:
            continue
        if row["verification"].get("passed") is not None and row["verification"]["method"] != "unverified":
            continue  # a seed row that arrived with a verdict (OpenMathInstruct's is_correct) keeps it
        why = ("has test cases but code verification is not configured" if row.get("test_cases")
               else "no reference answer or test cases")
        row["verification"] = {"method": "none", "passed": None, "score": None, "reason": f"unverifiable: {why}"}
    if cfg.require_think:
        for row in out:
            text = response_of(row)
            if row["verification"]["passed"] and ("</think>" not in text or not text.lstrip().startswith("<think>")):
                row["verification"] = {**row["verification"], "passed": False,
                                       "reason": "format: response must start with <think> and close it"}
    return out
