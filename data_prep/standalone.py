"""`python -m data_prep dedup|decontaminate IN.jsonl --out OUT.jsonl ...` on any JSONL of objects with an id and
a text field (corpus rows included).

OUT gets the kept lines byte for byte; OUT.removed.jsonl one record per removed row (its id and line, what it
matched, the method and score, and the row itself); OUT.rejects.jsonl every line that could not be read (non-UTF-8
bytes, malformed JSON, not an object, missing id or text) with file, line, field and reason. The input is
streamed in batches (dedup reads it twice: pass 1 indexes, pass 2 writes), so memory holds one batch plus the
index, never the file.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from data_prep.dedup.rows import Reject

BATCH = 2048


@dataclass
class Line:
    line: int
    raw: bytes  # the line as read (written back unchanged when the row is kept)
    row: dict[str, Any]


def check_input(path: Path) -> None:
    """A one-line error for an input that is not a readable file."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise ValueError(f"{path}: is a directory, expected a JSONL file")
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read ({exc.strerror or exc})") from exc


def read_lines(path: Path, field: str, id_field: str, stage: str) -> Iterator[Line | Reject]:
    """Good lines as `Line`, bad ones as a `Reject` naming file, line and field."""
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield Reject(stage, f"not UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})",
                             file=str(path), line=n, record=raw.decode("utf-8", "replace")[:2000])
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as exc:
                yield Reject(stage, f"malformed JSON ({exc.msg} at column {exc.colno})", file=str(path), line=n,
                             record=text[:2000])
                continue
            if not isinstance(row, dict):
                yield Reject(stage, f"expected a JSON object, got {type(row).__name__}", file=str(path), line=n,
                             record=text[:2000])
                continue
            if row.get(id_field) in (None, ""):
                yield Reject(stage, f"missing id field '{id_field}'", file=str(path), line=n, field=id_field, record=row)
                continue
            if not isinstance(row.get(field), str) or not row[field].strip():
                yield Reject(stage, f"missing or empty text field '{field}'", file=str(path), line=n, field=field,
                             record=row)
                continue
            yield Line(n, raw if raw.endswith(b"\n") else raw + b"\n", row)


def batches(path: Path, field: str, id_field: str, stage: str, rejects: list[Reject] | None,
            size: int = BATCH) -> Iterator[list[Line]]:
    """Batches of good lines; bad ones are appended to `rejects` (pass None to skip them silently)."""
    batch: list[Line] = []
    for item in read_lines(path, field, id_field, stage):
        if isinstance(item, Reject):
            if rejects is not None:
                rejects.append(item)
            continue
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def side_files(out: Path) -> tuple[Path, Path]:
    stem = out.name[:-len(".jsonl")] if out.name.endswith(".jsonl") else out.name
    return out.with_name(stem + ".removed.jsonl"), out.with_name(stem + ".rejects.jsonl")


def _split(batch_iter: Iterable[list[Any]], keep: Callable[[list[dict]], tuple[list, list[Reject]]],
           kept_fh: BinaryIO, removed: Callable[[Any, Reject], None]) -> tuple[int, int]:
    """Stream batches through a filter: kept input lines are copied byte for byte, each removed one goes to
    `removed(line, reject)`. Returns (kept, seen)."""
    kept_n = seen = 0
    for batch in batch_iter:
        _, rejects = keep([b.row for b in batch])
        seen += len(batch)
        why = {id(r.record): r for r in rejects}
        for b in batch:
            rej = why.get(id(b.row))
            if rej is None:
                kept_fh.write(b.raw)
                kept_n += 1
            else:
                removed(b, rej)
    return kept_n, seen


def _write_rejects(path: Path, rejects: list[Reject]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for r in rejects:
            fh.write(json.dumps(r.to_json(), ensure_ascii=False) + "\n")


def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def run_dedup(src: Path, out: Path, method: str = "minhash", threshold: float | None = None, field: str = "problem",
              id_field: str = "id", engine: str = "local", batch_size: int = BATCH) -> dict[str, int]:
    """Two streamed passes: index every row, then write the kept ones; returns counts."""
    from data_prep.dedup import DedupConfig, Deduplicator

    check_input(src)
    if _same_file(src, out):
        raise ValueError(f"--out {out}: must differ from the input")
    methods = {"exact": ["exact"], "minhash": ["exact", "minhash"], "semantic": ["exact", "semantic"]}[method]
    cfg = DedupConfig(methods=methods, field=field, id_field=id_field)
    if threshold is not None:
        if method == "minhash":
            cfg.minhash_threshold = threshold
        elif method == "semantic":
            cfg.semantic_threshold = threshold
    cfg.__post_init__()
    dd = Deduplicator(cfg)
    bad: list[Reject] = []
    t0 = time.monotonic()
    featurize = _ray_features(cfg) if engine == "ray" else None
    try:
        for batch in batches(src, field, id_field, "dedup", bad, batch_size):
            rows = [b.row for b in batch]
            dd.add(rows, featurize([r[field] for r in rows]) if featurize else None)
    finally:
        if featurize:
            featurize.close()
    counts = dd.finalize()
    removed_path, rejects_path = side_files(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as kept_fh, removed_path.open("w", encoding="utf-8") as rem_fh:
        def removed(b: Any, rej: Reject) -> None:
            rec = {"id": b.row[id_field], "line": b.line, **rej.detail, "row": b.row}
            rem_fh.write(json.dumps(rec, ensure_ascii=False) + "\n")

        kept_n, seen = _split(batches(src, field, id_field, "dedup", None, batch_size), dd.filter, kept_fh, removed)
    removed_n = seen - kept_n
    _write_rejects(rejects_path, bad)
    secs = time.monotonic() - t0
    print(f"{out}: {kept_n} kept; {removed_n} duplicates in {removed_path}; {len(bad)} unreadable lines in "
          f"{rejects_path} ({counts['rows'] / max(secs, 1e-9):,.0f} rows/s, {engine})", file=sys.stderr)
    return {"kept": kept_n, "removed": removed_n, "rejects": len(bad)}


class _ray_features:  # noqa: N801 - used like a function: featurize(texts) -> features
    """Per-batch dedup features computed by Ray Data tasks (the index itself stays in this process)."""

    def __init__(self, cfg: Any):
        import ray

        self.cfg = cfg
        self._started = not ray.is_initialized()
        if self._started:
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True
        ctx.enable_progress_bars = False

    def __call__(self, texts: list[str]) -> dict[str, Any]:
        import numpy as np
        import ray

        cfg = self.cfg
        methods, num_perm, shingle, seed = list(cfg.methods), cfg.num_perm, cfg.shingle, cfg.seed

        def featurize(batch: dict[str, Any]) -> dict[str, Any]:
            from data_prep.dedup.features import batch_features

            f = batch_features([str(t) for t in batch["text"]], methods, num_perm, shingle, seed)
            return {"exact": f["exact"], **({"minhash": f["minhash"]} if "minhash" in f else {})}

        ds = ray.data.from_items([{"text": t} for t in texts], override_num_blocks=2)
        parts = list(ds.map_batches(featurize, batch_format="numpy", batch_size=max(1, len(texts) // 2))
                     .iter_batches(batch_size=None, batch_format="numpy"))
        out = {"exact": np.concatenate([p["exact"] for p in parts]).astype(np.uint64)}
        if "minhash" in methods:
            out["minhash"] = np.concatenate([np.stack(list(p["minhash"])) if p["minhash"].dtype == object
                                             else p["minhash"] for p in parts]).astype(np.uint32)
        if "semantic" in methods:
            from data_prep.embeddings import Embedder

            if not hasattr(self, "_embedder"):
                self._embedder = Embedder(cfg.model)
            out["semantic"] = self._embedder.encode(texts)
        return out

    def close(self) -> None:
        import ray

        if self._started:
            ray.shutdown()


def run_decontaminate(src: Path, out: Path, benchmarks: list[str], benchmark_dir: Path | None = None,
                      methods: list[str] | None = None, field: str = "problem", id_field: str = "id",
                      judge: dict[str, Any] | None = None, batch_size: int = 512) -> dict[str, int]:
    """One streamed pass: rows that copy a benchmark problem go to OUT.removed.jsonl; returns counts."""
    from data_prep.decontaminate import DecontaminateConfig, Decontaminator, write_contamination_report

    check_input(src)
    if _same_file(src, out):
        raise ValueError(f"--out {out}: must differ from the input")
    cfg = DecontaminateConfig(benchmarks=benchmarks, benchmark_dir=str(benchmark_dir) if benchmark_dir else None,
                              methods=methods or ["lexical"], field=field, id_field=id_field, judge=judge)
    dc = Decontaminator.from_config(cfg)
    removed_path, rejects_path = side_files(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    bad: list[Reject] = []
    records = []
    t0 = time.monotonic()
    with out.open("wb") as kept_fh, removed_path.open("w", encoding="utf-8") as rem_fh:
        def removed(b: Any, rej: Reject) -> None:
            c = rej.detail["contamination"]
            records.append({"id": b.row[id_field], **{k: c[k] for k in ("benchmark", "item_id", "method", "score")}})
            rem_fh.write(json.dumps({"id": b.row[id_field], "line": b.line, **c, "row": b.row},
                                    ensure_ascii=False) + "\n")

        kept_n, checked = _split(batches(src, field, id_field, "decontaminate", bad, batch_size), dc.filter,
                                 kept_fh, removed)
    _write_rejects(rejects_path, bad)
    stem = out.name[:-len(".jsonl")] if out.name.endswith(".jsonl") else out.name
    write_contamination_report(out.parent / f"{stem}.contamination", records, benchmarks, checked, cfg.methods)
    secs = time.monotonic() - t0
    print(f"{out}: {kept_n} kept; {len(records)} contaminated in {removed_path}; {len(bad)} unreadable lines in "
          f"{rejects_path} ({checked / max(secs, 1e-9):,.0f} rows/s)", file=sys.stderr)
    return {"kept": kept_n, "removed": len(records), "rejects": len(bad)}
