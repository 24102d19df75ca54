"""Benchmark decontamination: lexical (exact, digit-stripped, 13-gram coverage), embedding neighbours checked by
what a copy keeps (numbers, rare words), and an optional LLM judge for the pairs in between.

    dc = Decontaminator.from_config(DecontaminateConfig(benchmarks=["math500", "aime24"], methods=["lexical"]))
    kept, rejects = dc.filter(batch)   # each reject's detail["contamination"] = {benchmark, item_id, method, score}
    write_contamination_report(out_dir, [r.detail["contamination"] | {"id": r.id} for r in all_rejects])
"""

from __future__ import annotations

from data_prep.decontaminate.benchmarks import DEFAULT_BENCHMARKS, BenchItem, BenchmarkLoadError, load_items
from data_prep.decontaminate.config import METHODS, DecontaminateConfig
from data_prep.decontaminate.index import Decontaminator, Match
from data_prep.decontaminate.judge import JudgeConfig, JudgeError
from data_prep.decontaminate.report import write_contamination_report

__all__ = ["DEFAULT_BENCHMARKS", "METHODS", "BenchItem", "BenchmarkLoadError", "DecontaminateConfig",
           "Decontaminator", "JudgeConfig", "JudgeError", "Match", "load_items", "write_contamination_report"]
