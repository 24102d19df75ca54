"""Normalised text forms that dedup and decontamination compare.

`normalize` makes spacing, case, Unicode compatibility forms and repeated punctuation irrelevant while keeping
every operator ("2+2" and "2-2" stay different). `strip_digits` also drops the numbers, so a problem whose numbers
were changed still matches its template. `words` and `word_shingles` are the tokens MinHash and n-gram coverage
work on.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_TOKEN = re.compile(r"\w+|[^\w\s]")
_WORD = re.compile(r"\w+")
_REPEAT = re.compile(r"([^\w\s])(?: ?\1)+")  # "!!!" or ". . ." -> one mark
_DIGITS = re.compile(r"\d+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_SMALL = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
          "seventeen eighteen nineteen twenty").split()
_ORDINAL = ("zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
            "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth").split()
_NUMBER_WORD = {w: str(i) for i, w in enumerate(_SMALL)} | {w: str(i) for i, w in enumerate(_ORDINAL) if i > 2}
_NUMBER_OR_WORD = re.compile(r"\d+(?:\.\d+)?|\b(?:" + "|".join(_NUMBER_WORD) + r")\b", re.IGNORECASE)


def normalize(text: str) -> str:
    """NFKC, lower case, one space between tokens (words and single punctuation marks), repeats collapsed."""
    tokens = " ".join(_TOKEN.findall(unicodedata.normalize("NFKC", text).lower()))
    return _REPEAT.sub(r"\1", tokens)


def strip_digits(normalized: str) -> str:
    """The normalised form with every run of digits replaced by `#` (numbers changed, wording kept)."""
    return _DIGITS.sub("#", normalized)


def words(normalized: str) -> list[str]:
    """The word tokens (letters, digits, underscore) of a normalised text."""
    return _WORD.findall(normalized)


def numbers(text: str) -> list[str]:
    """Numeric literals in order (`3`, `2.5`; number words up to twenty and ordinals from "third" as digits, since
    a rewording swaps "7 people" for "seven people"). `1,000` counts as `1` and `000` on purpose: the multiset is
    compared between two texts, so a consistent split is all that matters."""
    return [_NUMBER_WORD.get(m.lower(), m) for m in _NUMBER_OR_WORD.findall(text)]


def word_shingles(normalized: str, n: int = 3) -> list[str]:
    """Word n-grams joined by spaces; a text shorter than n words is one shingle (so it still has a signature)."""
    w = _WORD.findall(normalized)
    if len(w) <= n:
        return [" ".join(w)] if w else [normalized]
    return [" ".join(w[i:i + n]) for i in range(len(w) - n + 1)]


def text_hash(text: str, size: int = 16) -> bytes:
    """A stable digest of a text (blake2b; Python's `hash` changes per process)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=size).digest()
