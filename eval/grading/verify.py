"""The primary comparison: math-verify on the normalised reference and prediction (worker processes only).

math-verify parses both sides to sympy and compares sets, intervals, matrices, equations and numbers (rounded
to 6 digits). Both sides arrive normalised (eval/grading/normalize.py); when that fails to match, the raw
written forms get a second chance, so normalisation can only add matches that math-verify would miss.
"""

from __future__ import annotations

from functools import lru_cache

_GOLD_CACHE = 4096


def _boxed(text: str) -> str:
    return text if "\\boxed" in text else "\\boxed{" + text + "}"


@lru_cache(maxsize=_GOLD_CACHE)
def _parse_gold(text: str) -> tuple:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

    return tuple(parse(_boxed(text), extraction_config=[LatexExtractionConfig(), ExprExtractionConfig()],
                       parsing_timeout=None))


def _parse_pred(text: str) -> list:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

    return parse(_boxed(text), extraction_config=[LatexExtractionConfig(boxed_match_priority=0),
                                                   ExprExtractionConfig()], parsing_timeout=None)


def verify_pair(gold: str, pred: str) -> tuple[bool, str]:
    """(equal, reason) for one written reference and prediction; no time limit (callers enforce one)."""
    from math_verify import verify

    gold_parsed = list(_parse_gold(gold))
    if not gold_parsed:
        return False, "gold parse error"
    pred_parsed = _parse_pred(pred)
    if not pred_parsed:
        return False, "parse error"
    ok = verify(gold_parsed, pred_parsed, timeout_seconds=None)
    return ok, "ok" if ok else "wrong answer"


def verify_forms(gold_norm: str, pred_norm: str, gold_raw: str, pred_raw: str) -> tuple[bool, str]:
    """math-verify on the normalised forms, then on the raw forms when those differ."""
    ok, reason = verify_pair(gold_norm, pred_norm)
    if ok or (gold_norm, pred_norm) == (gold_raw, pred_raw):
        return ok, reason
    ok_raw, reason_raw = verify_pair(gold_raw, pred_raw)
    if ok_raw:
        return True, "ok"
    return False, "wrong answer" if "wrong answer" in (reason, reason_raw) else reason
