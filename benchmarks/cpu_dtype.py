"""fp32 vs bf16 for SmolLM2-135M generation on this CPU: is bf16 native here, and what does `dtype: auto` pick?

    python -m benchmarks.cpu_dtype [--model .cache/models/smollm2-135m-instruct] [--batches 1,8,32] [--new-tokens 48]

HF `generate` (greedy, exactly --new-tokens tokens per row) on a MATH-500 prompt of median length rendered as the
eval renders it, at each batch size in fp32 and bf16. Prints tokens/s, the bf16/fp32 ratio, the CPU model and
its SIMD/bf16 flags, and what eval.generation.cpu.native_dtype() picks.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from eval.generation.cpu import cpu_count, cpu_info, native_dtype

ROOT = Path(__file__).resolve().parents[1]
SHOWN_FLAGS = ("avx2", "avx512f", "avx512bw", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile")


def median_math500_prompt() -> str:
    from eval.benchmarks.registry import MATH_PROMPT

    rows = [json.loads(line) for line in (ROOT / "eval/benchmarks/data/math500.jsonl").open()]
    problem = sorted(rows, key=lambda r: len(r["problem"]))[len(rows) // 2]["problem"]
    return MATH_PROMPT.replace("{question}", problem)


def tokens_per_s(model, enc, new_tokens: int) -> float:
    import torch

    with torch.inference_mode():
        model.generate(**enc, max_new_tokens=4, min_new_tokens=4, do_sample=False)  # warm-up
        t0 = time.perf_counter()
        model.generate(**enc, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)
        return enc["input_ids"].shape[0] * new_tokens / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cache = Path(os.environ.get("DISTILLERY_CACHE", ".cache"))
    ap.add_argument("--model", default=str(cache / "models" / "smollm2-135m-instruct"))
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--new-tokens", type=int, default=48)
    args = ap.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(cpu_count())
    name, flags = cpu_info()
    print(f"CPU: {name}; {cpu_count()} cores; flags: {' '.join(f for f in SHOWN_FLAGS if f in flags) or 'none'}")
    print(f"native_dtype() -> {native_dtype()}  (torch {torch.__version__}, capability "
          f"{torch.backends.cpu.get_cpu_capability()})")
    tok = AutoTokenizer.from_pretrained(args.model)
    tok.padding_side = "left"
    prompt = tok.apply_chat_template([{"role": "user", "content": median_math500_prompt()}], tokenize=False,
                                     add_generation_prompt=True)
    print(f"prompt: {len(tok(prompt)['input_ids'])} tokens; {args.new_tokens} new tokens per row, greedy")
    rates: dict[tuple[str, int], float] = {}
    for dtype in ("float32", "bfloat16"):
        model = AutoModelForCausalLM.from_pretrained(args.model, dtype=getattr(torch, dtype)).eval()
        for bs in (int(b) for b in args.batches.split(",")):
            enc = tok([prompt] * bs, return_tensors="pt", padding=True, add_special_tokens=False)
            rates[dtype, bs] = tokens_per_s(model, enc, args.new_tokens)
            print(f"  {dtype:<9} batch {bs:>3}: {rates[dtype, bs]:7.1f} tokens/s   load {os.getloadavg()[0]:.2f}")
        del model
    for bs in (int(b) for b in args.batches.split(",")):
        ratio = rates["bfloat16", bs] / rates["float32", bs]
        print(f"batch {bs:>3}: fp32 {rates['float32', bs]:7.1f}  bf16 {rates['bfloat16', bs]:7.1f} tokens/s  "
              f"bf16/fp32 = {ratio:.2f}")


if __name__ == "__main__":
    main()
