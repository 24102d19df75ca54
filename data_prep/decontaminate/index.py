"""`Decontaminator`: drop training rows that copy a benchmark problem, recording benchmark, item, method, score."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from data_prep.decontaminate.benchmarks import BenchItem, load_items
from data_prep.decontaminate.config import DecontaminateConfig
from data_prep.decontaminate.lexical import LexicalIndex
from data_prep.dedup.rows import Reject, make_reject

_HOW = {"exact": "exact match", "digits": "same text with numbers blanked", "ngram": "n-gram coverage",
        "embedding": "embedding + numbers + rare words", "judge": "LLM judge: rephrased"}


@dataclass
class Match:
    benchmark: str
    problem_id: str
    method: str  # exact | digits | ngram | embedding | judge
    score: float
    signals: dict[str, Any] | None = None

    @property
    def item_id(self) -> str:
        return self.problem_id

    @property
    def how(self) -> str:
        if self.method == "exact":
            return "exact match"
        if self.method == "ngram":
            return f"contains {100 * self.score:.0f}% of its 13-grams"
        return f"{_HOW[self.method]} (score {self.score})"

    def record(self) -> dict[str, Any]:
        return {"benchmark": self.benchmark, "item_id": self.problem_id, "method": self.method, "score": self.score}


class Decontaminator:
    """An index over benchmark problems; `filter(rows)` splits a batch into clean rows and contamination rejects."""

    def __init__(self, benchmarks: dict[str, Iterable[tuple[str, str]]] | Sequence[BenchItem],
                 n: int = 13, min_coverage: float = 0.5, cfg: DecontaminateConfig | None = None,
                 embedder: Any = None):
        self.cfg = cfg or DecontaminateConfig(ngram=n, min_coverage=min_coverage)
        if isinstance(benchmarks, dict):
            benchmarks = [BenchItem(name, str(pid), text) for name, pairs in benchmarks.items() for pid, text in pairs]
        self.items = list(benchmarks)
        texts = [i.text for i in self.items]
        self.lexical = LexicalIndex(texts, self.cfg.ngram, self.cfg.min_coverage, self.cfg.digit_min_words,
                                    full_texts=[i.full for i in self.items])
        self._embedder = embedder
        self._emb_index = None
        self._signals = None
        self._judge = None
        self.judge_calls = 0

    @classmethod
    def from_config(cls, cfg: DecontaminateConfig, embedder: Any = None) -> Decontaminator:
        """Load the configured benchmarks and build the index."""
        return cls(load_items(cfg.names(), cfg.benchmark_dir), cfg=cfg, embedder=embedder)

    def _semantic(self):
        if self._emb_index is None:
            from data_prep.decontaminate.semantic import CopySignals, EmbeddingIndex

            if self._embedder is None:
                from data_prep.embeddings import Embedder

                self._embedder = Embedder(self.cfg.model)
            self._emb_index = EmbeddingIndex(self._embedder.encode([i.text for i in self.items]))
            self._signals = CopySignals([i.text for i in self.items], self.cfg.w_numbers, self.cfg.w_words,
                                        self.cfg.veto_cosine)
        return self._emb_index, self._signals

    def matches(self, texts: Sequence[str]) -> list[Match | None]:
        """The benchmark item each text copies (or None), by the configured methods in order of cost."""
        cfg = self.cfg
        out: list[Match | None] = []
        for t in texts:
            hit = self.lexical.match(t) if "lexical" in cfg.methods or not cfg.methods else None
            out.append(None if hit is None else Match(self.items[hit[0]].benchmark, self.items[hit[0]].item_id,
                                                      hit[1], hit[2]))
        todo = [i for i, m in enumerate(out) if m is None]
        if todo and ("embedding" in cfg.methods or "judge" in cfg.methods) and self.items:
            index, signals = self._semantic()
            vecs = self._embedder.encode([texts[i] for i in todo])
            cos, nbr = index.neighbours(vecs, cfg.neighbours)
            for row, i in enumerate(todo):
                best = None
                for c, k in zip(cos[row], nbr[row], strict=True):
                    if k < 0:
                        continue
                    s = signals.signals(texts[i], int(k), float(c))
                    if not s.vetoed and (best is None or s.score > best[1].score):
                        best = (int(k), s)
                if best is None:
                    continue
                k, s = best
                sig = {"cosine": s.cosine, "numbers": s.numbers, "words": s.words}
                item = self.items[k]
                if "embedding" in cfg.methods and s.score >= cfg.threshold:
                    out[i] = Match(item.benchmark, item.item_id, "embedding", s.score, sig)
                elif "judge" in cfg.methods and cfg.judge and cfg.judge.low <= s.score < cfg.threshold:
                    if self.judge.same(item.text, texts[i]):
                        out[i] = Match(item.benchmark, item.item_id, "judge", s.score, sig)
        return out

    @property
    def judge(self):
        if self._judge is None:
            from data_prep.decontaminate.judge import Judge

            self._judge = Judge(self.cfg.judge)
        return self._judge

    def match(self, text: str) -> Match | None:
        """The benchmark item one training problem copies, or None."""
        return self.matches([text])[0]

    def filter(self, rows: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Reject]]:
        """Clean rows, and a reject per contaminated row whose `detail.contamination` names what it copies."""
        field = self.cfg.field
        found = self.matches([str(r.get(field) or "") for r in rows])
        kept, rejects = [], []
        for r, m in zip(rows, found, strict=True):
            if m is None:
                kept.append(r)
                continue
            detail = {"contamination": {**m.record(), **({"signals": m.signals} if m.signals else {})}}
            rejects.append(make_reject("decontaminate", f"{m.benchmark} {m.problem_id}: {m.how}", r, field,
                                       self.cfg.id_field, detail))
        return kept, rejects
