"""Which corpus a checkpoint was trained on: a content hash of its shard files and copies of the build's reports.

`distillery_corpus.json` goes into the output folder and every checkpoint beside `corpus_stats.json` and
`corpus_contamination.json` (copies of data_prep's `stats.json` and `contamination.json` when the corpus folder has
them), so an evaluation report can trace a score back to the rows and to the benchmark items removed from them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from transformers import TrainerCallback

LINEAGE_FILE = "distillery_corpus.json"
# data_prep report → name of its copy beside the checkpoint
REPORTS = {"stats.json": "corpus_stats.json", "contamination.json": "corpus_contamination.json"}
CHUNK = 1 << 20


@dataclass(frozen=True)
class FileScan:
    """One corpus file: its name relative to the corpus root, size, number of lines and sha256."""

    name: str
    bytes: int
    lines: int
    sha256: str


def scan_file(path: Path, name: str) -> FileScan:
    """Hash `path` and count its lines in one streaming pass (1 MiB at a time, whatever the file's size).

    Lines are counted as `load_dataset("text")` splits them (universal newlines: \\n, \\r\\n and a lone \\r), so
    the count gives each row of that dataset its file line number.
    """
    h = hashlib.sha256()
    size = breaks = 0
    last = b""
    pending_cr = False
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
            breaks += chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
            if pending_cr and chunk.startswith(b"\n"):
                breaks -= 1  # a \r\n cut between two chunks was counted as \r and \n
            pending_cr = chunk.endswith(b"\r")
            last = chunk[-1:]
    lines = breaks + (1 if size and last not in (b"\n", b"\r") else 0)
    return FileScan(name=name, bytes=size, lines=lines, sha256=h.hexdigest())


def scan_files(files: list[Path], root: Path, workers: int = 1) -> list[FileScan]:
    """Scan every file (in order), `workers` at a time; hashlib releases the GIL, so threads overlap."""

    def one(f: Path) -> FileScan:
        try:
            name = str(f.resolve().relative_to(root.resolve()))
        except ValueError:
            name = f.name
        return scan_file(f, name)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(one, files))


def content_hash(scans: list[FileScan]) -> str:
    """sha256 over the files' names and hashes: the same for the same shards wherever the folder is copied."""
    h = hashlib.sha256()
    for s in scans:
        h.update(f"{s.name}\t{s.sha256}\n".encode())
    return h.hexdigest()


def corpus_record(source: str, split: str, scans: list[FileScan] | None, hub_fingerprint: str | None = None) -> dict:
    """The lineage record of a corpus: where it is, what it hashes to, and which data_prep reports sit beside it.

    `scans` is None for a hub dataset; its datasets fingerprint (of the cached Arrow files) stands in for a hash.
    """
    record: dict = {"dataset_name": str(source), "split": split}
    if scans is None:
        record.update(kind="hub", path=None, content_sha256=None, hub_fingerprint=hub_fingerprint, files=[])
        record["reports"] = {}
        return record
    root = Path(source).resolve()
    record.update(
        kind="data_prep" if (root / "data").is_dir() else "jsonl",
        path=str(root),
        content_sha256=content_hash(scans),
        bytes=sum(s.bytes for s in scans),
        files=[asdict(s) for s in scans],
    )
    record["reports"] = {name: copy for name, copy in REPORTS.items() if root.is_dir() and (root / name).is_file()}
    return record


def write_lineage(folder: Path, record: dict) -> None:
    """Write distillery_corpus.json into `folder` and copy the corpus folder's data_prep reports beside it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    root = Path(record["path"]) if record.get("path") else None
    for name, copy in record.get("reports", {}).items():
        if root is not None and (root / name).is_file():
            shutil.copyfile(root / name, folder / copy)
    (folder / LINEAGE_FILE).write_text(json.dumps(record, indent=2) + "\n")


def copy_lineage(src: Path, dst: Path) -> None:
    """Copy the lineage files written by `write_lineage` from `src` (the output folder) into `dst` (a checkpoint)."""
    for name in [LINEAGE_FILE, *REPORTS.values()]:
        if (Path(src) / name).is_file():
            shutil.copyfile(Path(src) / name, Path(dst) / name)


class LineageCallback(TrainerCallback):
    """Copies the lineage files from the output folder into every checkpoint the Trainer saves (main process)."""

    def on_save(self, args, state, control, **kwargs):
        ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if state.is_world_process_zero and ckpt.is_dir():
            copy_lineage(Path(args.output_dir), ckpt)
