"""Throughput: tokens/s per device, FLOPs per token and MFU, printed at start-up and logged with the loss."""

from __future__ import annotations

import time

from transformers import TrainerCallback

# Dense bf16 peak per device in TFLOP/s (vendor datasheets, without sparsity). MFU is reported against these.
PEAK_BF16_TFLOPS = {
    "GB200": 2500.0,
    "B200": 2250.0,
    "H200": 989.0,
    "H100": 989.0,
    "H800": 989.0,
    "GH200": 989.0,
    "MI300X": 1307.0,
    "A100": 312.0,
    "A800": 312.0,
    "L40S": 362.0,
    "A10G": 125.0,
    "L4": 121.0,
}


def device_peak_tflops() -> float | None:
    """bf16 peak of the current CUDA device, or None when unknown (CPU, unlisted GPU)."""
    import torch

    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name().upper()
    for key in sorted(PEAK_BF16_TFLOPS, key=len, reverse=True):  # "GH200" before "H200"
        if key in name:
            return PEAK_BF16_TFLOPS[key]
    return None


def _numel(p) -> int:
    return int(getattr(p, "ds_numel", 0) or p.numel())  # ZeRO-3 partitions parameters to empty tensors


def matmul_params(model) -> int:
    """Parameters that take part in matrix multiplies (every nn.Linear, the LM head included; embeddings excluded)."""
    import torch

    return sum(_numel(m.weight) for m in model.modules() if isinstance(m, torch.nn.Linear))


def flops_per_token(model, seq_len: int) -> float:
    """Training FLOPs per token: 6·N for the matmuls plus 6·L·s·d_attn for causal attention (fwd + bwd)."""
    cfg = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    attn_dim = cfg.num_attention_heads * head_dim
    return 6.0 * matmul_params(model) + 6.0 * cfg.num_hidden_layers * seq_len * attn_dim


class ThroughputCallback(TrainerCallback):
    """Prints the run's arithmetic at start-up; adds tokens/s/device, TFLOP/s/device and MFU to every loss log."""

    def __init__(
        self, seq_len: int, packing: bool, peak_tflops: float | None = None, dataset_summary: dict | None = None
    ):
        self.seq_len = seq_len
        self.packing = packing
        self.peak = peak_tflops if peak_tflops is not None else device_peak_tflops()
        self.dataset_summary = dataset_summary or {}
        self.fpt = 0.0
        self._last_t = 0.0
        self._last_tokens: float | None = None
        self._start_t = 0.0
        self._start_tokens: float | None = None
        self.figures: dict[str, float] = {}
        self.sp_size = 1  # Ulysses sequence parallelism: sp_size GPUs share one sequence

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        world = args.world_size
        global_seqs = args.per_device_train_batch_size * args.gradient_accumulation_steps * (world // self.sp_size)
        self.fpt = flops_per_token(model, self.seq_len) if model is not None else 0.0
        self._last_t = self._start_t = time.perf_counter()
        if state.is_world_process_zero:
            tok = (
                f"{global_seqs * self.seq_len:,} tokens" if self.packing else f"≤ {global_seqs * self.seq_len:,} tokens"
            )
            lines = [
                f"devices: {world} × {args.device.type} (sequence parallel {self.sp_size}); per-device batch "
                f"{args.per_device_train_batch_size}, gradient accumulation {args.gradient_accumulation_steps}",
                f"global batch: {global_seqs} sequences of {'packed ' if self.packing else ''}≤{self.seq_len} tokens "
                f"= {tok} per optimizer step; {state.max_steps} steps",
                f"model: {matmul_params(model) / 1e6:,.1f}M matmul parameters, {self.fpt / 1e9:,.3f} GFLOP per token "
                f"(6N + 6·L·s·d at s={self.seq_len})"
                if model is not None
                else "model: unknown",
                f"peak: {self.peak:,.0f} TFLOP/s per device (bf16)"
                if self.peak
                else "peak: unknown for this device (MFU not reported; set peak_tflops)",
            ]
            if self.dataset_summary:
                s = self.dataset_summary
                lines.append(
                    f"data: {s.get('examples', 0):,} examples, {s.get('tokens', 0):,} tokens "
                    f"({s.get('trained_tokens', 0):,} trained), dropped {s.get('dropped_overlong', 0)} over max_length"
                )
            print("\n".join(["[distillery] " + x for x in lines]), flush=True)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "num_tokens" not in logs or "loss" not in logs:
            return
        now, tokens = time.perf_counter(), float(logs["num_tokens"])
        if self._last_tokens is None:  # first window: from train start; num_tokens counted from this session
            self._last_tokens = self._start_tokens = 0.0 if tokens >= 0 else tokens
        dt, dtok = now - self._last_t, tokens - self._last_tokens
        self._last_t, self._last_tokens = now, tokens
        if dt <= 0 or dtok <= 0:
            return
        tps = dtok / dt / args.world_size
        figures = {"tokens_per_second_per_device": tps, "tflops_per_device": tps * self.fpt / 1e12}
        if self.peak:
            figures["mfu"] = figures["tflops_per_device"] / self.peak
        logs.update(figures)
        if state.log_history:
            state.log_history[-1].update(figures)
        self.figures = figures

    def on_train_end(self, args, state, control, **kwargs):
        if self._last_tokens and state.is_world_process_zero:
            dt = time.perf_counter() - self._start_t
            tps = self._last_tokens / dt / args.world_size
            mfu = f", MFU {tps * self.fpt / 1e12 / self.peak:.1%}" if self.peak else ""
            print(
                f"[distillery] trained {self._last_tokens:,.0f} tokens in {dt:,.1f} s: {tps:,.0f} tokens/s per "
                f"device, {tps * self.fpt / 1e12:,.3f} TFLOP/s per device{mfu}",
                flush=True,
            )
