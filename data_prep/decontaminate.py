"""Benchmark decontamination: drop training problems that copy a test problem.

A match is an exact copy after normalisation, or a training problem that contains at least `min_coverage`
of a test problem's word n-grams. A single shared n-gram is not enough: AIME/MATH boilerplate ("m/n where m
and n are relatively prime positive integers. Find m+n") is 13 words long and would flag hundreds of
unrelated problems (58 of s1K's 1,000 with the single-13-gram rule, most of them false).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from data_prep.dedup import normalize
from data_prep.ingest import Reject

_WORD = re.compile(r"\w+")


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    words = _WORD.findall(normalize(text))
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


@dataclass
class Match:
    benchmark: str
    problem_id: str
    how: str


@dataclass
class DecontaminateConfig:
    benchmarks: list[str] | None = None  # names eval can load (default: math500, aime24)
    ngram: int = 13
    min_coverage: float = 0.5  # share of a test problem's n-grams that must appear in the training problem

    def names(self) -> list[str]:
        return self.benchmarks if self.benchmarks is not None else ["math500", "aime24"]


class Decontaminator:
    """An index over benchmark problems; `match(text)` names the test problem a training problem copies."""

    def __init__(self, benchmarks: dict[str, Iterable[tuple[str, str]]], n: int = 13, min_coverage: float = 0.5):
        self.n, self.min_coverage = n, min_coverage
        self.exact: dict[str, tuple[str, str]] = {}
        self.index: dict[tuple[str, ...], list[int]] = defaultdict(list)
        self.keys: list[tuple[str, str]] = []
        self.sizes: list[int] = []
        for name, problems in benchmarks.items():
            for pid, text in problems:
                self.exact.setdefault(normalize(text), (name, pid))
                grams = ngrams(text, n)
                k = len(self.keys)
                self.keys.append((name, pid))
                self.sizes.append(len(grams))
                for g in grams:
                    self.index[g].append(k)

    def match(self, text: str) -> Match | None:
        hit = self.exact.get(normalize(text))
        if hit:
            return Match(hit[0], hit[1], "exact match")
        shared = Counter(k for g in ngrams(text, self.n) for k in self.index.get(g, ()))
        best = None
        for k, count in shared.items():
            coverage = count / self.sizes[k]
            if coverage >= self.min_coverage and (best is None or coverage > best[1]):
                best = (k, coverage)
        if best is None:
            return None
        name, pid = self.keys[best[0]]
        return Match(name, pid, f"contains {100 * best[1]:.0f}% of its {self.n}-grams")

    def filter(self, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Reject]]:
        kept, rejects = [], []
        for item in items:
            m = self.match(item["problem"])
            if m is None:
                kept.append(item)
            else:
                rejects.append(Reject("decontaminate", f"{m.benchmark} {m.problem_id}: {m.how}",
                                      file=item["origin"]["file"], line=item["origin"]["line"], field="problem",
                                      record={"item_id": item["item_id"], "problem": item["problem"]}))
        return kept, rejects
