"""The tiny model the whole test suite trains and serves: shape, tokenizer, eos, and safe concurrent builds."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

from transformers import AutoConfig, AutoTokenizer, GenerationConfig

from train.tiny import build_tiny_model


def test_tiny_model_shape_and_special_tokens(tiny_model):
    cfg = AutoConfig.from_pretrained(tiny_model)
    assert (
        cfg.model_type,
        cfg.hidden_size,
        cfg.num_attention_heads,
        cfg.num_key_value_heads,
        cfg.head_dim,
        cfg.num_hidden_layers,
    ) == ("qwen3", 128, 2, 1, 64, 2)
    tok = AutoTokenizer.from_pretrained(tiny_model)
    assert cfg.vocab_size == len(tok) == 1024
    ids = {
        t: tok.convert_tokens_to_ids(t) for t in ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
    }
    assert ids == {"<|endoftext|>": 0, "<|im_start|>": 1, "<|im_end|>": 2, "<think>": 3, "</think>": 4}
    assert (tok.eos_token, tok.pad_token) == ("<|im_end|>", "<|endoftext|>")
    assert GenerationConfig.from_pretrained(tiny_model).eos_token_id == 2 == cfg.eos_token_id
    # The think tags are single tokens that survive skip_special_tokens (graders cut at </think>).
    text = "<|im_start|>assistant\n<think>\n7 x 8 = 56\n</think>\n\n\\boxed{56}<|im_end|>"
    enc = tok(text)["input_ids"]
    assert enc.count(3) == 1 and enc.count(4) == 1
    assert tok.decode(enc, skip_special_tokens=True) == "assistant\n<think>\n7 x 8 = 56\n</think>\n\n\\boxed{56}"
    # A real BPE trained on GSM8K text: common words are single tokens.
    assert tok.tokenize(" She sold the total number of dollars") == [
        "ĠShe",
        "Ġsold",
        "Ġthe",
        "Ġtotal",
        "Ġnumber",
        "Ġof",
        "Ġdollars",
    ]


def test_tiny_model_builds_deterministically_and_concurrently(tmp_path, tiny_model, shared):
    out = tmp_path / "tiny"
    code = f"from pathlib import Path; from train.tiny import build_tiny_model; print(build_tiny_model(Path({str(out)!r})))"
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert [r[0].strip().splitlines()[-1] for r in results] == [str(out), str(out)]
    assert not [p for p in tmp_path.iterdir() if p.name != "tiny"], "temporary build folders left behind"

    def digest(folder):
        return {
            f: hashlib.sha256((folder / f).read_bytes()).hexdigest()
            for f in ["model.safetensors", "tokenizer.json", "chat_template.jinja"]
        }

    assert digest(out) == digest(tiny_model)  # seeded: the same bytes every build
    assert build_tiny_model(out) == out  # cached: returns without rebuilding
    assert json.loads((out / "config.json").read_text())["architectures"] == ["Qwen3ForCausalLM"]
