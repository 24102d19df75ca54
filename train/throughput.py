"""Throughput and MFU counted from the real documents of every batch.

With padding-free packing a row of max_length tokens holds many documents, each attending only to itself, so the
attention cost depends on each document's own length, not on max_length. Training FLOPs of a batch:

    Σ over documents of  (6·N·l + 6·L·d·l²)        (4·N + 2·N_trainable instead of 6·N when weights are frozen)

N = parameters inside matrix multiplies (every nn.Linear, LM head included, embeddings excluded), L = layers,
d = query heads × head dim, l = the document's length. 6·L·d·l² is causal attention (QKᵀ and AV, forward and
backward, half of the l×l score matrix) — the convention of FlashAttention's and PaLM's MFU. Per token at position p
of its document that is 6·L·d·(2p+1), which sums to 6·L·d·l² over a document and needs no sequence boundaries: the
counter adds Σ(2p+1) over the batch's position ids (which restart at every document), on the device and without a
host sync. Shards of a sequence (Ulysses) therefore add up exactly. Padding is not counted; activation
recomputation is not counted (this is MFU, not hardware FLOPs utilisation).
"""

from __future__ import annotations

import time

import torch
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
    """bf16 datasheet peak of the current CUDA device, or None when unknown (CPU, unlisted GPU)."""
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name().upper()
    for key in sorted(PEAK_BF16_TFLOPS, key=len, reverse=True):  # "GH200" before "H200"
        if key in name:
            return PEAK_BF16_TFLOPS[key]
    return None


def cpu_peak_tflops(size: int = 1024, repeats: int = 5) -> float:
    """Measured fp32 matmul rate of this process's CPU threads, in TFLOP/s.

    CPUs have no datasheet peak that torch reaches (it depends on the vector units, clocks and threads), so the
    best of `repeats` dense size×size matmuls stands in for it: CPU MFU then reads as a share of the best GEMM rate.
    """
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)  # warm-up: thread pool and caches
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * size**3 / best / 1e12


def _linear_params(module: torch.nn.Linear) -> int:
    # in×out, not weight.numel(): ZeRO-3 leaves partitioned weights empty and 4-bit weights are packed.
    return int(module.in_features) * int(module.out_features)


def _trainable(module: torch.nn.Linear) -> bool:
    w = module.weight
    return bool(getattr(w, "requires_grad", False)) and not getattr(w, "quant_state", None)


class TrainingFlops:
    """The model's FLOP coefficients: per token (matmuls) and per squared document length (causal attention)."""

    def __init__(self, model: torch.nn.Module):
        cfg = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
        linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
        self.matmul_params = sum(_linear_params(m) for m in linears)
        self.trainable_matmul_params = sum(_linear_params(m) for m in linears if _trainable(m))
        head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        self.layers = int(cfg.num_hidden_layers)
        self.attn_dim = int(cfg.num_attention_heads * head_dim)
        # forward 2N, input gradients 2N, weight gradients 2N of the weights that train
        self.per_token = 4.0 * self.matmul_params + 2.0 * self.trainable_matmul_params
        self.per_square = 6.0 * self.layers * self.attn_dim

    def flops(self, tokens: float, sum_sq: float) -> float:
        """Training FLOPs of `tokens` tokens whose documents' squared lengths sum to `sum_sq`."""
        return self.per_token * tokens + self.per_square * sum_sq

    def per_token_at(self, length: int) -> float:
        """FLOPs per token when every document is `length` tokens long."""
        return self.per_token + self.per_square * length

    def formula(self) -> str:
        """The start-up line's statement of what is counted."""
        frozen = self.matmul_params - self.trainable_matmul_params
        n = (
            f"6·N, N = {self.matmul_params / 1e6:,.1f}M matmul parameters"
            if not frozen
            else f"4·N + 2·N_trainable, N = {self.matmul_params / 1e6:,.1f}M, N_trainable = "
            f"{self.trainable_matmul_params / 1e6:,.2f}M"
        )
        return (
            f"FLOPs per batch = Σ over its documents of ({self.per_token / 1e9:,.4f} GFLOP·l + "
            f"{self.per_square:,.0f} FLOP·l²) [{n}; 6·L·d·l² causal attention, L = {self.layers}, d = "
            f"{self.attn_dim}], l = each document's real length from the position ids"
        )


def document_stats(
    input_ids: torch.Tensor | None = None,
    position_ids: torch.Tensor | None = None,
    attention_mask: torch.Tensor | None = None,
    pad_token_id: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(real tokens, Σ over documents of length²) of one batch, as int64 tensors on the batch's device.

    Packed rows: position ids restart at 0 for each document, and Σ(2p+1) over a document is l². A padding-free
    row's tail padding (pad token at position 0) is not counted. Padded rows without position ids: one document per
    row, its length the attention mask's sum. Nothing is copied to the host, so counting adds no synchronisation.
    """
    ref = input_ids if input_ids is not None else position_ids if position_ids is not None else attention_mask
    if ref is None:
        raise ValueError("document_stats needs input_ids, position_ids or attention_mask")
    real = torch.ones_like(ref, dtype=torch.bool)
    if attention_mask is not None:
        real = attention_mask.bool()
    elif position_ids is not None and input_ids is not None and pad_token_id is not None:
        real = ~((input_ids == pad_token_id) & (position_ids == 0))
    tokens = real.sum(dtype=torch.int64)
    if position_ids is not None:
        p = position_ids.to(torch.int64)
        return tokens, ((2 * p + 1) * real).sum(dtype=torch.int64)
    lengths = real.sum(dim=-1, dtype=torch.int64)
    return tokens, (lengths * lengths).sum()


class ThroughputCallback(TrainerCallback):
    """Prints the run's arithmetic at start-up; adds tokens/s/device, TFLOP/s/device and MFU to every loss log.

    A forward pre-hook on the model adds each training batch's document statistics to device counters; at every
    log the counters are summed over ranks (one small all-reduce, at a step where every rank logs anyway).
    """

    def __init__(
        self,
        seq_len: int,
        packing: bool,
        peak_tflops: float | None = None,
        dataset_summary: dict | None = None,
        pad_token_id: int | None = None,
    ):
        self.seq_len = seq_len
        self.packing = packing
        self.peak = peak_tflops if peak_tflops is not None else device_peak_tflops()
        self.peak_source = "set by peak_tflops" if peak_tflops is not None else "bf16 datasheet"
        self.dataset_summary = dataset_summary or {}
        self.pad_token_id = pad_token_id
        self.flop_model: TrainingFlops | None = None
        self.sp_size = 1  # Ulysses sequence parallelism: sp_size GPUs share one sequence
        self.figures: dict[str, float] = {}
        self._counts: torch.Tensor | None = None  # [tokens, Σ l²] since the start, on the device
        self._logged = (0.0, 0.0)  # totals (over ranks) at the previous log
        self._t_start = self._t_last = 0.0
        self._hook = None

    def _count(self, module, args, kwargs) -> None:
        if not module.training or not torch.is_grad_enabled():
            return
        input_ids = kwargs.get("input_ids", args[0] if args else None)
        if input_ids is None and kwargs.get("position_ids") is None:
            return
        tokens, sum_sq = document_stats(
            input_ids, kwargs.get("position_ids"), kwargs.get("attention_mask"), self.pad_token_id
        )
        batch = torch.stack([tokens, sum_sq])
        self._counts = batch if self._counts is None else self._counts + batch

    def _totals(self, args) -> tuple[float, float]:
        """Tokens and Σ l² counted so far on all ranks together (a collective: every rank must call it)."""
        counts = self._counts if self._counts is not None else torch.zeros(2, dtype=torch.int64, device=args.device)
        counts = counts.to(args.device)
        if torch.distributed.is_available() and torch.distributed.is_initialized() and args.world_size > 1:
            counts = counts.clone()
            torch.distributed.all_reduce(counts)
        tokens, sum_sq = counts.tolist()
        return float(tokens), float(sum_sq)

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if model is not None:
            self.flop_model = TrainingFlops(model)
            self._hook = model.register_forward_pre_hook(self._count, with_kwargs=True)
        if self.peak is None and args.device.type == "cpu":
            self.peak = cpu_peak_tflops()
            self.peak_source = f"cpu: measured fp32 matmul, {torch.get_num_threads()} threads; no datasheet peak"
        self._t_start = self._t_last = time.perf_counter()
        if not state.is_world_process_zero:
            return
        world = args.world_size
        global_seqs = args.per_device_train_batch_size * args.gradient_accumulation_steps * (world // self.sp_size)
        tok = f"{'≤ ' if not self.packing else 'up to '}{global_seqs * self.seq_len:,} tokens"
        lines = [
            f"devices: {world} × {args.device.type} (sequence parallel {self.sp_size}); per-device batch "
            f"{args.per_device_train_batch_size}, gradient accumulation {args.gradient_accumulation_steps}",
            f"global batch: {global_seqs} sequences of {'packed ' if self.packing else ''}≤{self.seq_len} tokens "
            f"= {tok} per optimizer step; {state.max_steps} steps",
        ]
        if self.flop_model is not None:
            fm = self.flop_model
            mean = self.dataset_summary.get("mean_tokens")
            at_mean = f", {fm.per_token_at(int(mean)) / 1e9:,.4f} at the corpus mean l = {mean:,.0f}" if mean else ""
            lines += [
                f"flops: {fm.formula()}",
                f"flops: per token {fm.per_token_at(self.seq_len) / 1e9:,.4f} GFLOP if every document were "
                f"max_length = {self.seq_len} long{at_mean}",
            ]
        lines.append(
            f"peak: {self.peak:,.3f} TFLOP/s per device ({self.peak_source})"
            if self.peak
            else "peak: unknown for this device (MFU not reported; set peak_tflops)"
        )
        if self.dataset_summary:
            s = self.dataset_summary
            lines.append(
                f"data: {s.get('examples', 0):,} examples, {s.get('tokens', 0):,} tokens "
                f"({s.get('trained_tokens', 0):,} trained), dropped {s.get('dropped_overlong', 0)} over max_length"
            )
        print("\n".join(["[distillery] " + x for x in lines]), flush=True)

    def _rates(self, args, tokens: float, sum_sq: float, seconds: float) -> dict[str, float]:
        tps = tokens / seconds / args.world_size
        tflops = self.flop_model.flops(tokens, sum_sq) / seconds / args.world_size / 1e12
        figures = {"tokens_per_second_per_device": tps, "tflops_per_device": tflops}
        if self.peak:
            figures["mfu"] = tflops / self.peak
        return figures

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "loss" not in logs or self.flop_model is None:
            return
        tokens, sum_sq = self._totals(args)  # every rank logs the loss at the same step, so all reach this
        now = time.perf_counter()
        dt, dtok, dsq = now - self._t_last, tokens - self._logged[0], sum_sq - self._logged[1]
        self._t_last, self._logged = now, (tokens, sum_sq)
        if dt <= 0 or dtok <= 0:
            return
        figures = self._rates(args, dtok, dsq, dt)
        logs.update(figures)
        if state.log_history:
            state.log_history[-1].update(figures)
        self.figures = figures

    def on_train_end(self, args, state, control, **kwargs):
        if self._hook is not None:
            self._hook.remove()
        if self.flop_model is None:
            return
        tokens, sum_sq = self._totals(args)
        dt = time.perf_counter() - self._t_start
        if tokens <= 0 or dt <= 0:
            return
        overall = self._rates(args, tokens, sum_sq, dt)
        self.figures = {**self.figures, **{f"overall_{k}": v for k, v in overall.items()}, "tokens": tokens}
        if state.is_world_process_zero:
            mfu = f", MFU {overall['mfu']:.2%}" if "mfu" in overall else ""
            attn = self.flop_model.per_square * sum_sq / self.flop_model.flops(tokens, sum_sq)
            print(
                f"[distillery] trained {tokens:,.0f} tokens in {dt:,.1f} s: "
                f"{overall['tokens_per_second_per_device']:,.0f} tokens/s per device, "
                f"{overall['tflops_per_device']:,.4f} TFLOP/s per device{mfu} (attention {attn:.1%} of the FLOPs, "
                f"from the real document lengths)",
                flush=True,
            )
