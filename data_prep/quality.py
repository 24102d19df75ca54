"""Quality filters on responses: every filter can be switched off in the recipe (`quality:`), and every reject
names the filter that caught it (`quality.<filter>: ...`).

| filter | recipe key | rejects a response that ... |
|---|---|---|
| think | `think: true` | does not start with `<think>`, closes it more or less than once, or says nothing after it |
| answer tag | `answer_tag: false` | (when on) has no `<answer>…</answer>` after `</think>` |
| repeated n-grams | `repeated_ngrams: {n: 20, max_repeats: 20}` | repeats one n-token span more than max_repeats times |
| length | `length: {min_tokens, max_tokens}` | is shorter / longer than the limits, in tokens of `tokenizer` |
| language mixing | `language: {max_share: 0.0}` | has more than max_share CJK letters, answering a problem without any |
| boxed answers | `boxed_answers: true` | boxes different final answers on different lines (the math grader decides) |
| duplicates | `duplicates: true` | is identical (up to whitespace) to an earlier response to the same problem |

Tokens are the training tokenizer's (`tokenizer:`, a local folder or hub name) when the recipe names one, else
whitespace-separated words (n-grams only; length limits need the tokenizer). Batches: the samples of one
problem must arrive in the same batch (the pipeline keeps them together) for the duplicate filter to see them.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from data_prep.row import response_of
from data_prep.verify import problem_key

try:
    from data_prep.reject import Reject
except ImportError:  # before issue 7's reject.py lands
    from data_prep.ingest import Reject

# eval's box matcher (brace-balanced; a regex cannot match nested braces), reused so boxes are read one way.
from eval.grading.extract import _BOXED, _brace_span, clean, final_part
from eval.grading.normalize import compact, normalize_answer

# CJK scripts (Han, kana, Hangul and their compatibility blocks). Written by hand: language identifiers
# (langdetect, fastText lid) misread LaTeX-heavy reasoning and cost far more per row than a character scan.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]")
_SPACE = re.compile(r"\s+")


@dataclass
class NgramFilter:
    n: int = 20  # tokens per n-gram
    max_repeats: int = 20  # reject when one n-gram occurs more often than this


@dataclass
class LengthFilter:
    min_tokens: int = 1
    max_tokens: int | None = None


@dataclass
class LanguageFilter:
    max_share: float = 0.0  # CJK letters / all letters allowed in a response to a problem written without CJK


@dataclass
class QualityConfig:
    """Recipe section `quality:` (set a filter to false / null to switch it off)."""

    tokenizer: str | None = None  # the training tokenizer: lengths and n-grams count its tokens
    think: bool = True
    answer_tag: bool = False
    repeated_ngrams: NgramFilter | None = field(default_factory=NgramFilter)
    length: LengthFilter | None = None
    language: LanguageFilter | None = field(default_factory=LanguageFilter)
    boxed_answers: bool = True
    duplicates: bool = True

    def check(self) -> None:
        """Settings that cannot work together; raised before any row is read."""
        if self.length is not None and not self.tokenizer:
            raise ValueError("quality.length: length limits count tokens of the training tokenizer; "
                             "set quality.tokenizer")
        if self.repeated_ngrams is not None and (self.repeated_ngrams.n < 1 or self.repeated_ngrams.max_repeats < 1):
            raise ValueError("quality.repeated_ngrams: n and max_repeats must be >= 1")


FILTERS = ("think", "answer_tag", "length", "repeated_ngrams", "language", "boxed_answers", "duplicates")


@functools.lru_cache(maxsize=2)
def load_tokenizer(name: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(name)


def think_problem(text: str) -> str | None:
    if not text.lstrip().startswith("<think>"):
        return "response does not start with <think>"
    closes = text.count("</think>")
    if closes != 1:
        return f"</think> occurs {closes} times, expected once"
    if not text.split("</think>", 1)[1].strip():
        return "nothing after </think>"
    return None


def answer_tag_problem(text: str) -> str | None:
    after = text.split("</think>", 1)[-1]
    if not re.search(r"<answer>.*?</answer>", after, re.S):
        return "no <answer>...</answer> after the reasoning"
    return None


def repeated_ngram(tokens: list, n: int) -> tuple[int, Any]:
    """(count, n-gram) of the most repeated n-gram in `tokens` (0 when shorter than n)."""
    if len(tokens) < n:
        return 0, None
    counts = Counter(zip(*(tokens[i:] for i in range(n))))
    gram, count = counts.most_common(1)[0]
    return count, gram


def cjk_share(text: str) -> float:
    letters = sum(ch.isalpha() for ch in text)
    return len(_CJK.findall(text)) / letters if letters else 0.0


def boxed_answers(text: str) -> list[str]:
    """The distinct final answers boxed in the final part: boxes on one line are the parts of one answer."""
    part, _ = final_part(text)
    answers: dict[str, str] = {}
    for line in (part or "").splitlines():
        boxes = []
        for m in _BOXED.finditer(line):
            i = m.end()
            while i < len(line) and line[i] == " ":
                i += 1
            span = _brace_span(line, i) if i < len(line) and line[i] == "{" else None
            content = clean(line[span[0] + 1:span[1] - 1]) if span else ""
            if content:  # an empty box (a prompt's "\\boxed{}" echoed) states no answer
                boxes.append(content)
        if boxes:
            key = "|".join(compact(normalize_answer(b)) for b in boxes)
            answers.setdefault(key, ", ".join(boxes))
    return list(answers.values())


def _reject(row: dict[str, Any], name: str, detail: str) -> Reject:
    fields = {f.name for f in dataclasses.fields(Reject)}
    kw = {"stage": "quality", "reason": f"quality.{name}: {detail}", "field": "response", "record": row,
          "id": row.get("id"), "source": row.get("source")}
    origin = (row.get("extra") or {}).get("origin") or {}
    kw.update({"file": origin.get("file"), "line": origin.get("line")})
    return Reject(**{k: v for k, v in kw.items() if k in fields})


def quality_filter(rows: list[dict[str, Any]], cfg: QualityConfig) -> tuple[list[dict[str, Any]], list[Reject]]:
    """Split a batch into (kept rows, rejects); each reject names the first filter the row failed."""
    cfg.check()
    texts = [response_of(r) for r in rows]
    tokens: list[list] | None = None
    if cfg.tokenizer and (cfg.length is not None or cfg.repeated_ngrams is not None):
        tok = load_tokenizer(cfg.tokenizer)
        tokens = tok(texts, add_special_tokens=False)["input_ids"] if texts else []
    seen: dict[tuple[str, str], int] = {}
    verdicts: list[tuple[str, Any] | None] = []
    kept, rejects = [], []
    for i, (row, text) in enumerate(zip(rows, texts)):
        problem = None
        if cfg.think:
            problem = ("think", think_problem(text))
        if not (problem and problem[1]) and cfg.answer_tag:
            problem = ("answer_tag", answer_tag_problem(text))
        if not (problem and problem[1]) and cfg.length is not None:
            n_tok = len(tokens[i])
            lim = cfg.length
            if n_tok < lim.min_tokens or (lim.max_tokens is not None and n_tok > lim.max_tokens):
                problem = ("length", f"{n_tok} tokens, limits [{lim.min_tokens}, {lim.max_tokens}]")
        if not (problem and problem[1]) and cfg.repeated_ngrams is not None:
            rep = cfg.repeated_ngrams
            count, gram = repeated_ngram(tokens[i] if tokens is not None else text.split(), rep.n)
            if count > rep.max_repeats:
                shown = (load_tokenizer(cfg.tokenizer).decode(list(gram)) if tokens is not None
                         else " ".join(gram))
                problem = ("repeated_ngrams", f"a {rep.n}-token span occurs {count} times "
                                              f"(max {rep.max_repeats}): {shown[:80]!r}")
        if not (problem and problem[1]) and cfg.language is not None and not _CJK.search(row["problem"]):
            share = cjk_share(text)
            if share > cfg.language.max_share:
                problem = ("language", f"{share:.2%} of the letters are CJK in a response to a non-CJK problem")
        if not (problem and problem[1]) and cfg.duplicates:
            norm = hashlib.sha256(_SPACE.sub(" ", text).strip().encode()).hexdigest()
            first = seen.setdefault((problem_key(row), norm), i)
            if first != i:
                problem = ("duplicates", f"identical to response {rows[first].get('id')} of the same problem")
        if not (problem and problem[1]) and cfg.boxed_answers:
            answers = boxed_answers(text)
            if len(answers) > 1:
                problem = ("boxed_answers", answers)  # settled below: forms of one value are one answer
        verdicts.append(problem if problem and problem[1] else None)
    _settle_boxed(verdicts)
    for row, problem in zip(rows, verdicts):
        if problem:
            rejects.append(_reject(row, *problem))
        else:
            kept.append(row)
    return kept, rejects


def _settle_boxed(verdicts: list[tuple[str, Any] | None]) -> None:
    """Boxes that differ as text may write one value two ways (`2/3 < x < 1` and `(\\frac{2}{3}, 1)`): the math
    grader decides, one batch for the whole batch of rows; only answers it finds different reject the row."""
    from data_prep.verifiers.math import verify_math

    pending = [(i, v[1]) for i, v in enumerate(verdicts) if v and v[0] == "boxed_answers"]
    pairs = [(answers[0], f"\\boxed{{{a}}}") for _, answers in pending for a in answers[1:]]
    grades = iter(verify_math(pairs, strict=True))
    for i, answers in pending:
        same = [next(grades).passed for _ in answers[1:]]
        if all(same):
            verdicts[i] = None
        else:
            shown = ", ".join(repr(a[:30]) for a in answers[:4])
            verdicts[i] = ("boxed_answers", f"{len(answers)} different boxed answers: {shown}")


def filter_counts(rejects: list[Reject]) -> dict[str, int]:
    """Rejects per filter name (the stats key `quality_filters`)."""
    counts: Counter[str] = Counter()
    for r in rejects:
        if r.reason.startswith("quality."):
            counts[r.reason[len("quality."):].split(":")[0]] += 1
    return dict(counts)
