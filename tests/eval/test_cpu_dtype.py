"""The CPU dtype choice: bf16 only where the CPU multiplies bf16 natively, fp32 elsewhere (issue 12)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from eval.generation.cpu import cpu_info, native_dtype, parse_cpuinfo, resolve_dtype, thread_env

# Flag sets of real CPUs (trimmed /proc/cpuinfo lines).
AVX2_ONLY = "fpu vme sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma avx2 bmi1 bmi2"  # Zen2/Zen3 EPYC, Haswell..Comet Lake
AVX512_NO_BF16 = AVX2_ONLY + " avx512f avx512dq avx512cd avx512bw avx512vl avx512_vnni"  # Skylake-SP, Cascade Lake
ZEN4 = AVX512_NO_BF16 + " avx512_bf16 avx512vbmi avx512_vbmi2 avx512_bitalg"
SAPPHIRE_RAPIDS_AMX_ONLY = AVX2_ONLY + " amx_bf16 amx_tile amx_int8"  # AMX listed without avx512_bf16


def cpuinfo(model: str, flags: str) -> str:
    return f"processor\t: 0\nvendor_id\t: X\nmodel name\t: {model}\nflags\t\t: {flags}\n\nprocessor\t: 1\n"


@pytest.mark.parametrize(("flags", "expected"), [
    (AVX2_ONLY, "float32"),
    (AVX512_NO_BF16, "float32"),  # AVX512BW: torch calls bf16 "supported", but it is emulated
    (ZEN4, "bfloat16"),
    (SAPPHIRE_RAPIDS_AMX_ONLY, "bfloat16"),
    ("", "float32"),  # flags unreadable: the safe choice
])
def test_native_dtype_from_flags(flags: str, expected: str) -> None:
    model, parsed = parse_cpuinfo(cpuinfo("Some CPU", flags))
    assert model == "Some CPU"
    assert native_dtype(parsed) == expected


def test_resolve_dtype_keeps_pinned_and_resolves_auto() -> None:
    avx2 = parse_cpuinfo(cpuinfo("EPYC 7B12", AVX2_ONLY))[1]
    assert resolve_dtype("auto", "cpu", avx2) == "float32"
    assert resolve_dtype(None, "cpu", avx2) == "float32"
    assert resolve_dtype("bfloat16", "cpu", avx2) == "bfloat16"  # a recipe that pins a dtype gets it
    assert resolve_dtype("auto", "cuda:0", avx2) == "bfloat16"
    with pytest.raises(ValueError, match="dtype 'bf16'"):
        resolve_dtype("bf16", "cpu", avx2)


def test_this_cpu_never_gets_an_emulated_dtype() -> None:
    """On the machine running the tests, the choice matches its flags as `lscpu` reports them (a second reader)."""
    name, flags = cpu_info()
    assert flags, "/proc/cpuinfo has no flags line"
    if shutil.which("lscpu"):
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        lscpu_flags = next(line.split(":", 1)[1].split() for line in out.splitlines() if line.startswith("Flags:"))
        assert set(lscpu_flags) == set(flags)
    native = bool({"avx512_bf16", "amx_bf16"} & set(flags))
    assert native_dtype() == ("bfloat16" if native else "float32"), f"{name}: flags {sorted(flags)}"


def test_hf_backend_and_teacher_server_resolve_auto_to_the_native_dtype(tiny_model: Path, tmp_path: Path) -> None:
    import torch

    from data_prep.teacher import TeacherServer
    from eval.generation.base import PromptSettings
    from eval.generation.hf_generate import HFBackend, HFOptions

    backend = HFBackend(str(tiny_model), HFOptions(dtype="auto", device="cpu"), PromptSettings())
    assert backend.model.dtype == getattr(torch, native_dtype())
    pinned = HFBackend(str(tiny_model), HFOptions(dtype="float32", device="cpu"), PromptSettings())
    assert pinned.model.dtype == torch.float32
    # The server's command line carries the resolved dtype (constructing it starts nothing).
    assert TeacherServer(str(tiny_model), tmp_path / "log", dtype="auto").dtype == native_dtype()
    assert TeacherServer(str(tiny_model), tmp_path / "log", dtype="float32").dtype == "float32"


def test_thread_env_sizes_openmp_pools() -> None:
    assert thread_env(3) == {"OMP_NUM_THREADS": "3", "MKL_NUM_THREADS": "3"}
    assert int(thread_env()["OMP_NUM_THREADS"]) >= 1
