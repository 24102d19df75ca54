"""Cleaning filters over a batch of items: `clean(items, cfg) -> (kept, rejects)`.

Each filter is switched on or off in the recipe's `clean:` section with its threshold, and every drop is a reject
whose reason starts with the filter's name (`urls: ...`). Filters look at the problem text (and the reference
answer for `proofs` and `answer_parse`); they are regular expressions except `answer_parse`, which asks eval's
math grader (math-verify, in deadline-bound worker processes) to parse the reference answer.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from data_prep.reject import Reject, item_reject


@dataclass
class EmptyFilter:
    enabled: bool = True
    min_chars: int = 10  # fewer non-space characters than this: empty


@dataclass
class Toggle:
    enabled: bool = True


@dataclass
class MultiPartFilter:
    enabled: bool = True
    max_parts: int = 1  # (a) (b) ... sub-questions allowed; 1: none


@dataclass
class NonTextFilter:
    enabled: bool = True
    max_ratio: float = 0.05  # share of characters that are symbols, private-use, control or replacement chars


@dataclass
class AnswerParseFilter:
    enabled: bool = True
    timeout_s: float = 5.0  # per answer, enforced by killing the parser process
    workers: int | None = None


@dataclass
class CleanConfig:
    """Which cleaning filters run, with their thresholds (`clean:` in a recipe; null turns them all off)."""

    empty: EmptyFilter = field(default_factory=EmptyFilter)
    truncated: Toggle = field(default_factory=Toggle)
    urls: Toggle = field(default_factory=Toggle)
    figures: Toggle = field(default_factory=Toggle)
    multi_part: MultiPartFilter = field(default_factory=MultiPartFilter)
    non_text: NonTextFilter = field(default_factory=NonTextFilter)
    proofs: Toggle = field(default_factory=Toggle)
    answer_parse: AnswerParseFilter = field(default_factory=AnswerParseFilter)


FILTERS = ("empty", "truncated", "urls", "figures", "multi_part", "non_text", "proofs", "answer_parse")

_URL = re.compile(r"\bhttps?://\S+|\bwww\.[a-z0-9-]+\.[a-z]{2,}\S*", re.I)
_FIGURE = re.compile(
    r"\[asy\]|!\[[^\]]*\]\([^)]*\)|<img\b|\.(?:png|jpe?g|gif|svg)\b|"
    r"\b(?:see|in|from|on|shown in|given in|refer to)\s+the\s+(?:figure|diagram|picture|image|graph)\b|"
    r"\b(?:figure|diagram|picture|image)\s+(?:below|above|shown|attached)\b|\bthe\s+(?:attached|following)\s+"
    r"(?:figure|diagram|picture|image)\b",
    re.I,
)
_PART_LETTER = re.compile(r"(?:^|\s)\(([a-h])\)\s", re.M)
_PART_ROMAN = re.compile(r"(?:^|\s)\((i|ii|iii|iv|v|vi)\)\s", re.M)
_PART_LINE = re.compile(r"^\s*\(?([a-h])\)\s+\S", re.M)
_PROOF = re.compile(r"\b(?:prove|show|demonstrate|verify|justify)\s+(?:that|why|the\b)|\bprove\b|\bproof\b", re.I)
_TEXT_CATEGORIES = ("L", "N", "P", "Z", "M")
_MATH_SYMBOLS = set("+-*/=<>^_|~%$#&@\\{}[]()`'\"") | {chr(c) for c in range(0x2200, 0x2300)}


def _truncated(text: str) -> str | None:
    t = text.rstrip()
    if t.endswith(("...", "…")) and not re.search(r"\d\s*,\s*(?:\.\.\.|…)$|\\[lc]?dots$", t):
        return "ends with an ellipsis"
    depth = 0
    for ch in re.sub(r"\\[{}]", "", t):
        depth += ch == "{"
        depth -= ch == "}"
        if depth < 0:
            break
    if depth > 0:
        return "unclosed { brace"
    if re.search(r"\\(?:frac|sqrt|begin)\s*$|[=+\-/(^,]\s*$", t):
        return "ends mid-expression"
    return None


def _parts(text: str) -> int:
    """Sub-questions labelled (a), (b), ... / a) b) at line starts / (i), (ii), ...: the longest run from the first."""
    letters = set(_PART_LETTER.findall(text)) | set(_PART_LINE.findall(text))
    romans = set(_PART_ROMAN.findall(text))
    n = 0
    while n < 8 and "abcdefgh"[n] in letters:
        n += 1
    r = 0
    while r < 6 and ("i", "ii", "iii", "iv", "v", "vi")[r] in romans:
        r += 1
    return max(1, n, r)


def _non_text_ratio(text: str) -> float:
    if not text:
        return 0.0
    bad = 0
    for ch in text:
        if ch in _MATH_SYMBOLS or ch in "\n\t\r":
            continue
        cat = unicodedata.category(ch)
        if cat[0] not in _TEXT_CATEGORIES or cat in ("Co", "Cn") or ch == "\ufffd":
            bad += 1
    return bad / len(text)


def text_checks(item: dict[str, Any], cfg: CleanConfig) -> tuple[str, str] | None:
    """(filter, reason) for the first regex filter that drops `item`, or None."""
    text = item["problem"]
    if cfg.empty.enabled and len("".join(text.split())) < cfg.empty.min_chars:
        return "empty", f"problem has {len(text.strip())} characters (min_chars {cfg.empty.min_chars})"
    if cfg.truncated.enabled and (why := _truncated(text)):
        return "truncated", why
    if cfg.urls.enabled and (m := _URL.search(text)):
        return "urls", f"problem contains a URL ({m.group(0)[:80]})"
    if cfg.figures.enabled and (m := _FIGURE.search(text)):
        return "figures", f"problem refers to a figure it does not contain ({m.group(0)[:60]!r})"
    if cfg.multi_part.enabled and (n := _parts(text)) > cfg.multi_part.max_parts:
        return "multi_part", f"problem has {n} sub-questions (max_parts {cfg.multi_part.max_parts})"
    if cfg.non_text.enabled and (r := _non_text_ratio(text)) > cfg.non_text.max_ratio:
        return "non_text", f"{100 * r:.1f}% non-text characters (max_ratio {cfg.non_text.max_ratio})"
    if (cfg.proofs.enabled and item.get("category") == "math" and not item.get("reference_answer")
            and _PROOF.search(text)):
        return "proofs", "a proof with no checkable reference answer"
    return None


_WORDS = re.compile(r"\\text\{[^{}]*\}|[A-Za-z][A-Za-z ]*")


def unparsable_answers(answers: list[str], cfg: AnswerParseFilter) -> dict[int, str]:
    """{index: reason} for reference answers eval's math grader cannot parse into mathematics.

    math-verify falls back to comparing raw strings when parsing fails, so an answer compared with itself always
    matches. Compared instead with itself behind a LaTeX thin space (`\\, `), a parsed answer still matches and
    a raw-string fallback does not (measured on MATH-500: 0 of its 138 non-numeric answers flagged; `\\frac{{{`,
    `x+`, `)(`, `\\sqrt{` flagged). Plain numbers and words (`\\text{east}`) are checkable as they are."""
    from eval.grading.normalize import exact_number, normalize_answer
    from eval.grading.pool import run_jobs

    jobs = []
    for i, ans in enumerate(answers):
        if exact_number(ans) is not None or _WORDS.fullmatch(ans.strip()):
            continue
        norm = normalize_answer(ans)
        jobs.append((i, "mv", norm, "\\, " + norm, ans, "\\, " + ans))
    results = run_jobs(jobs, cfg.timeout_s, cfg.workers) if jobs else {}
    bad = {}
    for i, (ok, reason) in results.items():
        if not ok:
            bad[i] = {"timeout": "parse timed out", "wrong answer": "read only as raw text"}.get(reason, reason)
    return bad


def clean(items: list[dict[str, Any]], cfg: CleanConfig | None) -> tuple[list[dict[str, Any]], list[Reject]]:
    """Keep the items every enabled filter accepts; a reject per dropped item, reason `<filter>: <why>`."""
    if cfg is None:
        return list(items), []
    verdict: dict[int, tuple[str, str]] = {}
    for i, item in enumerate(items):
        if (hit := text_checks(item, cfg)) is not None:
            verdict[i] = hit
    if cfg.answer_parse.enabled:
        todo = [i for i, it in enumerate(items) if i not in verdict and it.get("category") == "math"
                and isinstance(it.get("reference_answer"), str) and it["reference_answer"].strip()]
        bad = unparsable_answers([items[i]["reference_answer"] for i in todo], cfg.answer_parse)
        for j, reason in bad.items():
            verdict[todo[j]] = ("answer_parse", f"reference answer does not parse ({reason}): "
                                                f"{items[todo[j]]['reference_answer'][:80]!r}")
    kept, rejects = [], []
    for i, item in enumerate(items):
        if i not in verdict:
            kept.append(item)
            continue
        name, why = verdict[i]
        fld = "reference_answer" if name == "answer_parse" else "problem"
        rejects.append(item_reject("clean", item, f"{name}: {why}", field=fld, detail={"filter": name}))
    return kept, rejects
