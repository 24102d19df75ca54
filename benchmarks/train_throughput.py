"""Training throughput: tokens/s per device and MFU of BFD-packed batches, against a padded baseline in the same process.

    python -m benchmarks.train_throughput                   # GPU: random-init Qwen2.5-1.5B, 8k packed, bf16
    python -m benchmarks.train_throughput --model tiny      # CPU (the default there): tiny architecture, 512 context

Both runs train the same synthetic documents (reasoning-trace-like log-normal lengths) with the same optimizer:
the packed run concatenates them best-fit-decreasing into `--seq-len` rows kept apart by position_ids (TRL's
`pack_dataset` + padding-free collator, what `train.sft` does); the baseline pads a batch of documents to its longest.
FLOPs are counted as train.sft's ThroughputCallback counts them: `document_stats` of every batch (real tokens and
Σ l² over its documents) times the model's `TrainingFlops` coefficients, so only real tokens count and attention is
charged at each document's own length. Prints per-mode tokens/s/device, TFLOP/s, MFU (against the bf16 datasheet
peak on a GPU; on a CPU against a measured fp32 matmul rate) and the packed/padded ratio, plus the MFU the old
formula (attention charged at --seq-len for every token) would have reported for the packed run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import time

import torch
from datasets import Dataset
from transformers import AutoConfig, AutoModelForCausalLM
from trl.data_utils import pack_dataset
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

from train.throughput import TrainingFlops, cpu_peak_tflops, device_peak_tflops, document_stats

ARCHS = {
    # Qwen2.5-1.5B's published config.json, random-initialised (no download)
    "qwen2.5-1.5b": dict(
        hidden_size=1536,
        intermediate_size=8960,
        num_hidden_layers=28,
        num_attention_heads=12,
        num_key_value_heads=2,
        vocab_size=151936,
        tie_word_embeddings=True,
        rope_theta=1e6,
        max_position_embeddings=32768,
    ),
    "tiny": dict(
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        vocab_size=1024,
        tie_word_embeddings=True,
        max_position_embeddings=4096,
    ),
}


def documents(n: int, seq_len: int, vocab: int, seed: int) -> list[list[int]]:
    """Random token documents with log-normal lengths (median seq_len/6, long tail, clipped to [32, seq_len])."""
    rng = random.Random(seed)
    lengths = [min(seq_len, max(32, int(rng.lognormvariate(math.log(seq_len / 6), 0.8)))) for _ in range(n)]
    return [[rng.randrange(5, vocab) for _ in range(n_tok)] for n_tok in lengths]


def packed_batches(docs: list[list[int]], seq_len: int, pad_id: int) -> list[dict]:
    ds = Dataset.from_dict({"input_ids": docs, "labels": docs})
    packed = pack_dataset(ds, seq_len, "bfd", {})
    collate = DataCollatorForLanguageModeling(pad_token_id=pad_id, padding_free=True)
    return [collate([row]) for row in packed]


def padded_batches(docs: list[list[int]], seq_len: int, pad_id: int) -> list[dict]:
    """Documents in order, as many per batch as fit when padded to the longest in `seq_len` token slots — the same
    memory per step as one packed row (a fixed count per batch would pad a long document's batch far beyond it)."""
    collate = DataCollatorForLanguageModeling(pad_token_id=pad_id)
    batches, current = [], []
    for d in docs:
        if current and (len(current) + 1) * max(len(d), *map(len, current)) > seq_len:
            batches.append(collate([{"input_ids": x, "labels": x} for x in current]))
            current = []
        current.append(d)
    if current:
        batches.append(collate([{"input_ids": x, "labels": x} for x in current]))
    return batches


class Timer:
    """Accumulates real tokens, Σ l² over documents, and seconds of one mode over several rounds."""

    def __init__(self, batches: list[dict]):
        self.batches, self.next, self.tokens, self.sum_sq, self.seconds = batches, 0, 0, 0, 0.0


def run(model, opt, timer: Timer, steps: int, device: torch.device, timed: bool = True) -> None:
    """Train `steps` optimizer steps on the timer's next batches, adding real tokens and time when `timed`."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0, tokens, sum_sq = time.perf_counter(), 0, 0
    for _ in range(steps):
        batch = timer.batches[timer.next % len(timer.batches)]
        timer.next += 1
        inputs = {
            k: batch[k].to(device) for k in ("input_ids", "attention_mask", "position_ids", "labels") if k in batch
        }
        model(**inputs, use_cache=False).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        t, sq = document_stats(batch["input_ids"], batch.get("position_ids"), batch.get("attention_mask"), 0)
        tokens, sum_sq = tokens + int(t), sum_sq + int(sq)
    if device.type == "cuda":
        torch.cuda.synchronize()
    if timed:
        timer.tokens += tokens
        timer.sum_sq += sum_sq
        timer.seconds += time.perf_counter() - t0


def main() -> None:
    cuda = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(ARCHS), default="qwen2.5-1.5b" if cuda else "tiny")
    parser.add_argument("--seq-len", type=int, default=8192 if cuda else 512)
    parser.add_argument("--steps", type=int, default=12 if cuda else 40, help="timed steps per mode")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=4, help="alternations of the two modes")
    parser.add_argument("--docs", type=int, default=400)
    parser.add_argument("--peak-tflops", type=float, default=None, help="per-device peak when not recognised")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    device = torch.device("cuda" if cuda else "cpu")
    dtype = torch.bfloat16 if cuda else torch.float32
    attn = "sdpa"
    if cuda:
        try:
            import flash_attn  # noqa: F401

            attn = "flash_attention_2"
        except ImportError:
            pass
    config = AutoConfig.for_model("qwen2", **ARCHS[args.model])
    torch.manual_seed(args.seed)
    model = AutoModelForCausalLM.from_config(config, dtype=dtype, attn_implementation=attn).to(device).train()
    docs = documents(args.docs, args.seq_len, config.vocab_size, args.seed)
    mean_len = sum(map(len, docs)) / len(docs)
    packed = packed_batches(docs, args.seq_len, pad_id=0)
    padded = padded_batches(docs, args.seq_len, pad_id=0)
    flops = TrainingFlops(model)
    peak = args.peak_tflops or device_peak_tflops() or (None if cuda else cpu_peak_tflops())
    peak_source = "given" if args.peak_tflops else "bf16 datasheet" if cuda else "measured fp32 matmul"
    name = torch.cuda.get_device_name() if cuda else "cpu"
    print(
        f"model {args.model} ({sum(p.numel() for p in model.parameters()) / 1e6:,.1f}M params, {attn}, {dtype}), "
        f"device {name}, context {args.seq_len}, {len(docs)} docs of mean {mean_len:,.0f} tokens, "
        f"peak {f'{peak:,.3f}' if peak else 'unknown'} TFLOP/s ({peak_source}); load average {os.getloadavg()[0]:.2f}\n"
        f"{flops.formula()}"
    )

    # Rounds alternate the two modes so that a busy machine slows both alike.
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=cuda)
    timers = {"padded": Timer(padded), "packed": Timer(packed)}
    for t in timers.values():
        run(model, opt, t, args.warmup, device, timed=False)
    per_round = max(1, args.steps // args.rounds)
    for _ in range(args.rounds):
        for t in timers.values():
            run(model, opt, t, per_round, device)
    results = {}
    for mode, t in timers.items():
        tps = t.tokens / t.seconds
        tflops = flops.flops(t.tokens, t.sum_sq) / t.seconds / 1e12
        results[mode] = {
            "tokens_per_s_per_device": tps,
            "tflops_per_device": tflops,
            "mfu": tflops / peak if peak else None,
            "seconds": t.seconds,
            "tokens": t.tokens,
        }
        mfu = f", MFU {tflops / peak:.1%}" if peak else ""
        shape = (
            f"1×≤{args.seq_len} packed"
            if mode == "packed"
            else f"{len(docs) / len(padded):.1f} docs per batch padded to the longest, ≤{args.seq_len} slots"
        )
        print(
            f"{mode:>7}: {tps:12,.0f} tokens/s/device  {tflops:8.3f} TFLOP/s{mfu}  ({shape}, "
            f"{per_round * args.rounds} steps, {t.seconds:.1f} s)"
        )
    ratio = results["packed"]["tokens_per_s_per_device"] / results["padded"]["tokens_per_s_per_device"]
    print(f"packed / padded throughput: {ratio:.2f}×")
    packed = timers["packed"]
    old = packed.tokens * flops.per_token_at(args.seq_len) / packed.seconds / 1e12
    results["packed"]["tflops_if_attention_at_seq_len"] = old
    if peak:
        print(
            f"packed MFU {results['packed']['mfu']:.1%} from the documents' own lengths; charging every token "
            f"attention over all {args.seq_len} positions (the old formula) would report {old / peak:.1%}"
        )
    print(json.dumps({"model": args.model, "device": name, "seq_len": args.seq_len, **results, "ratio": ratio}))


if __name__ == "__main__":
    main()
