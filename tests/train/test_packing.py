"""Packing without cross-document attention: a packed batch gives the same per-token loss as a padded one, and its
FLOPs are counted from the real document lengths (pinned against a hand computation)."""

from __future__ import annotations

import json

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

from train.pretokenize import tokenize_messages
from train.throughput import TrainingFlops, document_stats


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
    rows = [json.loads(line) for line in (corpus_dir / "data" / "train-00000.jsonl").read_text().splitlines()[:4]]
    examples = [tokenize_messages(tok, tok.chat_template, r["messages"], "assistant") for r in rows]
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


# Tiny model (tests/conftest.py): per layer q 128·128 + k 128·64 + v 128·64 + o 128·128 + MLP 3·128·256, two layers,
# plus the 1024×128 LM head; attention width d = 2 heads × 64 = 128.
TINY_N = 2 * (16384 + 8192 + 8192 + 16384 + 3 * 32768) + 1024 * 128


def test_flops_of_a_packed_batch_come_from_its_document_lengths(tiny_model):
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    flops = TrainingFlops(model)
    assert TINY_N == 425_984 and flops.matmul_params == flops.trainable_matmul_params == TINY_N
    assert (flops.per_token, flops.per_square) == (6 * TINY_N, 6 * 2 * 128)

    # three documents of 5, 3 and 7 tokens packed by TRL's padding-free collator, padded to 16 (one pad token)
    docs = [{"input_ids": list(range(10, 10 + n))} for n in (5, 3, 7)]
    packed = DataCollatorForLanguageModeling(pad_token_id=0, padding_free=True, pad_to_multiple_of=8)(docs)
    assert packed["position_ids"].tolist() == [[0, 1, 2, 3, 4, 0, 1, 2, 0, 1, 2, 3, 4, 5, 6, 0]]
    tokens, sum_sq = document_stats(packed["input_ids"], packed["position_ids"], pad_token_id=0)
    assert (tokens.item(), sum_sq.item()) == (15, 5 * 5 + 3 * 3 + 7 * 7)
    # by hand: 6·N per token + 6·L·d per squared document length
    hand = 6 * 425_984 * 15 + 6 * 2 * 128 * (25 + 9 + 49)
    assert hand == 38_466_048 and flops.flops(15, 83) == hand
    # charging every token attention over max_length (the old formula) would report 30 % more work at 512
    assert 15 * flops.per_token_at(512) == 50_135_040

    # the same documents padded one per row count the same; so do the halves of a sequence-parallel split
    padded = DataCollatorForLanguageModeling(pad_token_id=0)(docs)
    assert [t.item() for t in document_stats(padded["input_ids"], attention_mask=padded["attention_mask"])] == [15, 83]
    halves = [document_stats(i, p, pad_token_id=0) for i, p in zip(
        packed["input_ids"].chunk(2, dim=1), packed["position_ids"].chunk(2, dim=1), strict=True)]  # fmt: skip
    assert [sum(h[k].item() for h in halves) for k in (0, 1)] == [15, 83]


def test_flops_of_lora_skip_the_frozen_weight_gradients(tiny_model):
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_model), LoraConfig(r=4, target_modules="all-linear")
    )
    flops = TrainingFlops(model)
    # r=4 adapters on the 7 linears of each layer: A (in×4) + B (4×out) = 4·(in + out) each, LM head not adapted
    lora = 2 * 4 * ((128 + 128) + 2 * (128 + 64) + (128 + 128) + 2 * (128 + 256) + (256 + 128))
    assert lora == 16_384 and flops.trainable_matmul_params == lora
    assert flops.matmul_params == TINY_N + lora
    assert flops.per_token == 4 * (TINY_N + lora) + 2 * lora
