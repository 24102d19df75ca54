"""Embedding neighbours of a training problem among the benchmark problems, checked by what a copy keeps.

Cosine alone cannot tell a reworded copy from a different problem on the same topic (all-MiniLM-L6-v2: copies
have median cosine ~0.8, unrelated problems reach 0.8 too). A reworded copy keeps two things a rewrite cannot
easily change: its numbers and its rare words (names, objects, notation). So each of the top-k neighbours gets

    score = cosine + w_numbers * number_overlap + w_words * rare_word_overlap

where number_overlap is the multiset overlap of numeric literals (both ways: shared / the larger count) and
rare_word_overlap is the IDF-weighted overlap of word sets (IDF over the benchmark problems, both ways: the
geometric mean of the two directions, so a long training text that happens to contain a short problem's words
does not count). Number veto: when both texts have numbers and fewer than half of the benchmark's numbers are
kept, the pair is no copy unless its cosine alone reaches `veto_cosine`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from data_prep.textnorm import normalize, numbers, words

# Very common words carry no evidence of copying even when rare among benchmark problems.
_STOP = frozenset("""a an the of to in on at for by with and or is are be was were it its this that these those as
from if then than what which who whom how find let such there their each all any some one two three four five six
seven eight nine ten""".split())


@dataclass
class Signals:
    cosine: float
    numbers: float | None  # None when neither text has numbers
    words: float
    score: float
    vetoed: bool


def _word_set(text: str) -> set[str]:
    return {w for w in words(normalize(text)) if w not in _STOP and not w.isdigit()}


class CopySignals:
    """IDF table and number multisets of the benchmark problems; `signals(train_text, k, cosine)` per pair."""

    def __init__(self, texts: Sequence[str], w_numbers: float = 0.25, w_words: float = 0.5,
                 veto_cosine: float = 0.93):
        self.w_numbers, self.w_words, self.veto_cosine = w_numbers, w_words, veto_cosine
        self.word_sets = [_word_set(t) for t in texts]
        self.number_bags = [Counter(numbers(t)) for t in texts]
        df = Counter(w for s in self.word_sets for w in s)
        n = len(texts)
        self.idf = {w: math.log((n + 1) / (c + 1)) + 1 for w, c in df.items()}
        self.unseen_idf = math.log(n + 1) + 1  # a word no benchmark problem has is as rare as it gets

    def _weight(self, ws: set[str]) -> float:
        return sum(self.idf.get(w, self.unseen_idf) for w in ws)

    def signals(self, text: str, k: int, cosine: float, word_set: set[str] | None = None,
                number_bag: Counter | None = None) -> Signals:
        ws = _word_set(text) if word_set is None else word_set
        bag = Counter(numbers(text)) if number_bag is None else number_bag
        bw, bb = self.word_sets[k], self.number_bags[k]
        shared = self._weight(ws & bw)
        fwd = shared / self._weight(bw) if bw else 0.0
        back = shared / self._weight(ws) if ws else 0.0
        word_sim = math.sqrt(fwd * back)
        num_sim, vetoed = None, False
        nb, nt = sum(bb.values()), sum(bag.values())
        if nb or nt:
            kept = sum((bb & bag).values())
            num_sim = kept / max(nb, nt)
            vetoed = nb > 0 and nt > 0 and kept / nb < 0.5 and cosine < self.veto_cosine
        score = cosine + self.w_words * word_sim + self.w_numbers * (num_sim if num_sim is not None else 0.5)
        return Signals(round(cosine, 4), None if num_sim is None else round(num_sim, 4), round(word_sim, 4),
                       round(score, 4), vetoed)


class EmbeddingIndex:
    """faiss inner-product index over the benchmark problems' unit vectors."""

    def __init__(self, vectors: np.ndarray):
        import faiss

        self.index = faiss.IndexFlatIP(vectors.shape[1])
        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def neighbours(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self.index.ntotal)
        return self.index.search(np.ascontiguousarray(vectors, dtype=np.float32), k)
