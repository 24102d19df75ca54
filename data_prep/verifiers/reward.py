"""Reward-model verification for rows nothing else can check (science, open-ended questions): any Hugging Face
`AutoModelForSequenceClassification` scores (problem, response); the row passes when the score reaches the
recipe's threshold.

The score is the model's single logit (num_labels == 1, the usual reward-model head) or, for classifiers with
more labels, the softmax probability of `label` (default: the last label, e.g. "good"). The conversation is
rendered with the tokenizer's chat template when it has one, else as "problem\\n\\nresponse". Rows are scored
in batches of `batch_size`, sorted by length inside a batch so padding stays small.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass
class RewardModelConfig:
    """Recipe section `verify.reward_model`."""

    model: str  # a local folder or a hub name (hubs must be reachable, or the model in the HF cache)
    threshold: float = 0.0  # pass when score >= threshold
    batch_size: int = 16
    max_length: int = 4096  # tokens; longer conversations are cut from the left (the response's end is kept)
    device: str = "cpu"
    dtype: str = "float32"  # float32 | bfloat16 | float16
    label: int | None = None  # classifiers with several labels: which label's probability is the score


@functools.lru_cache(maxsize=2)
def load_reward_model(model: str, device: str = "cpu", dtype: str = "float32"):
    """(tokenizer, model) loaded once per process and kept for the next batches."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if Path(model).exists() is False and "/" not in model:
        raise FileNotFoundError(f"verify.reward_model.model: {model!r} is neither a local folder nor a hub name")
    tok = AutoTokenizer.from_pretrained(model)
    tok.truncation_side = "left"
    rm = AutoModelForSequenceClassification.from_pretrained(model, dtype=getattr(torch, dtype)).to(device).eval()
    if rm.config.pad_token_id is None:
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token
        rm.config.pad_token_id = tok.pad_token_id
    return tok, rm


def _render(tok, problem: str, response: str) -> str:
    if getattr(tok, "chat_template", None):
        return tok.apply_chat_template([{"role": "user", "content": problem},
                                        {"role": "assistant", "content": response}], tokenize=False)
    return f"{problem}\n\n{response}"


def score_rows(pairs: Sequence[tuple[str, str]], cfg: RewardModelConfig) -> list[float]:
    """Scores for (problem, response) pairs, in order."""
    import torch

    if not pairs:
        return []
    tok, rm = load_reward_model(cfg.model, cfg.device, cfg.dtype)
    texts = [_render(tok, p, r) for p, r in pairs]
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    scores: list[float] = [0.0] * len(texts)
    for start in range(0, len(order), cfg.batch_size):
        idx = order[start:start + cfg.batch_size]
        enc = tok([texts[i] for i in idx], return_tensors="pt", padding=True, truncation=True,
                  max_length=cfg.max_length).to(cfg.device)
        with torch.inference_mode():
            logits = rm(**enc).logits.float()
        if logits.shape[-1] == 1:
            values = logits[:, 0]
        else:
            values = logits.softmax(-1)[:, cfg.label if cfg.label is not None else -1]
        for i, v in zip(idx, values.tolist()):
            scores[i] = float(v)
    return scores
