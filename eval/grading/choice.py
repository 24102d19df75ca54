"""Multiple-choice grading (GPQA style): a deterministic option order per question and letter extraction.

GPQA stores the correct answer first and three distractors unshuffled; every harness shuffles them itself,
and scores move by points with the order. Seeding the permutation from a hash of the question's `Record ID`
makes the order the same on every machine and run, and it is stored with the outputs.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from eval.grading.extract import answer_tag, final_part, last_boxed

LETTERS = "ABCD"
# Letters found by these rules are in the format the prompt asks for ("Answer: X", a boxed letter, <answer>).
STRICT_CHOICE_HOWS = frozenset({"answer_tag", "answer_line", "boxed"})

# Only the keyword is case-insensitive: a lowercase "a" after "answer" is an article, not option A.
_ANSWER_LINE = re.compile(r"(?i:answer)\s*(?:(?i:is)\s*)?[:：]?\s*[*$]*\s*[\(\[]?\s*([A-D])(?![\w'-])")
_BOXED_LETTER = re.compile(r"^\s*(?:\\text(?:bf)?\{)?\s*\(?\s*([A-D])\s*\)?\s*\}?\s*$")
_STANDALONE = re.compile(r"(?<![\w\\])\(?([A-D])\)?(?![\w'-])")


@dataclass
class ChoiceGrade:
    """Verdict for one multiple-choice response; `how` says which rule found the letter."""

    correct: bool
    extracted: str | None
    reason: str  # ok | wrong answer | no answer | truncated
    how: str  # answer_tag | answer_line | boxed | standalone | none | truncated

    @property
    def format_ok(self) -> bool:
        return self.how in STRICT_CHOICE_HOWS


def permutation(record_id: str, n_options: int = 4) -> list[int]:
    """Option order for a question: position i shows original option perm[i] (0 = the correct answer)."""
    seed = int.from_bytes(hashlib.sha256(record_id.encode("utf-8")).digest()[:8], "big")
    order = list(range(n_options))
    random.Random(seed).shuffle(order)
    return order


def shuffle_options(record_id: str, correct: str, incorrect: Sequence[str]) -> tuple[list[str], str, list[int]]:
    """(options in display order, letter of the correct one, permutation) for one question."""
    original = [correct.strip(), *(x.strip() for x in incorrect)]
    perm = permutation(record_id, len(original))
    options = [original[i] for i in perm]
    return options, LETTERS[perm.index(0)], perm


def _letter(text: str, strict: bool = False) -> tuple[str | None, str]:
    lines = _ANSWER_LINE.findall(text)
    if lines:
        return lines[-1], "answer_line"
    boxed, _ = last_boxed(text)
    if boxed is not None:
        m = _BOXED_LETTER.match(boxed)
        if m:
            return m.group(1), "boxed"
    if strict:
        return None, "none"
    standalone = _STANDALONE.findall(text)
    if standalone:
        return standalone[-1], "standalone"
    return None, "none"


def extract_choice(response: str, strict: bool = False) -> tuple[str | None, str, bool]:
    """(letter or None, how, truncated): cut at `</think>`, prefer `<answer>`, then "Answer: X", boxed, and
    (unless `strict`) the last standalone letter."""
    text, truncated = final_part(response)
    if text is None:
        return None, "truncated", True
    tagged = answer_tag(text)
    if tagged:
        letter, _ = _letter(tagged)
        if letter:  # inside <answer> any rule counts: the tag is the requested format
            return letter, "answer_tag", False
    letter, how = _letter(text, strict)
    return letter, how, False


def grade_choice(correct_letter: str, response: str, strict: bool = False) -> ChoiceGrade:
    """Grade one response against the letter of the correct option (after shuffling)."""
    letter, how, truncated = extract_choice(response, strict)
    if truncated:
        return ChoiceGrade(False, None, "truncated", how)
    if letter is None:
        return ChoiceGrade(False, None, "no answer", how)
    ok = letter == correct_letter.upper()
    return ChoiceGrade(ok, letter, "ok" if ok else "wrong answer", how)
