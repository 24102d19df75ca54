"""What an eval run needs to be reproduced, recorded in its summary.json under `provenance`: the harness commit,
library versions, the model folder's identity (config and chat-template hashes, weight sizes), a hash of each
benchmark's prompt (chat settings + template + chat template), the seeds and how chunks derive theirs."""

from __future__ import annotations

import hashlib
import json
import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

# Distributions whose versions change what a run generates or how it is graded.
LIBRARIES = ("distillery", "torch", "transformers", "vllm", "accelerate", "math-verify", "sympy", "openai",
             "tokenizers", "numpy")
REPO = Path(__file__).resolve().parents[1]
SEED_RULE = "each chunk of problems starting at problem index i samples with seed + 1000 * i"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def library_versions() -> dict[str, str | None]:
    """Installed versions (None: not installed), read from package metadata without importing anything."""
    out: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def harness_commit(repo: Path = REPO) -> dict[str, Any]:
    """The git commit of the harness checkout and whether tracked files were modified; None outside a checkout."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": bool(dirty) if commit else None, "branch": git("rev-parse", "--abbrev-ref",
                                                                                      "HEAD") if commit else None}


def chat_template_text(folder: Path) -> str | None:
    """The chat template a local model folder ships (chat_template.jinja, or tokenizer_config.json's key)."""
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(errors="replace")
    config = folder / "tokenizer_config.json"
    if config.is_file():
        try:
            template = json.loads(config.read_text()).get("chat_template")
        except (json.JSONDecodeError, OSError):
            return None
        return template if isinstance(template, str) else json.dumps(template, sort_keys=True) if template else None
    return None


def model_identity(model: str, backend: str) -> dict[str, Any]:
    """Enough to tell two model folders apart without hashing gigabytes of weights."""
    if backend == "openai":
        return {"source": "OpenAI-compatible server", "name": model}
    folder = Path(model).expanduser()
    if not folder.is_dir():
        return {"source": "hub", "name": model}
    info: dict[str, Any] = {"source": "local folder", "path": str(folder.resolve())}
    config = folder / "config.json"
    if config.is_file():
        raw = config.read_bytes()
        info["config_sha256"] = _sha256(raw)
        try:
            cfg = json.loads(raw)
            info.update({k: cfg.get(k) for k in ("model_type", "architectures") if cfg.get(k) is not None})
            dtype = cfg.get("dtype") or cfg.get("torch_dtype")
            if dtype:
                info["dtype"] = dtype
        except json.JSONDecodeError:
            pass
    weights = sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin", ".gguf", ".pt"))
    info["weight_files"] = len(weights)
    info["weight_bytes"] = sum(p.stat().st_size for p in weights)
    template = chat_template_text(folder)
    info["chat_template_sha256"] = _sha256(template.encode()) if template else None
    return info


def prompt_hashes(settings: dict[str, Any], chat_template: str | None) -> dict[str, str]:
    """sha256 per benchmark over everything that shapes the text sent: chat settings, the benchmark's template and
    the model's chat template. Two runs with equal hashes asked the same questions in the same words."""
    out = {}
    for key, bench in (settings.get("benchmarks") or {}).items():
        blob = json.dumps({"prompt": settings.get("prompt"), "template": bench.get("prompt_template"),
                           "chat_template": chat_template}, sort_keys=True)
        out[key] = _sha256(blob.encode())
    return out


def accelerators() -> list[str]:
    """GPU names when torch is already imported and sees CUDA (never imports torch or starts CUDA itself)."""
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_initialized():
            return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:  # noqa: BLE001 - provenance never fails a run
        return []
    return []


def collect(settings: dict[str, Any]) -> dict[str, Any]:
    """The provenance block of summary.json for a run with these settings (eval.run's `settings` dict)."""
    model, backend = str(settings.get("model")), str(settings.get("backend"))
    identity = model_identity(model, backend)
    override = (settings.get("prompt") or {}).get("chat_template")
    template = override or (chat_template_text(Path(model).expanduser()) if identity["source"] == "local folder"
                            else None)
    return {
        "harness": {"version": library_versions().get("distillery"), **harness_commit()},
        "libraries": library_versions(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "accelerators": accelerators(),
        "model": identity,
        "prompt_sha256": prompt_hashes(settings, template),
        "seeds": {key: (bench.get("sampling") or {}).get("seed")
                  for key, bench in (settings.get("benchmarks") or {}).items()},
        "seed_rule": SEED_RULE,
    }
