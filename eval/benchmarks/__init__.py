"""Benchmarks as data: `BENCHMARKS` (registry), `load_benchmark(name)` for callers that want the problems."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.benchmarks.loaders import BenchmarkDataError, Problem
from eval.benchmarks.registry import BENCHMARKS, Benchmark, get_benchmark

__all__ = ["BENCHMARKS", "Benchmark", "BenchmarkDataError", "LoadedBenchmark", "Problem", "get_benchmark",
           "load_benchmark"]


@dataclass
class LoadedBenchmark:
    """A registry entry together with its problems (e.g. for decontamination in data_prep)."""

    benchmark: Benchmark
    problems: list[Problem]


def load_benchmark(name: str, path: str | Path | None = None, **options: Any) -> LoadedBenchmark:
    """Load benchmark `name` from `path`, its shipped file, an environment variable, or the hub."""
    bench = get_benchmark(name)
    return LoadedBenchmark(bench, bench.loader(path, **options))
