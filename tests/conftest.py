"""Shared test set-up: offline hubs, caches inside the repo, and the tiny model built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CACHE = Path(os.environ.get("DISTILLERY_CACHE", REPO / ".cache"))

# Hubs are unreachable here; fail fast instead of retrying, and keep library caches out of ~/.cache.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HOME", str(CACHE / "hf_home"))
os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(CACHE / "torch_extensions"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("DISTILLERY_CACHE", str(CACHE))


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.exists():
        pytest.fail(f"../shared not found beside the repo at {SHARED}; tests read real data from it")
    return SHARED


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    """Path to the tiny Qwen3-architecture model + tokenizer (built offline, cached)."""
    from train.tiny import build_tiny_model

    return build_tiny_model(CACHE / "models" / "tiny-qwen3")
