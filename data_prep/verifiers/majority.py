"""Majority vote for problems without a reference: the samples' most common final answer becomes the reference
when enough samples agree on it; rows whose answer the math grader finds equal to it pass (method "majority")."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from eval.grading.extract import extract_answer
from eval.grading.normalize import compact, normalize_answer


@dataclass
class MajorityConfig:
    """Recipe section `verify.majority`."""

    min_samples: int = 2  # fewer samples of a problem than this: no vote, the rows stay unverifiable
    min_agreement: float = 0.5  # the top answer needs more than this share of the samples (0.5: a strict majority)
    strict: bool = True  # read answers only from <answer> / \boxed{}


@dataclass
class Vote:
    answer: str | None  # the majority answer, None when there was no majority
    votes: int
    samples: int
    reason: str


def vote(responses: list[str], cfg: MajorityConfig) -> Vote:
    """The majority answer among the responses of one problem (answers compared after eval's normalisation)."""
    n = len(responses)
    if n < cfg.min_samples:
        return Vote(None, 0, n, f"majority: {n} sample(s), need {cfg.min_samples} to vote")
    forms: Counter[str] = Counter()
    first: dict[str, str] = {}
    for r in responses:
        ex = extract_answer(r, strict=cfg.strict)
        if ex.answer is None:
            continue
        key = compact(normalize_answer(ex.answer))
        forms[key] += 1
        first.setdefault(key, ex.answer)
    if not forms:
        return Vote(None, 0, n, f"majority: none of {n} samples states an answer")
    key, top = forms.most_common(1)[0]
    if top / n <= cfg.min_agreement:
        return Vote(None, top, n, f"majority: top answer {first[key]!r} has {top}/{n} votes, "
                                  f"needs more than {cfg.min_agreement:.0%}")
    return Vote(first[key], top, n, f"majority: {first[key]!r} with {top}/{n} votes")
