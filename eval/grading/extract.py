"""Finding the final answer inside a model response — the one extraction chain every grader uses.

The chain, in order (each sample records which step found its answer in `how`):

1. cut at the last `</think>`; a response that opened `<think>` and never closed it ran out of budget
   (`truncated`, wrong everywhere — R1 protocol);
2. `<answer>…</answer>` (AM protocol): a `\\boxed{}` inside it, else the stated answer inside it, else the block;
3. the last `\\boxed{}` / `\\fbox{}` of the final part (R1 / Qwen2.5-Math / lighteval);
4. a stated final answer: "the final answer is …", "the answer is …", "Answer: …", GSM8K's `#### N`;
5. the last number or math expression of the closing sentence ("…so the height is 5 cm.", "…which is 9."),
   looking back over at most three trailing sentences to skip "I hope it is correct."

`strict=True` stops after step 3: only the formats the prompts ask for count, which is the format-compliance
reading reported beside every score. Steps 4–5 are what Qwen2.5-Math's harness, lighteval and math-verify do
when a response has no box; without them such responses would be "no answer" while every other harness scores
them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

# How an answer was found. The first group is "format-compliant": what `strict_format` accepts.
STRICT_HOWS = frozenset({"answer_tag", "answer_tag_boxed", "boxed"})
LENIENT_HOWS = frozenset({"stated", "last_sentence"})

_BOXED = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_ANSWER_OPEN = re.compile(r"<answer>", re.IGNORECASE)
_ANSWER_CLOSE = re.compile(r"</answer>", re.IGNORECASE)
# "final answer is", "the answer is", "Answer:", "answer is:", "#### 72". Only the last one counts.
_STATED = re.compile(
    r"(?:final\s+answer|\banswer)(?:\s+to\s+(?:the|this)\s+(?:question|problem))?\**\s*\**\s*(?:is|:|：|=)\s*:?"
    r"|final\s+answer\s*\**[ \t]*\n"  # "**Final Answer**" on a line of its own
    r"|^[ \t]*####",
    re.IGNORECASE | re.MULTILINE,
)
_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:,\d{3})*(?:\.\d+)?(?:\s*/\s*\d+)?")
# A sentence ends at . ! ? followed by space/end, or at a line break; a decimal point is not an end.
_SENTENCE_END = re.compile(r"(?<!\d)[.!?](?=\s|$)|(?<=\d)\.(?=\s+[A-Z]|\s*$)|\n+")
_LOOKBACK_SENTENCES = 3
_MAX_TAIL = 2000  # the closing-sentence step reads at most this many trailing characters


@dataclass
class Extracted:
    """The final answer found in a response (None when there is none), whether the response was cut off,
    and how the answer was found (`answer_tag`, `answer_tag_boxed`, `boxed`, `stated`, `last_sentence`,
    `none`, `truncated`, `unbalanced_boxed`)."""

    answer: str | None
    truncated: bool
    how: str

    @property
    def format_ok(self) -> bool:
        """The answer is in a format the prompt asked for (`<answer>` or `\\boxed{}` after the reasoning)."""
        return self.how in STRICT_HOWS


def _last_match(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    """The last match of `pattern` in `text` (one linear scan)."""
    last = None
    for last in pattern.finditer(text):  # noqa: B007 - we want the last match
        pass
    return last


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
    last = _last_match(_ANSWER_OPEN, text)
    if last is None:
        return None
    start = last.end()
    close = _ANSWER_CLOSE.search(text, start)
    return text[start:close.start() if close else len(text)].strip()


def last_boxed(text: str) -> tuple[str | None, bool]:
    """Content of the last `\\boxed{}`/`\\fbox{}` with balanced braces.

    Returns (content, found): found is True when a box command exists, content None when it is unbalanced
    (the response was cut off inside the box). Hand-written because a regex cannot match nested braces.
    """
    match = _last_match(_BOXED, text)
    if match is None:
        return None, False
    i = match.end()
    while i < len(text) and text[i] == " ":
        i += 1
    if i < len(text) and text[i] != "{":
        # `\boxed 5` form: the answer runs to the next space, `$` or end of line.
        m = re.match(r"[^\s$]+", text[i:])
        return (m.group(0) if m else None), True
    span = _brace_span(text, i)
    return (text[span[0] + 1:span[1] - 1].strip() if span else None), True


# Boxes joined by "," or "and" list the parts of one answer; "or" offers alternatives (often the same value written
# two ways, "\\boxed{15\\frac{39}{40}}, or \\boxed{\\frac{639}{40}}"), where the last box counts, as everywhere else.
_CONNECTOR = re.compile(r"^[\s$.,;]*(?:,|and|\\text\{\s*and\s*\}|\\quad)?[\s$.,;]*(?:[a-z]\s*=\s*)?[\s$]*$",
                        re.IGNORECASE)


def boxed_answers_of_last_line(text: str) -> str | None:
    """All boxes of the line holding the last box, joined with ", " when they list one answer's parts
    ("x = \\boxed{2} and x = \\boxed{-3}"); None when that line has at most one box. Linear in the text: boxes
    nested inside a box are skipped, and a line with more than a few boxes is not a list of answers."""
    last = _last_match(_BOXED, text)
    if last is None:
        return None
    line_start = text.rfind("\n", 0, last.start()) + 1
    parts: list[str] = []
    prev_end = None
    for m in _BOXED.finditer(text, line_start):
        if prev_end is not None and m.start() < prev_end:
            continue  # nested inside the previous box
        span = _brace_span(text, m.end())
        if span is None or len(parts) >= _MAX_JOINED:
            return None
        if prev_end is not None and not _CONNECTOR.match(text[prev_end:m.start()]):
            return None
        parts.append(text[span[0] + 1:span[1] - 1].strip())
        prev_end = span[1]
    return ", ".join(parts) if len(parts) > 1 else None


_MAX_JOINED = 8


def _brace_span(text: str, i: int) -> tuple[int, int] | None:
    """(start, end) of the balanced `{…}` group that starts at text[i] (after spaces); None if there is none."""
    while i < len(text) and text[i] == " ":
        i += 1
    if i >= len(text) or text[i] != "{":
        return None
    start, depth = i, 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        depth += (text[i] == "{") - (text[i] == "}")
        i += 1
        if depth == 0:
            return start, i
    return None


def clean(answer: str) -> str:
    """Strip math delimiters, Markdown emphasis and a closing full stop from an extracted answer."""
    answer = answer.strip()
    changed = True
    while changed and answer:
        changed = False
        for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"), ("**", "**")):
            if len(answer) >= len(left) + len(right) and answer.startswith(left) and answer.endswith(right):
                answer = answer[len(left):len(answer) - len(right)].strip()
                changed = True
        if answer.endswith(".") and not answer.endswith(".."):  # sentence full stop, not an ellipsis
            answer = answer[:-1].rstrip()
            changed = True
    return answer


def _sentence_after(text: str, start: int) -> str:
    """The text from `start` to the end of its sentence (line break, or . ! ? followed by a space)."""
    text = text[:start + _MAX_TAIL]  # a stated answer is short; never scan a whole adversarial response
    end = _SENTENCE_END.search(text, start)
    stop = end.start() if end else len(text)
    # A math span may contain a full stop ("$3.5$" is handled by the digit rule, "$\ldots.$" is not): keep it whole.
    span = _MATH_SPAN.search(text, start)
    if span and span.start() < stop < span.end():
        stop = span.end()
    return text[start:stop]


def stated_answer(text: str) -> str | None:
    """The answer of the last "final answer is …" / "Answer: …" / "#### N" statement, or None."""
    last = _last_match(_STATED, text)
    if last is None:
        return None
    rest = _sentence_after(text, last.end()).strip()
    boxed, _ = last_boxed(rest)
    if boxed:
        return clean(boxed)
    span = _MATH_SPAN.search(rest)
    if span:
        return clean(_rhs(next(g for g in span.groups() if g is not None)))
    if _NOT_AN_ANSWER.match(rest.lstrip(":* ")):
        return None
    rest = _CLAUSE.split(rest, maxsplit=1)[0]  # "12, which is 2 more than 10" -> "12"
    rest = re.sub(r"^(?:that\s+|the\s+)?", "", rest.lstrip(":*").strip(), flags=re.IGNORECASE)
    answer = clean(rest.rstrip(",;:"))
    if not answer or not (re.search(r"[\d\\^_=+*/()]", answer) or _WORD_ANSWER.fullmatch(answer)):
        return None
    return answer


# "the answer is correct", "the answer is not …": a comment on an answer, not one.
_NOT_AN_ANSWER = re.compile(
    r"(?:correct|incorrect|wrong|right|not|that|in|as|to|below|above|given|clear|obvious|consistent|indeed|"
    r"likely|probably|therefore|thus|so|just|still|also|then|here|there|this|it|a|an|same|different|unique|"
    r"let|let's|we|i|to|wait|hmm|but|if)\b",
    re.IGNORECASE,
)
# A clause after the answer: ", which …", " because …".
_CLAUSE = re.compile(r",?\s+(?:which|since|because|as|where|so|giving|given|but|hence|thus)\b", re.IGNORECASE)
# A stated answer in words ("The answer is Evelyn.") has at most four words.
_WORD_ANSWER = re.compile(r"[A-Za-z][\w'-]*(?:\s+[\w'-]+){0,2}")


def _rhs(answer: str) -> str:
    """`S = … = 13` stated in prose answers with its right-hand side."""
    if "=" in answer and not re.search(r"\\(?:begin|le|ge|neq)|[<>]", answer):
        right = answer.rsplit("=", 1)[1].strip()
        if right:
            return right
    return answer


def _candidates(sentence: str) -> list[tuple[int, str]]:
    """(position, text) of every math span and bare number in a sentence."""
    found = [(m.start(), next(g for g in m.groups() if g is not None)) for m in _MATH_SPAN.finditer(sentence)]
    masked = _MATH_SPAN.sub(lambda m: " " * len(m.group(0)), sentence)
    found += [(m.start(), m.group(0)) for m in _NUMBER.finditer(masked)]
    return sorted(found)


def closing_answer(text: str) -> str | None:
    """The last number or math expression of the closing sentence (looking back over a few sentences)."""
    tail = text[-_MAX_TAIL:].rstrip()
    if not tail:
        return None
    bounds = [0] + [m.end() for m in _SENTENCE_END.finditer(tail)] + [len(tail)]
    sentences = [tail[a:b] for a, b in zip(bounds[:-1], bounds[1:]) if tail[a:b].strip()]
    for sentence in reversed(sentences[-_LOOKBACK_SENTENCES:]):
        found = _candidates(sentence)
        if found:
            answer = clean(_rhs(found[-1][1]))
            if answer:
                return answer
    return None


def extract_answer(response: str, strict: bool = False) -> Extracted:
    """Find the final answer with the chain in this module's docstring; `strict` keeps only steps 1–3."""
    text, truncated = final_part(response)
    if text is None:
        return Extracted(None, truncated, "truncated")
    tagged = answer_tag(text)
    if tagged is not None:
        boxed, found = last_boxed(tagged)
        if boxed is not None:
            return Extracted(clean(boxed), False, "answer_tag_boxed")
        if not found and tagged:
            inner = stated_answer(tagged)
            if inner is None and _looks_like_prose(tagged):
                inner = closing_answer(tagged)
            return Extracted(inner or clean(tagged), False, "answer_tag")
    boxed, found = last_boxed(text)
    if boxed is not None:
        return Extracted(clean(boxed_answers_of_last_line(text) or boxed), False, "boxed")
    if found:
        return Extracted(None, False, "unbalanced_boxed")
    if strict:
        return Extracted(None, False, "none")
    stated = stated_answer(text)
    if stated:
        return Extracted(stated, False, "stated")
    closing = closing_answer(text)
    if closing:
        return Extracted(closing, False, "last_sentence")
    return Extracted(None, False, "none")


_PROSE = re.compile(r"[A-Za-z]{2,}[,.:;]?\s+[A-Za-z]{2,}\s+[A-Za-z]{2,}")
_LATEX_CMD = re.compile(r"\\[A-Za-z]+(?:\{[^{}]*\})?")


def _looks_like_prose(text: str) -> bool:
    """Three words in a row outside LaTeX commands: a sentence, not an answer ("5 cm" and "\\text{Evelyn}" are not)."""
    return bool(_PROSE.search(_LATEX_CMD.sub(" ", text)))
