"""Supervised fine-tuning on a distilled reasoning corpus with TRL's SFTTrainer.

    accelerate launch --config_file recipes/accelerate/zero3.yaml -m train.sft --config recipes/sft/<model>/<tag>.yaml
    python -m train.sft --config recipes/demo_sft.yaml --max_steps 5        (any key can be overridden)

Flow: recipe → (DistillArguments, SFTConfig, ModelConfig) → pin chat template and check it → read and tokenise
the corpus once (cached) → SFTTrainer (packing, assistant-only loss, LoRA if asked) → train, resuming when
`resume_from_checkpoint: auto` → save a plain model folder whose generation stops at the end-of-turn token.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from trl import ModelConfig, ScriptArguments, SFTConfig, SFTTrainer, TrlParser, get_peft_config, get_quantization_config

from train.chat_template import (
    END_OF_TURN,
    check_prompt_parity,
    check_training_template,
    resolve_template,
    template_path,
)
from train.corpus import load_corpus, source_fingerprint
from train.export import merge_lora, set_end_of_turn, write_run_summary
from train.pretokenize import build_tokenized, cache_key, load_or_build, tokenizer_fingerprint
from train.resume import resolve_resume
from train.throughput import ThroughputCallback

logger = logging.getLogger("train.sft")


@dataclass
class DistillArguments(ScriptArguments):
    """Data and run options on top of TRL's ScriptArguments (`dataset_name` is a corpus folder, .jsonl or hub id)."""

    require_verified: bool = field(
        default=True, metadata={"help": "Train only on rows whose verification.passed is true."}
    )
    overlong: str = field(
        default="drop",
        metadata={
            "help": "Examples longer than max_length: 'drop' (listed in rejects/) or 'error'.",
            "choices": ["drop", "error"],
        },
    )
    tokenized_cache_dir: str | None = field(
        default=None, metadata={"help": "Where the tokenised corpus is cached (default: <output_dir>/tokenized)."}
    )
    eval_chat_template: str | None = field(
        default=None,
        metadata={
            "help": "Template the evaluation will apply (name, .jinja or tokenizer folder); its prompts must "
            "match the training template's."
        },
    )
    merge_lora: bool = field(
        default=True,
        metadata={"help": "With LoRA, also save the merged full model to output_dir (adapter in output_dir/adapter)."},
    )
    peak_tflops: float | None = field(
        default=None, metadata={"help": "Per-device peak TFLOP/s for MFU when the device is not recognised."}
    )
    use_liger_if_available: bool = field(
        default=True, metadata={"help": "Turn on Liger kernels when liger-kernel is installed and a GPU is present."}
    )


def loss_mode(training_args: SFTConfig) -> str:
    """Which tokens carry loss, from TRL's two flags."""
    if training_args.assistant_only_loss:
        return "assistant"
    if training_args.completion_only_loss:
        return "completion"
    return "all"


def pick_attention(model_args: ModelConfig) -> str:
    """flash_attention_2 when installed on a GPU, otherwise SDPA; an explicit recipe value wins."""
    if model_args.attn_implementation:
        return model_args.attn_implementation
    import torch

    if torch.cuda.is_available() and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


def prepare_dataset(script_args: DistillArguments, training_args: SFTConfig, tokenizer, template: str):
    """Tokenised, length-filtered corpus, built once by the main process and loaded from the cache by the others."""
    out = Path(training_args.output_dir)
    loss_on = loss_mode(training_args)
    key = cache_key(
        {
            "source": source_fingerprint(script_args.dataset_name, script_args.dataset_train_split),
            "tokenizer": tokenizer_fingerprint(tokenizer),
            "template": template,
            "max_length": training_args.max_length,
            "loss_on": loss_on,
            "require_verified": script_args.require_verified,
            "overlong": script_args.overlong,
        }
    )
    cache_dir = Path(script_args.tokenized_cache_dir or out / "tokenized") / key

    def build():
        rows, stats = load_corpus(
            script_args.dataset_name,
            split=script_args.dataset_train_split,
            config=script_args.dataset_config,
            require_verified=script_args.require_verified,
            rejects_path=out / "rejects" / "corpus.jsonl",
        )
        ds, summary = build_tokenized(
            rows,
            tokenizer,
            template,
            max_length=training_args.max_length,
            loss_on=loss_on,
            overlong=script_args.overlong,
            num_proc=training_args.dataset_num_proc,
            rejects_path=out / "rejects" / "overlong.jsonl",
        )
        summary.update(read=stats.read, unverified=stats.unverified, rejected=dict(stats.rejected), files=stats.files)
        return ds, summary

    # Global main first builds the cache; on a filesystem the nodes do not share, each node's main builds its own.
    with training_args.main_process_first(local=False, desc="tokenising corpus"):
        if training_args.process_index == 0:
            load_or_build(cache_dir, build)
    with training_args.main_process_first(local=True, desc="loading tokenised corpus"):
        return load_or_build(cache_dir, build)


def main(script_args: DistillArguments, training_args: SFTConfig, model_args: ModelConfig) -> Path:
    """Train, save, and return the output folder."""
    from transformers import AutoTokenizer

    logging.basicConfig(
        level=logging.INFO if training_args.process_index == 0 else logging.WARNING, format="[%(name)s] %(message)s"
    )
    if not model_args.model_name_or_path:
        raise ValueError("model_name_or_path: required (a local folder or hub id)")
    if not script_args.dataset_name:
        raise ValueError("dataset_name: required (a corpus folder, a .jsonl file, or a hub dataset id)")
    if training_args.max_length is None:
        raise ValueError("max_length: must be set; reasoning traces are long and nothing is truncated silently")
    out = Path(training_args.output_dir)

    # Chat template and end-of-turn: pinned by the recipe, checked before any compute is spent.
    tokenizer = AutoTokenizer.from_pretrained(
        model_args.model_name_or_path,
        revision=model_args.model_revision,
        trust_remote_code=training_args.trust_remote_code,
    )
    if training_args.chat_template_path:
        training_args.chat_template_path = str(template_path(training_args.chat_template_path))
    template = resolve_template(tokenizer, training_args.chat_template_path)
    tokenizer.chat_template = template
    end_of_turn = training_args.eos_token or END_OF_TURN
    training_args.eos_token = end_of_turn
    tokenizer.eos_token = end_of_turn
    if tokenizer.pad_token is None:
        raise ValueError(f"{model_args.model_name_or_path}: tokenizer has no pad token; set one distinct from eos")
    loss_on = loss_mode(training_args)
    if loss_on != "all":
        check_training_template(tokenizer, template, end_of_turn, where=training_args.chat_template_path or "template")
    if script_args.eval_chat_template:
        check_prompt_parity(tokenizer, template, resolve_template(tokenizer, script_args.eval_chat_template))

    dataset, data_summary = prepare_dataset(script_args, training_args, tokenizer, template)
    logger.info("corpus: %s", {k: v for k, v in data_summary.items() if k != "files"})
    # Labels are already built from the template's generation mask, so TRL must not re-derive them (it would
    # also insist on a raw conversational dataset); the chosen mode is kept in distillery_train.json.
    training_args.assistant_only_loss = False
    training_args.completion_only_loss = False

    attn = pick_attention(model_args)
    training_args.model_init_kwargs = {
        "revision": model_args.model_revision,
        "trust_remote_code": training_args.trust_remote_code,
        "attn_implementation": attn,
        "dtype": model_args.dtype,
        **(training_args.model_init_kwargs or {}),
    }
    liger = importlib.util.find_spec("liger_kernel") is not None
    if training_args.use_liger_kernel and not liger:
        logger.warning("use_liger_kernel: liger-kernel is not installed; training without it")
        training_args.use_liger_kernel = False
    elif script_args.use_liger_if_available and liger and training_args.device.type == "cuda":
        training_args.use_liger_kernel = True

    resume = resolve_resume(training_args.resume_from_checkpoint, out)
    training_args.resume_from_checkpoint = resume
    peft_config = get_peft_config(model_args)
    trainer = SFTTrainer(
        model=model_args.model_name_or_path,
        args=training_args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        quantization_config=get_quantization_config(model_args),
    )
    throughput = ThroughputCallback(
        training_args.max_length, training_args.packing, script_args.peak_tflops, data_summary
    )
    sp_size = trainer.get_sp_size() if hasattr(trainer, "get_sp_size") else 1
    throughput.sp_size = sp_size
    collator = trainer.data_collator
    if sp_size > 1 and getattr(collator, "padding_free", False):
        # Ulysses' dataloader adapter gathers every batch tensor across the sequence-parallel group along dim 1; the
        # padding-free collator's 1-D cu_seq_lens break that. Packed rows keep per-document position_ids instead,
        # which the Ulysses attention uses to keep documents apart (with flash-attention).
        collator.padding_free = False
        collator.return_position_ids = True
    # First in line so that the figures it adds to `logs` reach TensorBoard/W&B, which are called after it.
    trainer.callback_handler.callbacks.insert(0, throughput)
    if resume:
        logger.info("resuming from %s", resume)
    result = trainer.train(resume_from_checkpoint=resume)

    # Save: a plain folder that AutoModelForCausalLM.from_pretrained loads, generation stopping at end-of-turn.
    if peft_config is not None:
        trainer.save_model(str(out / "adapter"))
    else:
        trainer.save_model(str(out))
    trainer.accelerator.wait_for_everyone()
    if trainer.accelerator.is_main_process:
        if peft_config is not None and script_args.merge_lora:
            merge_lora(model_args.model_name_or_path, out / "adapter", out, model_args.dtype)
        if peft_config is None or script_args.merge_lora:
            set_end_of_turn(out, tokenizer, end_of_turn)
            saved = AutoTokenizer.from_pretrained(out)
            check_prompt_parity(saved, template, saved.chat_template)
        losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
        write_run_summary(
            out,
            {
                "model": model_args.model_name_or_path,
                "dataset": script_args.dataset_name,
                "loss_on": loss_on,
                "chat_template": training_args.chat_template_path or "tokenizer",
                "end_of_turn": end_of_turn,
                "attn_implementation": attn,
                "peft": peft_config is not None,
                "resumed_from": resume,
                "global_step": trainer.state.global_step,
                "train_loss": result.training_loss,
                "train_runtime": result.metrics.get("train_runtime"),
                "losses": losses,
                "throughput": throughput.figures,
                "data": data_summary,
            },
        )
        q = max(1, len(losses) // 4)  # single steps are noisy; quarters show the trend
        logger.info(
            "saved %s; loss %.4f → %.4f (means of the first and last quarter of %d logged steps)",
            out,
            sum(losses[:q]) / q if losses else float("nan"),
            sum(losses[-q:]) / q if losses else float("nan"),
            len(losses),
        )
    trainer.accelerator.wait_for_everyone()
    trainer.end()  # finishes trackers and destroys the process group (else ~1 run in 6 aborts at exit on gloo)
    return out


def make_parser() -> TrlParser:
    """TrlParser over the three argument groups: `--config recipe.yaml` plus `--key value` overrides."""
    return TrlParser((DistillArguments, SFTConfig, ModelConfig), prog="python -m train.sft")


def cli(argv: list[str] | None = None) -> None:
    """Parse the recipe and overrides, then train."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # DeepSpeed 0.19 calls collectives that torch 2.13 deprecates, once per step: keep the loss lines readable.
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.distributed")
    script_args, training_args, model_args = make_parser().parse_args_and_config(argv)
    main(script_args, training_args, model_args)


if __name__ == "__main__":
    cli(sys.argv[1:])
