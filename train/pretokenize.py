"""Tokenise a chat corpus once, with loss labels and length filtering, in batched multi-process maps, and cache it.

Multi-node jobs would otherwise re-tokenise on every rank (and time out the NCCL barrier); the main process
builds the cache, the others load it. Examples longer than max_length are dropped and listed, never truncated,
because cutting a reasoning trace teaches the model to stop mid-thought. The tokenised rows are written by the
map workers straight into the cache folder as Arrow files and memory-mapped from there: nothing holds the corpus
in memory, and nothing is copied a second time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from train.arrow_map import batched_map
from train.errors import UserError
from train.rejects import append, clear_parts, merge_parts, part_file

LOSS_MODES = ("assistant", "completion", "all")
CACHE_VERSION = "2"  # bump when tokenisation, labelling or the cache layout changes meaning
SUMMARY = "summary.json"
STAGE = "train.pretokenize"
# Rows per tokeniser call. Memory per worker is bounded by this × the longest row (32k tokens × 4 bytes × 2 columns
# in numpy, plus the rendered text), never by the corpus size.
TOKENIZE_BATCH = 64


def tokenized_features():
    """Schema of the cache: int32 ids and labels (half the disk of int64; vocabularies stay far below 2^31)."""
    from datasets import Features, List, Value

    return Features(
        {
            "id": Value("string"),
            "input_ids": List(Value("int32")),
            "labels": List(Value("int32")),
            "n_tokens": Value("int32"),
            "n_trained": Value("int32"),
        }
    )


def _last_span(mask: np.ndarray) -> np.ndarray:
    """Only the last contiguous run of a mask: the final assistant turn's {% generation %} span."""
    on = np.flatnonzero(mask)
    if not len(on):
        return mask
    gaps = np.flatnonzero(np.diff(on) > 1)
    start = on[gaps[-1] + 1] if len(gaps) else on[0]
    last = np.zeros_like(mask)
    last[start : on[-1] + 1] = True
    return last


def tokenize_conversations(tokenizer, template: str, conversations: list[list[dict]], loss_on: str) -> list[tuple]:
    """(input_ids, labels) as int32 arrays for each conversation, rendered and tokenised in one batched call.

    `assistant`: every assistant turn inside the template's {% generation %} span (content + end-of-turn);
    `completion`: only the last of those spans, cut from the same mask (the prompt is not rendered a second time);
    `all`: every token.
    """
    if loss_on not in LOSS_MODES:
        raise UserError(f"loss mode {loss_on!r} is not one of {LOSS_MODES}")
    out = tokenizer.apply_chat_template(
        conversations,
        chat_template=template,
        tokenize=True,
        return_dict=True,
        return_assistant_tokens_mask=loss_on != "all",
    )
    pairs = []
    for i, ids in enumerate(out["input_ids"]):
        ids = np.asarray(ids, dtype=np.int32)
        if loss_on == "all":
            pairs.append((ids, ids.copy()))
            continue
        mask = np.asarray(out["assistant_masks"][i], dtype=bool)
        if loss_on == "completion":
            mask = _last_span(mask)
        pairs.append((ids, np.where(mask, ids, -100).astype(np.int32)))
    return pairs


def tokenize_messages(tokenizer, template: str, messages: list[dict], loss_on: str) -> dict:
    """input_ids and labels (-100 where no loss) of one conversation, as lists (see tokenize_conversations)."""
    ids, labels = tokenize_conversations(tokenizer, template, [messages], loss_on)[0]
    return {"input_ids": ids.tolist(), "labels": labels.tolist()}


def tokenize_batch(
    batch: dict[str, list],
    rank: int | None,
    *,
    tokenizer,
    template: str,
    loss_on: str,
    max_length: int,
    rejects_dir: str,
) -> dict[str, list]:
    """Map function: tokenise a batch, keep what fits in max_length and trains something, list the rest."""
    out: dict[str, list] = {"id": [], "input_ids": [], "labels": [], "n_tokens": [], "n_trained": []}
    rejects = []
    for rid, (ids, labels) in zip(
        batch["id"], tokenize_conversations(tokenizer, template, batch["messages"], loss_on), strict=True
    ):
        n, trained = len(ids), int((labels != -100).sum())
        if n > max_length:
            rejects.append({"stage": STAGE, "id": rid, "reason": f"n_tokens: {n} > max_length {max_length}"})
        elif trained == 0:
            reason = "labels: no trainable tokens (template marked no assistant tokens)"
            rejects.append({"stage": STAGE, "id": rid, "reason": reason})
        else:
            for key, value in (
                ("id", rid),
                ("input_ids", ids),
                ("labels", labels),
                ("n_tokens", n),
                ("n_trained", trained),
            ):
                out[key].append(value)
    append(part_file(rejects_dir, "overlong", rank), rejects)
    return out


def cache_key(parts: dict) -> str:
    """Stable hash of everything that changes the tokenised dataset."""
    return hashlib.sha256(json.dumps({**parts, "v": CACHE_VERSION}, sort_keys=True).encode()).hexdigest()[:16]


def tokenizer_fingerprint(tokenizer) -> str:
    """Hash of the tokenizer's vocabulary/merges and special tokens."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    body = backend.to_str() if backend is not None else json.dumps(tokenizer.get_vocab(), sort_keys=True)
    body += json.dumps([tokenizer.eos_token, tokenizer.pad_token, tokenizer.bos_token])
    return hashlib.sha256(body.encode()).hexdigest()


def _column_sum(ds, name: str) -> int:
    import pyarrow.compute as pc

    return int(pc.sum(ds.data.column(name)).as_py() or 0) if len(ds) else 0


def build_tokenized(
    rows,
    tokenizer,
    template: str,
    *,
    max_length: int,
    loss_on: str,
    overlong: str,
    num_proc: int | None,
    rejects_dir: Path,
    out_dir: Path,
):
    """Tokenise the Dataset `rows` (id, messages) into Arrow files in `out_dir`; returns the dataset and a summary.

    The summary's `arrow_files` lists those files in row order (what `load_tokenized` reads back).
    """
    import pyarrow.compute as pc

    if loss_on not in LOSS_MODES:
        raise UserError(f"loss mode {loss_on!r} is not one of {LOSS_MODES}")
    if overlong not in ("drop", "error"):
        raise UserError(f"overlong: {overlong!r} is not one of ('drop', 'error')")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clear_parts(rejects_dir, ("overlong",))
    workers = num_proc if num_proc and num_proc > 1 else None
    t0 = time.perf_counter()
    ds = batched_map(
        rows,
        tokenize_batch,
        batch_size=TOKENIZE_BATCH,
        features=tokenized_features(),
        out_file=out_dir / "tokens.arrow",
        workers=workers,
        fn_kwargs={
            "tokenizer": tokenizer,
            "template": template,
            "loss_on": loss_on,
            "max_length": max_length,
            "rejects_dir": str(rejects_dir),
        },
        desc="Tokenising corpus",
    )
    seconds = time.perf_counter() - t0
    dropped, first, _ = merge_parts(rejects_dir, "overlong")
    n_overlong, n_untrained = dropped.get("n_tokens", 0), dropped.get("labels", 0)
    if n_overlong and overlong == "error":
        raise UserError(
            f"{n_overlong} examples exceed max_length={max_length}, e.g. id {first['id']!r} with "
            f"{first['reason'].split()[1]} tokens (raise max_length, or set overlong: drop; all listed in "
            f"{rejects_dir / 'overlong.jsonl'})"
        )
    tokens = _column_sum(ds, "n_tokens")
    summary = {
        "examples": len(ds),
        "dropped_overlong": n_overlong,
        "dropped_untrained": n_untrained,
        "tokens": tokens,
        "trained_tokens": _column_sum(ds, "n_trained"),
        "max_tokens": int(pc.max(ds.data.column("n_tokens")).as_py() or 0) if len(ds) else 0,
        "mean_tokens": tokens / len(ds) if len(ds) else 0.0,
        "max_length": max_length,
        "loss_on": loss_on,
        "tokenize_workers": workers or 1,
        "tokenize_seconds": round(seconds, 2),
        "tokenize_rows_per_second": round(len(rows) / seconds, 1) if seconds > 0 else None,
        "arrow_files": [Path(f["filename"]).name for f in ds.cache_files],
    }
    if not len(ds):
        raise UserError(
            f"no examples left after tokenising: all {len(rows)} are longer than max_length={max_length} or train no "
            f"token (listed in {rejects_dir / 'overlong.jsonl'})"
        )
    return ds, summary


def load_tokenized(cache_dir: Path):
    """The cached tokenised dataset (memory-mapped; columns id, input_ids, labels, n_tokens) and its summary."""
    from datasets import Dataset, concatenate_datasets

    summary = json.loads((Path(cache_dir) / SUMMARY).read_text())
    parts = [Dataset.from_file(str(Path(cache_dir) / name)) for name in summary["arrow_files"]]
    ds = parts[0] if len(parts) == 1 else concatenate_datasets(parts)
    return ds.remove_columns(["n_trained"]), summary


def load_or_build(cache_dir: Path, build: Callable[[Path, Path], dict]) -> tuple:
    """Load the tokenised dataset cached in `cache_dir`, or build it there atomically first.

    `build(work_dir, out_dir)` writes the Arrow files into `out_dir` (intermediate files into `work_dir`, deleted
    afterwards) and returns the summary; `out_dir` is renamed to `cache_dir` only when complete.
    """
    cache_dir = Path(cache_dir)
    if (cache_dir / SUMMARY).exists():
        return load_tokenized(cache_dir)
    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{cache_dir.name}.", dir=cache_dir.parent))
    try:
        ready = tmp / "ready"
        summary = build(tmp / "work", ready)
        (ready / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")
        try:
            os.rename(ready, cache_dir)
        except OSError:
            if not (cache_dir / SUMMARY).exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return load_tokenized(cache_dir)
