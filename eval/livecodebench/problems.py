"""LiveCodeBench problems in the official `code_generation_lite` schema, from a local path or the hub.

Schema per row: question_title, question_content, platform, question_id, contest_id, contest_date (ISO),
starter_code, difficulty, public_test_cases (JSON string), private_test_cases (JSON string, or
base64 → zlib → pickle → JSON string), metadata (JSON string; `func_name` marks call-based problems).
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from eval.jsonl import BadLine, iter_jsonl

HUB_REPO = "livecodebench/code_generation_lite"
_FILES = ["test.jsonl", "test2.jsonl", "test3.jsonl", "test4.jsonl", "test5.jsonl", "test6.jsonl"]
# Release tags as the official dataset script defines them: release_vN is cumulative, vN is one file,
# vA_vB a range of files.
RELEASES: dict[str, list[str]] = {f"release_v{i}": _FILES[:i] for i in range(1, len(_FILES) + 1)}
RELEASES["release_latest"] = list(_FILES)
RELEASES.update({f"v{i}": [_FILES[i - 1]] for i in range(1, len(_FILES) + 1)})
RELEASES.update({f"v{a}_v{b}": _FILES[a - 1: b] for a in range(1, 7) for b in range(a + 1, 7)})


class ProblemError(ValueError):
    """A benchmark row that does not fit the schema; the message names file, line and field."""


@dataclass
class TestCase:
    """One test: stdin text and expected stdout, or (functional) JSON lines of arguments and a JSON result."""

    input: str
    output: str
    testtype: str = "stdin"


@dataclass
class Problem:
    question_id: str
    question_title: str
    question_content: str
    platform: str
    contest_id: str
    contest_date: datetime
    starter_code: str
    difficulty: str
    public_tests: list[TestCase]
    private_tests: list[TestCase]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def func_name(self) -> str | None:
        """Set for call-based (LeetCode-style) problems: the Solution method the tests call."""
        return self.metadata.get("func_name") or None

    @property
    def tests(self) -> list[TestCase]:
        """All tests in the official order: public first, then private."""
        return self.public_tests + self.private_tests


class _StrOnlyUnpickler(pickle.Unpickler):
    # The private tests are a pickled *string*; a pickle that asks for any class or function is not a test file
    # and could run code, so refuse it instead of trusting the download.
    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}: only a plain string is expected")


def decode_private_tests(raw: str) -> list[dict[str, Any]]:
    """Private tests: plain JSON, or base64 → zlib → pickle(str) → JSON as in code_generation_lite."""
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, TypeError):
        pass
    text = _StrOnlyUnpickler(io.BytesIO(zlib.decompress(base64.b64decode(raw.encode("utf-8"))))).load()
    if not isinstance(text, str):
        raise ValueError(f"private_test_cases unpickled to {type(text).__name__}, expected str")
    return json.loads(text)


def encode_private_tests(tests: list[dict[str, Any]]) -> str:
    """The official compressed encoding (used to build fixtures and local copies)."""
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode("utf-8")


def _tests(raw: Any, where: str, key: str, private: bool) -> list[TestCase]:
    try:
        items = decode_private_tests(raw) if private else json.loads(raw) if isinstance(raw, str) else raw
    except Exception as exc:  # noqa: BLE001 - any decoding failure is a schema error for this field
        raise ProblemError(f"{where}: field '{key}' could not be decoded: {exc}") from exc
    if not isinstance(items, list):
        raise ProblemError(f"{where}: field '{key}' must decode to a list of tests, got {type(items).__name__}")
    out = []
    for i, t in enumerate(items):
        if not isinstance(t, dict) or not isinstance(t.get("input"), str) or not isinstance(t.get("output"), str):
            raise ProblemError(f"{where}: field '{key}'[{i}] must have string 'input' and 'output'")
        out.append(TestCase(t["input"], t["output"], t.get("testtype", "stdin")))
    return out


def problem_from_row(row: dict[str, Any], where: str = "<row>") -> Problem:
    """Parse one official-schema row; `where` (file:line) is used in error messages."""
    for key in ("question_id", "question_content", "contest_date", "public_test_cases", "private_test_cases"):
        if key not in row:
            raise ProblemError(f"{where}: missing field '{key}'")
    meta = row.get("metadata") or "{}"
    try:
        metadata = json.loads(meta) if isinstance(meta, str) else dict(meta)
    except (json.JSONDecodeError, TypeError, ValueError) as exc:
        raise ProblemError(f"{where}: field 'metadata' is not a JSON object: {exc}") from exc
    try:
        contest_date = datetime.fromisoformat(str(row["contest_date"]))
    except ValueError as exc:
        raise ProblemError(f"{where}: field 'contest_date' is not an ISO date: {row['contest_date']!r}") from exc
    return Problem(
        question_id=str(row["question_id"]),
        question_title=row.get("question_title", ""),
        question_content=row["question_content"],
        platform=row.get("platform", ""),
        contest_id=str(row.get("contest_id", "")),
        contest_date=contest_date,
        starter_code=row.get("starter_code") or "",
        difficulty=row.get("difficulty", ""),
        public_tests=_tests(row["public_test_cases"], where, "public_test_cases", private=False),
        private_tests=_tests(row["private_test_cases"], where, "private_test_cases", private=True),
        metadata=metadata,
    )


def _local_files(path: Path, release: str) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such benchmark file or directory")
    single = path / "livecodebench.jsonl"
    if single.exists():
        return [single]
    wanted = RELEASES.get(release)
    if wanted is None:
        raise ValueError(f"unknown LiveCodeBench release {release!r} (known: {', '.join(sorted(RELEASES))})")
    files = [path / name for name in wanted if (path / name).exists()]
    if not files:
        raise FileNotFoundError(f"{path}: has neither livecodebench.jsonl nor any of {', '.join(wanted)}")
    return files


def _hub_files(release: str) -> list[Path]:
    if release not in RELEASES:
        raise ValueError(f"unknown LiveCodeBench release {release!r} (known: {', '.join(sorted(RELEASES))})")
    from huggingface_hub import hf_hub_download

    try:
        return [Path(hf_hub_download(HUB_REPO, name, repo_type="dataset")) for name in RELEASES[release]]
    except Exception as exc:  # noqa: BLE001 - offline, auth, network: all mean "use a local copy"
        raise RuntimeError(
            f"could not download {HUB_REPO} ({release}) from the hub: {exc}. "
            "Pass a local copy (--benchmark-dir DIR with livecodebench.jsonl or the official test*.jsonl files)."
        ) from exc


def _as_date(value: str | date | None, name: str) -> date | None:
    if value is None or isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise ValueError(f"{name} must be YYYY-MM-DD, got {value!r}") from exc


def load_problems(
    path: str | Path | None = None,
    release: str = "release_v5",
    start_date: str | date | None = None,
    end_date: str | date | None = None,
) -> list[Problem]:
    """Problems from `path` (a file, or a dir with livecodebench.jsonl or test*.jsonl) or the hub when None.

    The contest-date window is inclusive on both ends, like the official runner's --start_date/--end_date.
    Duplicate question_ids are an error (they would make scoring ambiguous).
    """
    files = _local_files(Path(path), release) if path is not None else _hub_files(release)
    start, end = _as_date(start_date, "start_date"), _as_date(end_date, "end_date")
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for file in files:
        for line, row in iter_jsonl(file):
            if isinstance(row, BadLine):
                raise ProblemError(str(row))
            where = f"{file}:{line}"
            problem = problem_from_row(row, where)
            if problem.question_id in seen:
                raise ProblemError(f"{where}: duplicate question_id {problem.question_id!r} (first at {seen[problem.question_id]})")
            seen[problem.question_id] = where
            day = problem.contest_date.date()
            if (start is None or day >= start) and (end is None or day <= end):
                problems.append(problem)
    return problems
