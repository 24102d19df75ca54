"""Readers that turn benchmark files (shipped, a local path, or the hub) into `Problem`s.

Every reader names the file, line and field of a bad row. GPQA-Diamond is never shipped: it comes from
`path`, the `DISTILLERY_GPQA_PATH` environment variable, or the gated hub dataset `Idavidrein/gpqa`.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.grading.choice import shuffle_options
from eval.jsonl import BadLine, iter_jsonl

DATA_DIR = Path(__file__).resolve().parent / "data"
GPQA_ENV = "DISTILLERY_GPQA_PATH"
GSM8K_ENV = "DISTILLERY_GSM8K_TEST_PATH"
LCB_ENV = "DISTILLERY_LCB_PATH"
MATH_ENV = "DISTILLERY_MATH_PATH"


class BenchmarkDataError(ValueError):
    """A benchmark file that cannot be read; the message names the file, row and field."""


@dataclass
class Problem:
    """One benchmark question: `fields` fill the prompt template, `meta` is stored with every sample."""

    problem_id: str
    gold: str
    fields: dict[str, str]
    meta: dict[str, Any] = field(default_factory=dict)
    text: str | None = None  # the bare question when `fields["question"]` carries more (LiveCodeBench)
    payload: Any = field(default=None, repr=False, compare=False)  # grader input never written out (code tests)

    @property
    def id(self) -> str:
        return self.problem_id

    @property
    def problem(self) -> str:
        """The question text alone (no answer options, no instruction)."""
        return self.text or self.fields["question"]


def _in_repo(path: Path) -> Path:
    """A relative path missing from the working directory, read from the repository instead when it is there
    (recipes name shipped files as `eval/benchmarks/data/…`, and jobs such as slurm's run from other folders)."""
    repo_copy = DATA_DIR.parents[2] / path
    return repo_copy if not path.is_absolute() and not path.exists() and repo_copy.exists() else path


def _rows(path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    if not path.exists():
        raise BenchmarkDataError(f"{path}: benchmark file not found")
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as fh:
            for i, row in enumerate(csv.DictReader(fh), start=2):  # line 1 is the header
                yield i, row
        return
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        for i, row in enumerate(pq.read_table(path).to_pylist(), start=1):
            yield i, row
        return
    for line, row in iter_jsonl(path):
        if isinstance(row, BadLine):
            raise BenchmarkDataError(str(row))
        yield line, row


def _need(path: Path, line: int, row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise BenchmarkDataError(f"{path}:{line}: missing or empty field '{key}'")
    return str(value)


def load_math500(path: str | Path | None = None) -> list[Problem]:
    """MATH-500 (shipped): id = `unique_id`, gold = `answer`."""
    path = Path(path) if path else DATA_DIR / "math500.jsonl"
    out = []
    for line, row in _rows(path):
        out.append(Problem(
            problem_id=_need(path, line, row, "unique_id"),
            gold=_need(path, line, row, "answer"),
            fields={"question": _need(path, line, row, "problem")},
            meta={"subject": row.get("subject"), "level": row.get("level")},
        ))
    return out


def _aime_id(row: dict[str, Any]) -> str:
    m = re.search(r"(\d{4})_AIME_(I+)_Problems/Problem_(\d+)", str(row.get("url", "")))
    return f"{m.group(1)}-{m.group(2)}-{m.group(3)}" if m else str(row["id"])


def load_aime24(path: str | Path | None = None) -> list[Problem]:
    """AIME 2024 I+II (shipped): id like `2024-I-1` (from `url`), gold = `answer` (an integer as text)."""
    path = Path(path) if path else DATA_DIR / "aime24.jsonl"
    out = []
    for line, row in _rows(path):
        _need(path, line, row, "id")
        out.append(Problem(
            problem_id=_aime_id(row),
            gold=_need(path, line, row, "answer"),
            fields={"question": _need(path, line, row, "problem")},
        ))
    return out


GPQA_FIELDS = ("Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3",
               "Record ID")


def _gpqa_rows(path: str | Path | None) -> tuple[str, Iterable[tuple[int, dict[str, Any]]]]:
    chosen = path or os.environ.get(GPQA_ENV)
    if chosen:
        return str(chosen), _rows(Path(chosen))
    try:
        from datasets import load_dataset

        ds = load_dataset("Idavidrein/gpqa", "gpqa_diamond", split="train")
    except Exception as exc:  # offline, gated without a token, or no access granted
        raise BenchmarkDataError(
            f"gpqa_diamond: no local file given (set the benchmark's `path` or ${GPQA_ENV}) and the gated hub "
            f"dataset Idavidrein/gpqa could not be loaded: {type(exc).__name__}: {exc}"
        ) from exc
    return "hub:Idavidrein/gpqa/gpqa_diamond", ((i, row) for i, row in enumerate(ds, start=1))


def load_gpqa_diamond(path: str | Path | None = None) -> list[Problem]:
    """GPQA-Diamond from a CSV/JSONL/Parquet file in the official schema or the hub; options shuffled per
    question from a hash of `Record ID` (the permutation is kept in `meta`)."""
    source, rows = _gpqa_rows(path)
    out = []
    for line, row in rows:
        values = {}
        for key in GPQA_FIELDS:
            value = row.get(key)
            if value is None or not str(value).strip():
                raise BenchmarkDataError(f"{source}:{line}: missing or empty field '{key}'")
            values[key] = str(value)
        options, letter, perm = shuffle_options(
            values["Record ID"], values["Correct Answer"],
            [values[f"Incorrect Answer {i}"] for i in (1, 2, 3)],
        )
        out.append(Problem(
            problem_id=values["Record ID"].strip(),
            gold=letter,
            fields={"question": values["Question"].strip(), **dict(zip("ABCD", options, strict=True))},
            meta={"permutation": perm, "domain": row.get("High-level domain")},
        ))
    return out


def load_gsm8k_test(path: str | Path | None = None) -> list[Problem]:
    """GSM8K test from a JSONL path (`question`, `answer` ending in `#### N`), $DISTILLERY_GSM8K_TEST_PATH, or
    the hub dataset `openai/gsm8k` (main, test)."""
    chosen = path or os.environ.get(GSM8K_ENV)
    if chosen:
        source, rows = str(chosen), _rows(_in_repo(Path(chosen)))
    else:
        try:
            from datasets import load_dataset

            ds = load_dataset("openai/gsm8k", "main", split="test")
        except Exception as exc:
            raise BenchmarkDataError(
                f"gsm8k: no local file given (set the benchmark's `path` or ${GSM8K_ENV}) and the hub dataset "
                f"openai/gsm8k could not be loaded: {type(exc).__name__}: {exc}"
            ) from exc
        source, rows = "hub:openai/gsm8k/main/test", enumerate(ds, start=1)
    out = []
    for line, row in rows:
        answer = row.get("answer")
        if not isinstance(answer, str) or "####" not in answer:
            raise BenchmarkDataError(f"{source}:{line}: field 'answer' must end in '#### <number>'")
        question = row.get("question")
        if not isinstance(question, str) or not question.strip():
            raise BenchmarkDataError(f"{source}:{line}: missing or empty field 'question'")
        out.append(Problem(
            problem_id=f"gsm8k-test-{line}",
            gold=answer.split("####")[-1].strip(),
            fields={"question": question.strip()},
        ))
    return out


_ID_KEYS = ("unique_id", "id", "idx", "problem_id", "ID", "question_id")
_PROBLEM_KEYS = ("problem", "question", "Question", "prompt", "input")
_GOLD_KEYS = ("answer", "final_answer", "expected_answer", "gold", "ground_truth", "target", "Answer")
_SOLUTION_KEYS = ("solution", "reference_solution", "Solution")


def _gold_of(row: dict[str, Any]) -> str | None:
    """A math reference answer from the usual fields: `answer` (GSM8K's `#### N` tail), OlympiadBench's
    `final_answer` list, or the last `\\boxed{}` of a reference solution (MATH test files)."""
    from eval.grading.extract import clean, last_boxed

    for key in _GOLD_KEYS:
        value = row.get(key)
        if isinstance(value, (list, tuple)) and value:
            value = ", ".join(clean(str(v)) for v in value)
        if value is not None and str(value).strip():
            text = str(value)
            if "####" in text:
                return text.split("####")[-1].strip()
            boxed, _ = last_boxed(text)
            return clean(boxed) if boxed else clean(text)
    for key in _SOLUTION_KEYS:
        value = row.get(key)
        if isinstance(value, str):
            boxed, _ = last_boxed(value)
            if boxed:
                return clean(boxed)
    return None


def load_math_file(path: str | Path | None = None) -> list[Problem]:
    """Any math problem file a user has (MATH test, AMC, OlympiadBench, GSM8K, …; JSONL/JSON/CSV/Parquet):
    id from `unique_id`/`id`/`idx`/`problem_id` (else the line number), text from `problem`/`question`,
    gold from `answer`/`final_answer`/`expected_answer`/… or the last `\\boxed{}` of `solution`."""
    path = path or os.environ.get(MATH_ENV)
    if not path:
        raise BenchmarkDataError(f"math: this benchmark is read from a file; set the benchmark's `path` or ${MATH_ENV} "
                                 "(eval run), or --data FILE (eval score)")
    path = Path(path)
    rows = _rows(path) if path.suffix != ".json" else _json_rows(path)
    out = []
    for line, row in rows:
        pid = next((str(row[k]) for k in _ID_KEYS if row.get(k) not in (None, "")), f"{path.stem}-{line}")
        text = next((str(row[k]) for k in _PROBLEM_KEYS if isinstance(row.get(k), str) and row[k].strip()), None)
        if text is None:
            raise BenchmarkDataError(f"{path}:{line}: no problem text (one of {', '.join(_PROBLEM_KEYS)})")
        gold = _gold_of(row)
        if gold is None:
            raise BenchmarkDataError(f"{path}:{line}: no reference answer (one of {', '.join(_GOLD_KEYS)}, or a "
                                     "\\boxed{} answer in 'solution')")
        meta = {k: row[k] for k in ("subject", "level", "type", "subfield", "difficulty") if row.get(k) is not None}
        if "type" in meta and "subject" not in meta:
            meta["subject"] = meta.pop("type")
        out.append(Problem(problem_id=pid, gold=gold, fields={"question": text.strip()}, meta=meta))
    return out


def _json_rows(path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BenchmarkDataError(f"{path}: not a readable JSON file: {exc}") from exc
    if isinstance(data, dict):
        data = next((v for v in data.values() if isinstance(v, list)), [data])
    for i, row in enumerate(data, start=1):
        if not isinstance(row, dict):
            raise BenchmarkDataError(f"{path}: item {i} is not an object")
        yield i, row


def load_livecodebench(path: str | Path | None = None, release: str = "release_v5",
                       start_date: str | None = "2024-08-01", end_date: str | None = "2025-01-31") -> list[Problem]:
    """LiveCodeBench code generation (official `code_generation_lite` schema, tests included) from `path`,
    $DISTILLERY_LCB_PATH or the hub, limited to the contest-date window (R1 / AM: 2024-08 .. 2025-01)."""
    from eval.livecodebench import build_prompt, load_problems

    chosen = path or os.environ.get(LCB_ENV)
    try:
        problems = load_problems(chosen, release=release, start_date=start_date, end_date=end_date)
    except (ValueError, OSError) as exc:  # a bad row, a wrong path
        raise BenchmarkDataError(f"livecodebench: {exc}") from exc
    except Exception as exc:  # the hub is unreachable or the dataset download failed
        if chosen:
            raise
        raise BenchmarkDataError(
            f"livecodebench: no local file given (set the benchmark's `path` or ${LCB_ENV}) and the hub dataset "
            f"livecodebench/code_generation_lite could not be loaded: {type(exc).__name__}: {exc}"
        ) from exc
    return [
        Problem(
            problem_id=p.question_id,
            gold="",
            fields={"question": build_prompt(p)},
            meta={"platform": p.platform, "difficulty": p.difficulty, "contest_date": p.contest_date.date().isoformat(),
                  "n_tests": len(p.tests)},
            text=p.question_content,
            payload=p,
        )
        for p in problems
    ]
