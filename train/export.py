"""Make the final output folder loadable by plain `from_pretrained` and stop generation at the end-of-turn token."""

from __future__ import annotations

import json
from pathlib import Path


def merge_lora(base_model: str, adapter_dir: Path, out_dir: Path, dtype: str | None = None) -> None:
    """Load the base model fresh, apply the trained adapter, merge it and save a full model to `out_dir`.

    Re-loading the base (rather than merging the live, possibly ZeRO-3-partitioned, model) works the same for every
    distributed set-up, at the cost of one extra load on the main process.
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    torch_dtype = getattr(torch, dtype) if dtype and dtype != "auto" else "auto"
    base = AutoModelForCausalLM.from_pretrained(base_model, dtype=torch_dtype)
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    merged.save_pretrained(out_dir)


def set_end_of_turn(out_dir: Path, tokenizer, end_of_turn: str) -> int:
    """Write tokenizer, config and generation_config so generation stops at `end_of_turn`; returns its id."""
    from transformers import AutoConfig, GenerationConfig

    eot_id = tokenizer.convert_tokens_to_ids(end_of_turn)
    if eot_id is None or eot_id == tokenizer.unk_token_id:
        raise ValueError(f"end-of-turn token {end_of_turn!r} is not in the tokenizer's vocabulary")
    tokenizer.eos_token = end_of_turn
    tokenizer.save_pretrained(out_dir)

    config = AutoConfig.from_pretrained(out_dir)
    config.eos_token_id = eot_id
    if tokenizer.pad_token_id is not None:
        config.pad_token_id = tokenizer.pad_token_id
    config.save_pretrained(out_dir)

    try:
        gen = GenerationConfig.from_pretrained(out_dir)
    except OSError:
        gen = GenerationConfig()
    old = gen.eos_token_id if isinstance(gen.eos_token_id, list) else [gen.eos_token_id]
    # The end-of-turn token first; other stop ids (e.g. Qwen's <|endoftext|>) still stop generation.
    ids = [eot_id] + [i for i in old if i is not None and i != eot_id]
    gen.eos_token_id = ids[0] if len(ids) == 1 else ids
    gen.pad_token_id = tokenizer.pad_token_id
    gen.save_pretrained(out_dir)
    return eot_id


def write_run_summary(out_dir: Path, summary: dict) -> None:
    """distillery_train.json: what was trained on, how, and how fast (read by reports)."""
    (Path(out_dir) / "distillery_train.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
