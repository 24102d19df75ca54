"""Tokenise a chat corpus once, with loss labels and length filtering, and cache it on disk.

Multi-node jobs would otherwise re-tokenise on every rank (and time out the NCCL barrier); the main process
builds the cache, the others load it. Examples longer than max_length are dropped and listed, never truncated,
because cutting a reasoning trace teaches the model to stop mid-thought.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

LOSS_MODES = ("assistant", "completion", "all")
CACHE_VERSION = "1"  # bump when tokenisation or labelling changes meaning
SUMMARY = "summary.json"


def tokenize_messages(tokenizer, template: str, messages: list[dict], loss_on: str) -> dict:
    """input_ids and labels (-100 where no loss) for one conversation.

    `assistant`: every assistant turn inside the template's {% generation %} span (content + end-of-turn);
    `completion`: only the last assistant turn's span; `all`: every token.
    """
    out = tokenizer.apply_chat_template(
        messages, chat_template=template, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids = list(out["input_ids"])
    if loss_on == "all":
        return {"input_ids": ids, "labels": list(ids)}
    mask = list(out["assistant_masks"])
    if loss_on == "completion":
        cut = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
        prompt = tokenizer.apply_chat_template(
            messages[:cut], chat_template=template, tokenize=True, return_dict=True, add_generation_prompt=True
        )["input_ids"]
        if ids[: len(prompt)] != list(prompt):
            raise ValueError("the template renders the prompt differently with and without the completion")
        mask = [0] * len(prompt) + mask[len(prompt) :]
    return {"input_ids": ids, "labels": [t if m else -100 for t, m in zip(ids, mask, strict=True)]}


def cache_key(parts: dict) -> str:
    """Stable hash of everything that changes the tokenised dataset."""
    return hashlib.sha256(json.dumps({**parts, "v": CACHE_VERSION}, sort_keys=True).encode()).hexdigest()[:16]


def tokenizer_fingerprint(tokenizer) -> str:
    """Hash of the tokenizer's vocabulary/merges and special tokens."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    body = backend.to_str() if backend is not None else json.dumps(tokenizer.get_vocab(), sort_keys=True)
    body += json.dumps([tokenizer.eos_token, tokenizer.pad_token, tokenizer.bos_token])
    return hashlib.sha256(body.encode()).hexdigest()


def build_tokenized(
    rows: list[dict],
    tokenizer,
    template: str,
    *,
    max_length: int,
    loss_on: str,
    overlong: str,
    num_proc: int | None,
    rejects_path: Path | None,
):
    """Tokenise `rows` into a datasets.Dataset (id, input_ids, labels, n_tokens) and a summary dict."""
    from datasets import Dataset

    if loss_on not in LOSS_MODES:
        raise ValueError(f"loss_on: {loss_on!r} is not one of {LOSS_MODES}")
    if overlong not in ("drop", "error"):
        raise ValueError(f"overlong: {overlong!r} is not one of ('drop', 'error')")

    def fn(row):
        out = tokenize_messages(tokenizer, template, row["messages"], loss_on)
        out["n_tokens"] = len(out["input_ids"])
        out["n_trained"] = sum(1 for t in out["labels"] if t != -100)
        return out

    ds = Dataset.from_list(rows).map(fn, num_proc=num_proc, remove_columns=["messages"], desc="Tokenising corpus")
    n_tokens, n_trained, ids = ds["n_tokens"], ds["n_trained"], ds["id"]
    too_long = [i for i, n in enumerate(n_tokens) if n > max_length]
    untrained = [i for i, n in enumerate(n_trained) if n == 0]
    if too_long and overlong == "error":
        i = too_long[0]
        raise ValueError(
            f"{len(too_long)} examples exceed max_length={max_length}, e.g. id {ids[i]!r} with {n_tokens[i]} tokens "
            "(raise max_length, or set overlong: drop)"
        )
    bad = set(too_long) | set(untrained)
    if bad and rejects_path is not None:
        rejects_path.parent.mkdir(parents=True, exist_ok=True)
        with rejects_path.open("w") as f:
            for i in sorted(bad):
                reason = (
                    f"n_tokens: {n_tokens[i]} > max_length {max_length}"
                    if i in too_long
                    else "labels: no trainable tokens (template marked no assistant tokens)"
                )
                f.write(json.dumps({"stage": "train.pretokenize", "id": ids[i], "reason": reason}) + "\n")
    keep = [i for i in range(len(ds)) if i not in bad]
    ds = ds.select(keep).remove_columns(["n_trained"])
    kept_tokens = sum(n_tokens[i] for i in keep)
    summary = {
        "examples": len(keep),
        "dropped_overlong": len(too_long),
        "dropped_untrained": len(set(untrained) - set(too_long)),
        "tokens": kept_tokens,
        "trained_tokens": sum(n_trained[i] for i in keep),
        "max_tokens": max((n_tokens[i] for i in keep), default=0),
        "mean_tokens": kept_tokens / len(keep) if keep else 0.0,
        "max_length": max_length,
        "loss_on": loss_on,
    }
    if not keep:
        raise ValueError(f"no examples left after tokenising: {summary}")
    return ds, summary


def load_or_build(cache_dir: Path, build: Callable[[], tuple]) -> tuple:
    """Load the tokenised dataset cached in `cache_dir`, or call `build()` and save it there atomically."""
    from datasets import load_from_disk

    cache_dir = Path(cache_dir)
    if (cache_dir / SUMMARY).exists():
        return load_from_disk(str(cache_dir)), json.loads((cache_dir / SUMMARY).read_text())
    ds, summary = build()
    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{cache_dir.name}.", dir=cache_dir.parent))
    try:
        ds.save_to_disk(str(tmp))
        (tmp / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")
        try:
            os.rename(tmp, cache_dir)
        except OSError:
            if not (cache_dir / SUMMARY).exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return load_from_disk(str(cache_dir)), summary
