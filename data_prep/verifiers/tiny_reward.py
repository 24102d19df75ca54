"""A tiny sequence-classification reward model built offline (random weights, the tiny Qwen3's tokenizer) for
tests and the benchmark: it exercises loading, batching, padding and thresholds, not judgement.

python -m data_prep.verifiers.tiny_reward --out DIR
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from train.build_once import build_once

COMPLETE_MARKER = ".tiny_rm_complete"
SEED = 0


def _write(folder: Path, tokenizer_dir: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    config = AutoConfig.for_model(
        "qwen3", vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, head_dim=32, max_position_embeddings=4096,
        num_labels=1, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=None,
    )
    torch.manual_seed(SEED)
    model = AutoModelForSequenceClassification.from_config(config, dtype=torch.float32)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    (folder / COMPLETE_MARKER).write_text("ok\n")


def build_tiny_reward_model(out_dir: Path, cache: Path | None = None) -> Path:
    """Build (or reuse) the tiny reward model at `out_dir`; atomic, safe when processes race."""
    from train.tiny import build_tiny_model

    cache = cache or Path(os.environ.get("DISTILLERY_CACHE", Path(__file__).resolve().parents[2] / ".cache"))
    tokenizer_dir = build_tiny_model(cache / "models" / "tiny-qwen3")
    return build_once(Path(out_dir), COMPLETE_MARKER, lambda tmp: _write(tmp, tokenizer_dir))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m data_prep.verifiers.tiny_reward", description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    print(build_tiny_reward_model(parser.parse_args(argv).out))


if __name__ == "__main__":
    main()
