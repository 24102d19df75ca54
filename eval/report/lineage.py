"""The corpus a model was trained on, read from the files `train.sft` leaves in its output folder and every
checkpoint (train/lineage.py): distillery_corpus.json (path, content hash, shards), corpus_stats.json (data_prep's
stats.json) and corpus_contamination.json (data_prep's contamination.json: the benchmark items found in the
training data and removed, each with its method and score).

When the copies are absent but the corpus folder the record names still exists, its own stats.json /
contamination.json are read; a build older than the contamination report still lists its removals in
`rejects/decontaminate.jsonl`, which is read as a last resort.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.jsonl import BadLine, iter_jsonl

# The names train/lineage.py writes (not imported: that module imports transformers, seconds for a report).
LINEAGE_FILE = "distillery_corpus.json"
STATS_COPY = "corpus_stats.json"
CONTAMINATION_COPY = "corpus_contamination.json"
RECORD_KEYS = ("records", "removed", "removals", "items", "matches", "contaminated")
# today's decontaminate reject reason: "<benchmark> <item id>: <how>"
REJECT_REASON = re.compile(r"^(?P<benchmark>\S+) (?P<item>.+?): (?P<method>.+)$")


@dataclass
class Lineage:
    where: Path  # the folder holding distillery_corpus.json
    record: dict[str, Any]
    stats: dict[str, Any] | None = None
    stats_from: Path | None = None
    removals: list[dict[str, Any]] | None = None  # normalised: benchmark, item_id, method, score, row_id, source
    checked: list[str] | None = None  # benchmarks the build compared against, when the report says
    contamination_from: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return str(self.record.get("content_sha256") or self.record.get("hub_fingerprint") or self.where)


def _first(d: dict[str, Any], *names: str) -> Any:
    for n in names:
        if d.get(n) is not None:
            return d[n]
    return None


def normalise_removal(rec: dict[str, Any]) -> dict[str, Any]:
    """One removal in a fixed shape, whatever the names the report used (contract: benchmark, item_id, method,
    score, and the training row's id / source)."""
    inner = (rec.get("detail") or {}).get("contamination") if isinstance(rec.get("detail"), dict) else None
    if isinstance(inner, dict):
        rec = {**rec, **inner}
    row = rec.get("row") if isinstance(rec.get("row"), dict) else {}
    return {
        "benchmark": _first(rec, "benchmark", "benchmark_name"),
        "item_id": _first(rec, "item_id", "benchmark_item", "benchmark_id", "problem_id", "test_id"),
        "method": _first(rec, "method", "how"),
        "score": _first(rec, "score", "similarity"),
        "row_id": _first(rec, "row_id", "train_id", "training_id", "id") or _first(row, "id", "item_id"),
        "source": _first(rec, "source", "row_source") or _first(row, "source"),
    }


def parse_contamination(data: Any) -> tuple[list[dict[str, Any]] | None, list[str] | None]:
    """(removals or None when the report lists none by item, benchmarks checked or None)."""
    if isinstance(data, list):
        return [normalise_removal(r) for r in data if isinstance(r, dict)], None
    if not isinstance(data, dict):
        return None, None
    checked = data.get("benchmarks")
    checked = [str(b) for b in checked] if isinstance(checked, list) else (
        [str(b) for b in checked] if isinstance(checked, dict) else None)
    for key in RECORD_KEYS:
        value = data.get(key)
        if isinstance(value, list):
            return [normalise_removal(r) for r in value if isinstance(r, dict)], checked
    # removals grouped per benchmark: {"by_benchmark": {"math500": [...]}} or {"math500": [...]}
    grouped = [(name, rows) for outer in (data, *[v for v in data.values() if isinstance(v, dict)])
               for name, rows in outer.items() if isinstance(rows, list) and rows and isinstance(rows[0], dict)]
    if grouped:
        return [normalise_removal({"benchmark": name, **r}) for name, rows in grouped for r in rows
                if isinstance(r, dict)], checked
    if data.get("removed") == 0 or data.get("count") == 0:
        return [], checked
    return None, checked


def removals_from_rejects(path: Path) -> list[dict[str, Any]]:
    """Removals from a build's rejects/decontaminate.jsonl (Reject rows; reason '<benchmark> <item>: <how>')."""
    out = []
    for _, rec in iter_jsonl(path):
        if isinstance(rec, BadLine) or not isinstance(rec, dict):
            continue
        got = normalise_removal(rec)
        m = REJECT_REASON.match(str(rec.get("reason") or ""))
        if got["benchmark"] is None and m:
            got.update(benchmark=m["benchmark"], item_id=m["item"], method=m["method"])
        record = rec.get("record") if isinstance(rec.get("record"), dict) else {}
        got["row_id"] = got["row_id"] or record.get("item_id") or record.get("id")
        got["source"] = got["source"] or record.get("source") or (
            f"{Path(str(rec['file'])).name}:{rec.get('line')}" if rec.get("file") else None)
        out.append(got)
    return out


def _read(path: Path, notes: list[str]) -> Any:
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
        notes.append(f"`{path}` cannot be read ({exc}); left out")
        return None


def find_lineage(model_folder: Path) -> Lineage | None:
    """The lineage of a model folder (or of the training run a checkpoint folder belongs to); None when there is
    none (a model not trained by train.sft)."""
    where = next((f for f in (model_folder, model_folder.parent) if (f / LINEAGE_FILE).is_file()), None)
    if where is None:
        return None
    notes: list[str] = []
    record = _read(where / LINEAGE_FILE, notes)
    lin = Lineage(where, record if isinstance(record, dict) else {}, notes=notes)
    corpus = Path(lin.record["path"]) if lin.record.get("path") else None
    for candidate in (where / STATS_COPY, corpus / "stats.json" if corpus else None):
        if candidate is not None and candidate.is_file():
            stats = _read(candidate, notes)
            if isinstance(stats, dict):
                lin.stats, lin.stats_from = stats, candidate
                break
    for candidate in (where / CONTAMINATION_COPY, corpus / "contamination.json" if corpus else None):
        if candidate is not None and candidate.is_file():
            data = _read(candidate, notes)
            if data is not None:
                lin.removals, lin.checked = parse_contamination(data)
                lin.contamination_from = candidate
                if lin.removals is not None:
                    break
    rejects = corpus / "rejects" / "decontaminate.jsonl" if corpus else None
    if lin.removals is None and rejects is not None and rejects.is_file():
        lin.removals, lin.contamination_from = removals_from_rejects(rejects), rejects
    return lin
