"""Benchmark problems to decontaminate against: eval's benchmarks by name, or any file a user adds.

Names load through `eval.benchmarks` (shipped MATH-500 / AIME 2024; GPQA-Diamond and LiveCodeBench from
`--benchmark-dir`, their environment variables or the hub), with the file names `eval score --benchmark-dir`
looks for. A path instead of a name is read as a problem file (JSONL / JSON / CSV / Parquet; id from
`unique_id`/`id`/..., text from `problem`/`question`/...). Only ids and texts are kept.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_BENCHMARKS = ("aime24", "math500", "gpqa_diamond", "livecodebench")
_LCB_TEXT = ("question_content", "prompt", "question")


@dataclass(frozen=True)
class BenchItem:
    benchmark: str
    item_id: str
    text: str  # the question alone
    full: str = ""  # what a model is scored on when more than the question (multiple-choice options); n-grams use it


class BenchmarkLoadError(ValueError):
    """A benchmark that cannot be loaded; the message names it and what was tried."""


def _user_file(path: Path) -> list[BenchItem]:
    from eval.benchmarks.loaders import _ID_KEYS, _PROBLEM_KEYS, _json_rows, _rows

    rows = _json_rows(path) if path.suffix == ".json" else _rows(path)
    out = []
    for line, row in rows:
        text = next((str(row[k]) for k in _PROBLEM_KEYS if isinstance(row.get(k), str) and row[k].strip()), None)
        if text is None:
            raise BenchmarkLoadError(f"{path}:{line}: no problem text (one of {', '.join(_PROBLEM_KEYS)})")
        pid = next((str(row[k]) for k in _ID_KEYS if row.get(k) not in (None, "")), f"{path.stem}-{line}")
        out.append(BenchItem(path.stem, pid, text))
    return out


def _livecodebench(directory: Path | None) -> list[BenchItem]:
    """LiveCodeBench problem statements; local files need no test cases (only the statement is compared)."""
    from eval.jsonl import BadLine, iter_jsonl

    chosen = directory or (Path(os.environ["DISTILLERY_LCB_PATH"]) if os.environ.get("DISTILLERY_LCB_PATH") else None)
    if chosen is None:
        from eval.benchmarks import load_benchmark

        return [BenchItem("livecodebench", p.id, p.problem) for p in load_benchmark("livecodebench").problems]
    files = sorted(chosen.glob("livecodebench*.jsonl")) + sorted(chosen.glob("test*.jsonl")) if chosen.is_dir() \
        else [chosen]
    if not files:
        raise BenchmarkLoadError(f"livecodebench: no livecodebench*.jsonl or test*.jsonl in {chosen}")
    best: dict[str, tuple[int, str]] = {}  # question_id -> (rank of the text field, text); the bare statement wins
    for file in files:
        for line, row in iter_jsonl(file):
            if isinstance(row, BadLine):
                raise BenchmarkLoadError(str(row))
            rank, text = next(((i, row[k]) for i, k in enumerate(_LCB_TEXT)
                               if isinstance(row.get(k), str) and row[k].strip()), (None, None))
            qid = row.get("question_id")
            if text is None or qid in (None, ""):
                raise BenchmarkLoadError(f"{file}:{line}: livecodebench row needs 'question_id' and one of "
                                         f"{', '.join(_LCB_TEXT)}")
            if str(qid) not in best or rank < best[str(qid)][0]:
                best[str(qid)] = (rank, text)
    out = [BenchItem("livecodebench", qid, text) for qid, (_, text) in best.items()]
    return out


def load_items(names: list[str], benchmark_dir: str | Path | None = None) -> list[BenchItem]:
    """Every problem of the named benchmarks (or benchmark files), in order."""
    from eval.benchmarks import BenchmarkDataError, load_benchmark
    from eval.score import _data_path

    directory = Path(benchmark_dir) if benchmark_dir else None
    if directory is not None and not directory.is_dir():
        raise BenchmarkLoadError(f"--benchmark-dir {directory}: not a directory")
    items: list[BenchItem] = []
    for name in names:
        try:
            if Path(name).suffix in (".jsonl", ".json", ".csv", ".parquet"):
                if not Path(name).is_file():
                    raise BenchmarkLoadError(f"benchmark file {name}: not found")
                items += _user_file(Path(name))
            elif name == "livecodebench":
                items += _livecodebench(directory)
            else:
                path = _data_path(name, None, directory) if directory is not None else None
                for p in load_benchmark(name, path).problems:
                    # A multiple-choice item is its question with its options: a training problem that shares a
                    # long stem but asks something else (s1K row 470 and GPQA-Diamond rec0wZvZgiz320KRs share 27
                    # of the question's 52 13-grams) is a different item.
                    options = [p.fields[k] for k in "ABCD" if k in p.fields]
                    items.append(BenchItem(name, str(p.id), p.problem, "\n".join([p.problem, *options])))
        except KeyError as exc:
            raise BenchmarkLoadError(f"benchmark {name}: {exc.args[0]}") from exc
        except BenchmarkDataError as exc:
            raise BenchmarkLoadError(str(exc)) from exc
    return items
