"""Finding and reading eval runs for the report: summary.json, one streaming pass over each samples file, the
graders' disagreement files, the model folder (checkpoint of which training run) and its corpus lineage.

A run whose summary.json is missing (interrupted) is scored from the samples on disk and marked partial; a folder
that holds no run, or a file that cannot be read, becomes a note in the report instead of an error.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.jsonl import BadLine, iter_jsonl
from eval.metrics import summarize
from eval.report.lineage import Lineage, find_lineage

WRONG_EXAMPLES = 5
TRUNCATED_EXAMPLES = 2
DISAGREEMENT_EXAMPLES = 8
TAIL_CHARS = 600
CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
# Fields a partial run needs for eval.metrics.summarize (prompt and response text are dropped: rows stay small).
SLIM_FIELDS = ("problem_id", "sample", "correct", "extracted", "format_ok", "truncated", "second_correct", "n_tokens",
               "reason", "how", "meta")


def load_json(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(object, None), or (None, one-line reason) when the file is missing or not a JSON object."""
    if not path.is_file():
        return None, f"`{path}` is missing"
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f" at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else ""
        return None, f"`{path}` is not valid JSON ({getattr(exc, 'msg', exc)}{where})"
    except OSError as exc:
        return None, f"`{path}` cannot be read ({exc.strerror})"
    if not isinstance(data, dict):
        return None, f"`{path}` holds a JSON {type(data).__name__}, not an object"
    return data, None


class Reservoir:
    """A fixed-size uniform sample of a stream (Algorithm R), seeded so a report is the same on every run."""

    def __init__(self, size: int, seed: str):
        self.size, self.seen, self.items = size, 0, []
        self.rng = random.Random(seed)

    def offer(self, make: Any) -> None:
        """`make()` builds the item only when it is kept."""
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(make())
        else:
            j = self.rng.randrange(self.seen)
            if j < self.size:
                self.items[j] = make()


def _tail(text: Any) -> str:
    text = str(text or "")
    return text if len(text) <= TAIL_CHARS else "…" + text[-TAIL_CHARS:]


@dataclass
class BenchScan:
    """What one pass over `<benchmark>.samples.jsonl` keeps: per-problem tallies, lengths, a few examples."""

    key: str
    path: Path
    rows: int = 0
    bad_lines: int = 0
    per_problem: dict[str, list[int]] = field(default_factory=dict)  # problem id -> [correct, samples]
    tokens: dict[bool, list[int]] = field(default_factory=lambda: {True: [], False: []})  # by correctness
    chars: dict[bool, list[int]] = field(default_factory=lambda: {True: [], False: []})
    truncated: int = 0
    no_answer: int = 0
    wrong: Reservoir | None = None
    truncated_examples: Reservoir | None = None
    slim: list[dict[str, Any]] | None = None  # partial runs only: rows for eval.metrics.summarize

    @property
    def length_unit(self) -> str:
        with_tokens = len(self.tokens[True]) + len(self.tokens[False])
        return "tokens" if self.rows and with_tokens == self.rows else "characters"

    def lengths(self, correct: bool) -> list[int]:
        return (self.tokens if self.length_unit == "tokens" else self.chars)[correct]


def scan_samples(key: str, path: Path, keep_rows: bool = False) -> BenchScan:
    """Read a samples file once, keeping only tallies and a bounded number of examples."""
    scan = BenchScan(key, path, wrong=Reservoir(WRONG_EXAMPLES, f"wrong/{key}"),
                     truncated_examples=Reservoir(TRUNCATED_EXAMPLES, f"truncated/{key}"),
                     slim=[] if keep_rows else None)
    for _, row in iter_jsonl(path):
        if isinstance(row, BadLine) or not isinstance(row, dict) or "problem_id" not in row:
            scan.bad_lines += 1
            continue
        scan.rows += 1
        ok = bool(row.get("correct"))
        tally = scan.per_problem.setdefault(str(row["problem_id"]), [0, 0])
        tally[0] += ok
        tally[1] += 1
        if isinstance(row.get("n_tokens"), int):
            scan.tokens[ok].append(row["n_tokens"])
        scan.chars[ok].append(len(str(row.get("response") or "")))
        if row.get("extracted") is None:
            scan.no_answer += 1
        if row.get("truncated"):
            scan.truncated += 1
            scan.truncated_examples.offer(lambda r=row: {
                "problem_id": r["problem_id"], "sample": r.get("sample"), "n_tokens": r.get("n_tokens"),
                "finish_reason": r.get("finish_reason"), "tail": _tail(r.get("response"))})
        if not ok:
            scan.wrong.offer(lambda r=row: {
                "problem_id": r["problem_id"], "sample": r.get("sample"), "gold": r.get("gold"),
                "extracted": r.get("extracted"), "reason": r.get("reason"), "how": r.get("how"),
                "tail": _tail(r.get("response"))})
        if scan.slim is not None:
            scan.slim.append({k: row[k] for k in SLIM_FIELDS if k in row})
    return scan


@dataclass
class Disagreements:
    path: Path
    count: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None


def read_disagreements(path: Path) -> Disagreements:
    out = Disagreements(path)
    if not path.is_file():
        out.note = f"`{path.name}` is missing"
        return out
    for line, row in iter_jsonl(path):
        if isinstance(row, BadLine) or not isinstance(row, dict):
            out.note = f"`{path.name}` line {line} is not valid JSON; skipped"
            continue
        out.count += 1
        if len(out.examples) < DISAGREEMENT_EXAMPLES:
            out.examples.append(row)
    return out


@dataclass
class Run:
    """One eval output folder as the report sees it."""

    label: str
    folder: Path
    summary: dict[str, Any] | None = None
    partial: bool = False
    notes: list[str] = field(default_factory=list)
    scans: dict[str, BenchScan] = field(default_factory=dict)
    disagreements: dict[str, Disagreements] = field(default_factory=dict)
    model_folder: Path | None = None
    series: Path | None = None  # the training output_dir when the model is one of its checkpoints
    step: int | None = None
    lineage: Lineage | None = None

    @property
    def benchmarks(self) -> dict[str, dict[str, Any]]:
        return (self.summary or {}).get("benchmarks") or {}

    @property
    def model(self) -> str:
        return str((self.summary or {}).get("model") or "?")


def _samples_files(folder: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(folder.glob("*.samples.jsonl")):
        yield path.name[: -len(".samples.jsonl")], path


def _partial_summary(run: Run) -> dict[str, Any] | None:
    """Settings from run.json and scores recomputed from the samples on disk (the run did not finish)."""
    settings, _ = load_json(run.folder / "run.json")
    files = dict(_samples_files(run.folder))
    if settings is None and not files:
        return None
    settings = settings or {}
    summary: dict[str, Any] = {k: settings.get(k) for k in ("model", "backend", "recipe", "recipe_path", "sampling",
                                                            "prompt")}
    summary["benchmarks"] = {}
    for key in list((settings.get("benchmarks") or {}).keys()) + [k for k in files if k not in
                                                                  (settings.get("benchmarks") or {})]:
        path = files.get(key)
        spec = (settings.get("benchmarks") or {}).get(key) or {}
        if path is None:
            run.notes.append(f"benchmark `{key}`: no samples on disk yet")
            continue
        scan = scan_samples(key, path, keep_rows=True)
        run.scans[key] = scan
        if not scan.slim:
            run.notes.append(f"benchmark `{key}`: `{path.name}` holds no readable sample")
            continue
        summary["benchmarks"][key] = {**summarize(scan.slim), "benchmark": spec.get("benchmark", key),
                                      "samples_file": path.name}
        scan.slim = None
    return summary


def _resolve_model(model: str | None, folder: Path) -> Path | None:
    """The local model folder an eval run scored, if it is reachable from here."""
    if not model:
        return None
    for candidate in (Path(model).expanduser(), folder / model):
        if candidate.is_dir():
            return candidate.resolve()
    return None


def _final_step(output_dir: Path) -> int | None:
    """global_step of a finished train.sft output folder (its own summary, else the Trainer's state)."""
    for name in ("distillery_train.json", "trainer_state.json"):
        data, _ = load_json(output_dir / name)
        if data and isinstance(data.get("global_step"), int):
            return data["global_step"]
    return None


def load_run(label: str, folder: Path) -> Run:
    run = Run(label, folder)
    summary, problem = load_json(folder / "summary.json")
    if summary is None:
        partial = _partial_summary(run)
        missing = not (folder / "summary.json").exists()
        if partial is None:
            run.notes.insert(0, "`summary.json` is missing and the folder holds no `run.json` or samples: nothing to "
                             "report (is this an eval output folder?)" if missing else str(problem))
            return run
        run.summary, run.partial = partial, True
        run.notes.insert(0, f"{problem}: " + ("the run did not finish (or was interrupted), so " if missing else "")
                         + "the scores below are recomputed from the samples on disk and cover only the problems "
                         "finished so far.")
    else:
        run.summary = summary
        benchmarks = summary.get("benchmarks")
        if not isinstance(benchmarks, dict):
            run.notes.append(f"`{folder / 'summary.json'}` has no `benchmarks` object: no scores")
            benchmarks = {}
        for key in [k for k, b in benchmarks.items() if not isinstance(b, dict)]:
            run.notes.append(f"`{folder / 'summary.json'}`: benchmarks.{key} is not an object; left out")
        summary["benchmarks"] = {k: b for k, b in benchmarks.items() if isinstance(b, dict)}
        for key, b in run.benchmarks.items():
            path = folder / str(b.get("samples_file") or f"{key}.samples.jsonl")
            if path.is_file():
                run.scans[key] = scan_samples(key, path)
            else:
                run.notes.append(f"benchmark `{key}`: samples file `{path}` is missing; plots and audits that need "
                                 "the samples are left out for it")
    for key, b in run.benchmarks.items():
        audit = b.get("disagreements_file")
        if audit or (folder / f"{key}.disagreements.jsonl").is_file():
            run.disagreements[key] = read_disagreements(folder / str(audit or f"{key}.disagreements.jsonl"))
    run.model_folder = _resolve_model(run.summary.get("model"), folder)
    if run.model_folder is not None:
        m = CHECKPOINT.match(run.model_folder.name)
        if m:
            run.series, run.step = run.model_folder.parent, int(m.group(1))
        run.lineage = find_lineage(run.model_folder)
    return run


def attach_final_models(runs: list[Run]) -> None:
    """A run of a training output_dir itself joins that run's checkpoint series at its final step."""
    series = {r.series for r in runs if r.series is not None}
    for r in runs:
        if r.series is None and r.model_folder in series:
            step = _final_step(r.model_folder)
            if step is not None:
                r.series, r.step = r.model_folder, step


def unique_labels(folders: list[Path]) -> list[str]:
    """Folder names, with as many parent folders as it takes to tell equal names apart."""
    depth = 1
    while True:
        labels = ["/".join(f.resolve().parts[-depth:]) for f in folders]
        if len(set(labels)) == len(labels) or depth > 6:
            return labels
        depth += 1
