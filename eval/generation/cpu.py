"""What the CPU does natively: the weights dtype for generation on CPU, and the threads a process should use.

bfloat16 halves memory traffic, but it is only fast where the CPU multiplies bf16 natively (AVX512_BF16 on Zen4 /
Cooper Lake and later, AMX on Sapphire Rapids and later). Elsewhere (AVX2-only CPUs) PyTorch emulates bf16 by
converting to fp32 and back, and SmolLM2 with HF generate was 3.4× slower in bf16 than in fp32 (issue 12:
9.4 / 35.8 / 71.3 tokens/s fp32 vs 11.7 / 19.6 / 20.9 bf16 at batch 1 / 8 / 32 on an AVX2-only EPYC).

`torch.ops.mkldnn._is_mkldnn_bf16_supported()` is no guide: it is true on any AVX512BW CPU, where bf16 matmuls
are still emulated. So the choice reads the CPU's feature flags (`/proc/cpuinfo`).

Imported by eval (HF generation) and data_prep (the teacher server's `--dtype`); train reads no CPU flags
(it trains in fp32 on CPU, the only precision DeepSpeed supports there).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

# Flags under which bf16 matrix multiplies run in hardware (Linux /proc/cpuinfo names).
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
DTYPES = ("float32", "bfloat16", "float16")


def parse_cpuinfo(text: str) -> tuple[str, frozenset[str]]:
    """(model name, feature flags) of the first processor in a /proc/cpuinfo text; ("unknown", {}) if absent."""
    model, flags = "unknown", frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model == "unknown":
            model = value.strip()
        elif key in ("flags", "Features") and not flags:  # x86 "flags", ARM "Features"
            flags = frozenset(value.split())
        if model != "unknown" and flags:
            break
    return model, flags


@lru_cache(maxsize=1)
def cpu_info(path: str = "/proc/cpuinfo") -> tuple[str, frozenset[str]]:
    """This machine's CPU model name and flags (empty flags where /proc/cpuinfo cannot be read, e.g. macOS)."""
    try:
        return parse_cpuinfo(Path(path).read_text(errors="replace"))
    except OSError:
        return "unknown", frozenset()


def native_dtype(flags: frozenset[str] | set[str] | None = None) -> str:
    """The fastest weights dtype this CPU runs natively: "bfloat16" with AVX512_BF16 or AMX-BF16, else "float32"."""
    flags = cpu_info()[1] if flags is None else flags
    return "bfloat16" if NATIVE_BF16_FLAGS & set(flags) else "float32"


def resolve_dtype(dtype: str | None, device: str = "cpu", flags: frozenset[str] | set[str] | None = None) -> str:
    """A recipe's dtype made concrete: a pinned dtype is kept; "auto"/None is bf16 on a GPU and the CPU's native
    dtype on a CPU."""
    if dtype in (None, "auto"):
        return "bfloat16" if device.startswith("cuda") else native_dtype(flags)
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r}: expected auto, {', '.join(DTYPES)}")
    return dtype


def cpu_count() -> int:
    """CPUs this process may run on (the affinity mask, which containers and taskset narrow), not the host's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def thread_env(threads: int | None = None) -> dict[str, str]:
    """Environment for a child that should use `threads` cores (default all): OpenMP/MKL pools sized to match."""
    n = str(threads or cpu_count())
    return {"OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n}
