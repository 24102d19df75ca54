"""Exact, digit-stripped and word n-gram coverage matches against benchmark problems.

A training problem copies a test problem when their normalised forms are equal, when they are equal with every
number blanked (a copy with its numbers changed; only for texts of `digit_min_words` words or more, so "Compute
$\\dbinom{#}{#}$." does not match every binomial exercise), or when it contains at least `min_coverage` of the
test problem's word 13-grams. A single shared 13-gram is not enough: AIME/MATH boilerplate ("m/n where m and n
are relatively prime positive integers. Find m+n") is 13 words long and would flag hundreds of unrelated
problems (58 of s1K's 1,000 with the single-13-gram rule, most of them false).

Speed: the benchmark n-grams are built once as a set of word tuples (tuple hashing runs in C); a training row
costs two regex passes, one `zip` over its words and one set intersection, and rows without any shared n-gram
(nearly all of them) stop there.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence

from data_prep.textnorm import _DIGITS, _WORD, normalize, strip_digits


class LexicalIndex:
    """Lookup tables over benchmark texts; `match(text)` -> (item index, method, score) or None."""

    def __init__(self, texts: Sequence[str], n: int = 13, min_coverage: float = 0.5, digit_min_words: int = 10,
                 full_texts: Sequence[str] | None = None):
        self.n, self.min_coverage, self.digit_min_words = n, min_coverage, digit_min_words
        self.exact: dict[str, int] = {}
        self.stripped: dict[str, int] = {}
        # Word-only forms: a dict probe on them rules out an exact / digit-stripped match without building the
        # full normalised text (punctuation included) for every training row.
        self.exact_words: set[str] = set()
        self.stripped_words: set[str] = set()
        self.grams: dict[tuple[str, ...], list[int]] = {}
        self.sizes: list[int] = []
        for k, text in enumerate(texts):
            full = (full_texts[k] if full_texts else "") or text  # n-grams over the whole item (see benchmarks.py)
            norm = normalize(text)
            self.exact.setdefault(norm, k)
            self.exact.setdefault(normalize(full), k)
            self.exact_words.update((" ".join(self._words(text)), " ".join(self._words(full))))
            if len(self._words(text)) >= digit_min_words:
                self.stripped.setdefault(strip_digits(norm), k)
                self.stripped_words.add(_DIGITS.sub("#", " ".join(self._words(text))))
            grams = self._grams(self._words(full))
            self.sizes.append(len(grams))
            for g in grams:
                self.grams.setdefault(g, []).append(k)
        self.gram_keys = self.grams.keys()

    @staticmethod
    def _words(text: str) -> list[str]:
        # Same words as textnorm.words(normalize(text)), without building the normalised string.
        return _WORD.findall(unicodedata.normalize("NFKC", text).lower())

    def _grams(self, w: list[str]) -> set[tuple[str, ...]]:
        return set(zip(*[w[i:] for i in range(self.n)], strict=False)) if len(w) >= self.n else set()

    def match(self, text: str) -> tuple[int, str, float] | None:
        """The benchmark item `text` copies, the method (exact, digits, ngram) and its score."""
        w = self._words(text)
        joined = " ".join(w)
        if joined in self.exact_words:
            k = self.exact.get(normalize(text))
            if k is not None:
                return k, "exact", 1.0
        if len(w) >= self.digit_min_words and _DIGITS.sub("#", joined) in self.stripped_words:
            k = self.stripped.get(strip_digits(normalize(text)))
            if k is not None:
                return k, "digits", 1.0
        shared = self._grams(w) & self.gram_keys
        if not shared:
            return None
        counts = Counter(k for g in shared for k in self.grams[g])
        best = max(((c / self.sizes[k], k) for k, c in counts.items()), default=(0.0, -1))
        if best[0] >= self.min_coverage:
            return best[1], "ngram", round(best[0], 4)
        return None
