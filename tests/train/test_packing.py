"""Packing without cross-document attention: a packed batch gives the same per-token loss as a padded one."""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

from train.corpus import load_corpus
from train.pretokenize import tokenize_messages
from train.throughput import flops_per_token, matmul_params


def per_token_losses(model, batch) -> torch.Tensor:
    """Cross-entropy of every trained token, in order (the model's own logits, no fused head)."""
    inputs = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "position_ids")}
    logits = model(**inputs, use_cache=False).logits
    labels = batch["labels"]
    logits, labels = logits[:, :-1].reshape(-1, logits.size(-1)), labels[:, 1:].reshape(-1)
    keep = labels != -100
    return torch.nn.functional.cross_entropy(logits[keep], labels[keep], reduction="none")


def test_packed_and_padded_batches_give_the_same_per_token_loss(tiny_model, corpus_dir):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model, attn_implementation="sdpa", dtype=torch.float32).eval()
    rows, _ = load_corpus(corpus_dir)
    examples = [tokenize_messages(tok, tok.chat_template, r["messages"], "assistant") for r in rows[:4]]
    assert len({len(e["input_ids"]) for e in examples}) > 1  # different lengths: the padded batch has padding

    padded = DataCollatorForLanguageModeling(pad_token_id=tok.pad_token_id)(examples)
    packed = DataCollatorForLanguageModeling(pad_token_id=tok.pad_token_id, padding_free=True)(examples)
    assert packed["input_ids"].shape[0] == 1 and "attention_mask" not in packed
    assert packed["input_ids"].shape[1] == sum(len(e["input_ids"]) for e in examples)
    with torch.no_grad():
        a, b = per_token_losses(model, padded), per_token_losses(model, packed)
    assert a.numel() == b.numel() == sum(sum(t != -100 for t in e["labels"]) for e in examples)
    torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-5)

    # Without position_ids the packed documents attend to each other and the loss changes: the test can fail.
    with torch.no_grad():
        leaky = per_token_losses(model, {"input_ids": packed["input_ids"], "labels": packed["labels"]})
    assert (leaky - a).abs().max().item() > 1e-3


def test_flops_per_token_of_the_tiny_model(tiny_model):
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    # per layer q 128·128 + k 128·64 + v 128·64 + o 128·128 + MLP 3·128·256, two layers, plus the 1024×128 LM head
    assert matmul_params(model) == 2 * (16384 + 8192 + 8192 + 16384 + 3 * 32768) + 1024 * 128 == 425_984
    assert flops_per_token(model, 256) == 6 * 425_984 + 6 * 2 * 256 * 128
