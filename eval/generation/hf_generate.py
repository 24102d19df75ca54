"""`hf` backend: transformers `generate`, batched with left padding, stopping at eos or end of turn."""

from __future__ import annotations

import os
from dataclasses import dataclass

from eval.generation.base import (
    Backend,
    Chat,
    Completion,
    PromptSettings,
    SamplingParams,
    load_template_override,
    render_prompt,
)
from eval.generation.cpu import cpu_count, resolve_dtype

# Ends of an assistant turn across the chat formats we meet (ChatML, Llama 3, DeepSeek, Gemma); only the ones
# the tokenizer really has are used.
END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<｜end▁of▁sentence｜>", "<end_of_turn>",
                      "<|endoftext|>")


@dataclass
class HFOptions:
    """transformers settings: sequences per `generate` call, weights dtype, device."""

    batch_size: int = 16
    dtype: str = "auto"  # auto (GPU: bfloat16; CPU: bfloat16 only if native, else float32) | float32 | bfloat16 | float16
    device: str = "auto"  # auto | cpu | cuda
    attn_implementation: str = "sdpa"


class HFBackend(Backend):
    """Local transformers model; good for CPU smoke runs and small models."""

    name = "hf"

    def __init__(self, model: str, options: HFOptions, prompt: PromptSettings) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.options, self.prompt = options, prompt
        self.device = options.device if options.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        # auto: bf16 on a GPU; on a CPU bf16 only where it is native (AVX512_BF16 / AMX), else fp32 (eval.generation.cpu)
        dtype = resolve_dtype(options.dtype, self.device)
        self.dtype = dtype
        if self.device == "cpu" and "OMP_NUM_THREADS" not in os.environ:
            torch.set_num_threads(cpu_count())  # generation is the only work in this process: use every core
        self.tokenizer = AutoTokenizer.from_pretrained(model)
        self.tokenizer.padding_side = "left"  # generation continues from the right end of every row
        load_template_override(self.tokenizer, prompt)
        self.model = AutoModelForCausalLM.from_pretrained(
            model, dtype=getattr(torch, dtype), attn_implementation=options.attn_implementation
        ).to(self.device)
        self.model.eval()
        self.stop_ids = self._stop_ids()
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else self.stop_ids[0]

    def _stop_ids(self) -> list[int]:
        ids: list[int] = []
        gen_eos = self.model.generation_config.eos_token_id
        ids += gen_eos if isinstance(gen_eos, list) else ([gen_eos] if gen_eos is not None else [])
        if self.tokenizer.eos_token_id is not None:
            ids.append(self.tokenizer.eos_token_id)
        vocab = self.tokenizer.get_vocab()
        ids += [vocab[t] for t in END_OF_TURN_TOKENS if t in vocab]
        if not ids:
            raise ValueError("model has no eos / end-of-turn token; generation would never stop")
        return list(dict.fromkeys(ids))

    def complete(self, chats: list[Chat], n: int, params: SamplingParams) -> list[list[Completion]]:
        import torch

        rendered = [render_prompt(self.tokenizer, chat, self.prompt) for chat in chats]
        # Every sample is its own row; rows sorted by prompt length waste less padding.
        jobs = sorted(((i, j) for i in range(len(chats)) for j in range(n)), key=lambda ij: -len(rendered[ij[0]][0]))
        out: list[list[Completion | None]] = [[None] * n for _ in chats]
        bs = max(1, self.options.batch_size)
        for b in range(0, len(jobs), bs):
            batch = jobs[b:b + bs]
            enc = self.tokenizer([rendered[i][0] for i, _ in batch], return_tensors="pt", padding=True,
                                 add_special_tokens=False).to(self.device)
            torch.manual_seed(params.seed + b)
            sample = params.temperature > 0
            with torch.inference_mode():
                gen = self.model.generate(
                    **enc,
                    do_sample=sample,
                    temperature=params.temperature if sample else None,
                    top_p=params.top_p if sample else None,
                    top_k=None,
                    max_new_tokens=params.max_new_tokens,
                    eos_token_id=self.stop_ids,
                    pad_token_id=self.pad_id,
                )
            new = gen[:, enc["input_ids"].shape[1]:].tolist()
            for (i, j), tokens in zip(batch, new, strict=True):
                stop = next((k for k, t in enumerate(tokens) if t in self.stop_ids), None)
                kept = tokens if stop is None else tokens[:stop]
                text = self.tokenizer.decode(kept, skip_special_tokens=True)
                out[i][j] = Completion(
                    text=rendered[i][1] + text,
                    n_tokens=len(kept) + (0 if stop is None else 1),
                    finish_reason="length" if stop is None else "stop",
                )
        return out  # type: ignore[return-value]

    def close(self) -> None:
        del self.model
