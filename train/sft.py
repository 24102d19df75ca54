"""Supervised fine-tuning on a distilled reasoning corpus with TRL's SFTTrainer.

    accelerate launch --config_file recipes/accelerate/zero3.yaml -m train.sft --config recipes/sft/<model>/<tag>.yaml
    python -m train.sft --config recipes/demo_sft.yaml --max_steps 5        (any key can be overridden)

Flow: recipe → (DistillArguments, SFTConfig, ModelConfig) → pin chat template and check it → read, check and
tokenise the corpus once in multi-process maps (cached, memory-mapped) and record its lineage → SFTTrainer
(packing, assistant-only loss, LoRA if asked) → train, resuming when `resume_from_checkpoint: auto`, saving and
stopping on a preemption warning → save a plain model folder whose generation stops at the end-of-turn token.
Mistakes in the command line, recipe or data end in one line naming the flag, file or row (DISTILLERY_DEBUG=1
keeps the traceback).
"""

from __future__ import annotations

import difflib
import importlib.util
import logging
import os
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from trl import ModelConfig, ScriptArguments, SFTConfig, SFTTrainer, TrlParser, get_peft_config, get_quantization_config

from train.chat_template import (
    END_OF_TURN,
    check_prompt_parity,
    check_training_template,
    resolve_template,
    template_path,
)
from train.corpus import read_corpus, source_fingerprint
from train.errors import UserError, one_line, run_cli
from train.export import merge_lora, set_end_of_turn, write_run_summary
from train.lineage import LINEAGE_FILE, LineageCallback, write_lineage
from train.preempt import PREEMPT_FILE_ENV, PreemptionCallback
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
    prepare_only: bool = field(
        default=False,
        metadata={
            "help": "Read, check and tokenise the corpus into the cache, write the lineage file, and exit (run it on a "
            "CPU node before the GPU job: a 1.4M-row corpus takes longer than the ranks' barrier timeout)."
        },
    )


def cpu_training_dtype(dtype: str | None, device_type: str) -> str | None:
    """`dtype: auto` trains in fp32 on a CPU: `auto` would load a bf16 checkpoint (Qwen2.5) as bf16, which AVX2
    CPUs emulate (3.4× slower in generation, issue 12), and DeepSpeed on CPU is fp32 only. A pinned dtype is kept."""
    return "float32" if device_type == "cpu" and dtype in (None, "auto") else dtype


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
    """Tokenised, length-filtered corpus, built once by the main process and loaded from the cache by the others.

    Returns the memory-mapped dataset and its summary (counts, tokenisation speed, lineage record).
    """
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
    rejects = out / "rejects"

    def build(work: Path, ready: Path) -> dict:
        rows, stats, lineage = read_corpus(
            script_args.dataset_name,
            split=script_args.dataset_train_split,
            config=script_args.dataset_config,
            require_verified=script_args.require_verified,
            num_proc=training_args.dataset_num_proc,
            rejects_dir=rejects,
            work_dir=work,
        )
        _, summary = build_tokenized(
            rows,
            tokenizer,
            template,
            max_length=training_args.max_length,
            loss_on=loss_on,
            overlong=script_args.overlong,
            num_proc=training_args.dataset_num_proc,
            rejects_dir=rejects,
            out_dir=ready,
        )
        lineage["tokenized"] = {
            k: summary[k] for k in ("examples", "tokens", "trained_tokens", "max_length", "loss_on")
        }
        summary.update(
            read=stats.read,
            unverified=stats.unverified,
            rejected=dict(stats.rejected),
            files=stats.files,
            lineage=lineage,
        )
        return summary

    # Global main first builds the cache; on a filesystem the nodes do not share, each node's main builds its own.
    failure: Exception | None = None
    with training_args.main_process_first(local=False, desc="tokenising corpus"):
        if training_args.process_index == 0:
            try:
                load_or_build(cache_dir, build)
            except Exception as err:  # told to every rank below, so none is left waiting in the next barrier
                failure = err
    shared = _from_main_process(
        training_args, None if failure is None else (isinstance(failure, UserError), str(failure))
    )
    if failure is not None:
        raise failure
    if shared is not None:
        is_user_error, message = shared
        raise UserError(message) if is_user_error else RuntimeError(f"the main process failed: {message}")
    with training_args.main_process_first(local=True, desc="loading tokenised corpus"):
        dataset, summary = load_or_build(cache_dir, build)
    summary["cache_dir"] = str(cache_dir)
    return dataset, summary


def _from_main_process(training_args: SFTConfig, value):
    """`value` as the global main process has it (a broadcast; every rank must call this)."""
    import torch.distributed as dist

    if training_args.world_size <= 1 or not dist.is_available() or not dist.is_initialized():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def print_data_summary(summary: dict, rejects: Path) -> None:
    """The data stage's closing lines: what was read, kept and dropped, how fast, and where the rejects are."""
    lin = summary.get("lineage") or {}
    digest = f"sha256 {lin['content_sha256'][:12]}…" if lin.get("content_sha256") else "hub dataset"
    size = f"{lin.get('bytes', 0) / 1e6:,.1f} MB, " if lin.get("bytes") else ""
    reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(summary.get("rejected", {}).items(), key=lambda kv: -kv[1])[:3])
    n_rej = sum(summary.get("rejected", {}).values())
    rate = summary.get("tokenize_rows_per_second")
    lines = [
        f"corpus {lin.get('dataset_name')} ({len(summary.get('files', []))} files, {size}{digest}): "
        f"{summary['read']:,} rows read, {summary['read'] - summary['unverified'] - n_rej:,} kept, "
        f"{summary['unverified']:,} unverified, {n_rej:,} rejected{f' ({reasons})' if reasons else ''}",
        f"tokenised by {summary.get('tokenize_workers', 1)} worker(s) at {rate:,.0f} rows/s: "
        if rate
        else "tokenised: ",
        f"rejects and unverified rows listed in {rejects}/; tokenised cache {summary.get('cache_dir')}",
    ]
    lines[1] += (
        f"{summary['examples']:,} examples, {summary['tokens']:,} tokens ({summary['trained_tokens']:,} trained), "
        f"mean {summary['mean_tokens']:,.0f}, max {summary['max_tokens']:,}; dropped {summary['dropped_overlong']:,} "
        f"over max_length {summary['max_length']:,} and {summary['dropped_untrained']:,} with no trained token"
    )
    print("\n".join("[distillery] " + x for x in lines), flush=True)


def main(script_args: DistillArguments, training_args: SFTConfig, model_args: ModelConfig) -> Path:
    """Train, save, and return the output folder."""
    from transformers import AutoTokenizer

    logging.basicConfig(
        level=logging.INFO if training_args.process_index == 0 else logging.WARNING, format="[%(name)s] %(message)s"
    )
    if not model_args.model_name_or_path:
        raise UserError("model_name_or_path: required (a local folder or hub id)")
    if not script_args.dataset_name:
        raise UserError("dataset_name: required (a corpus folder, a .jsonl file, or a hub dataset id)")
    if training_args.max_length is None:
        raise UserError("max_length: must be set; reasoning traces are long and nothing is truncated silently")
    out = Path(training_args.output_dir)

    # Chat template and end-of-turn: pinned by the recipe, checked before any compute is spent.
    tokenizer = load_tokenizer(model_args, training_args)
    if training_args.chat_template_path:
        training_args.chat_template_path = str(template_path(training_args.chat_template_path))
    template = resolve_template(tokenizer, training_args.chat_template_path)
    tokenizer.chat_template = template
    end_of_turn = training_args.eos_token or END_OF_TURN
    training_args.eos_token = end_of_turn
    tokenizer.eos_token = end_of_turn
    if tokenizer.pad_token is None:
        raise UserError(f"{model_args.model_name_or_path}: tokenizer has no pad token; set one distinct from eos")
    loss_on = loss_mode(training_args)
    if loss_on != "all":
        check_training_template(tokenizer, template, end_of_turn, where=training_args.chat_template_path or "template")
    if script_args.eval_chat_template:
        check_prompt_parity(tokenizer, template, resolve_template(tokenizer, script_args.eval_chat_template))

    dataset, data_summary = prepare_dataset(script_args, training_args, tokenizer, template)
    lineage = data_summary.get("lineage") or {}
    if training_args.process_index == 0:
        print_data_summary(data_summary, out / "rejects")
        write_lineage(out, lineage)  # copied into every checkpoint by LineageCallback
    if script_args.prepare_only:
        return out
    # Labels are already built from the template's generation mask, so TRL must not re-derive them (it would
    # also insist on a raw conversational dataset); the chosen mode is kept in distillery_train.json.
    training_args.assistant_only_loss = False
    training_args.completion_only_loss = False

    attn = pick_attention(model_args)
    training_args.model_init_kwargs = {
        "revision": model_args.model_revision,
        "trust_remote_code": training_args.trust_remote_code,
        "attn_implementation": attn,
        "dtype": cpu_training_dtype(model_args.dtype, training_args.device.type),
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
    preempt = PreemptionCallback(os.environ.get(PREEMPT_FILE_ENV))
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
        training_args.max_length, training_args.packing, script_args.peak_tflops, data_summary, tokenizer.pad_token_id
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
    trainer.add_callback(preempt)
    trainer.add_callback(LineageCallback())
    if resume:
        logger.info("resuming from %s", resume)
    result = trainer.train(resume_from_checkpoint=resume)

    if preempt.saved_step is not None:
        # Saved and stopped on a preemption warning: not the end of training, so no final model.
        checkpoint = out / f"checkpoint-{preempt.saved_step}"
        trainer.accelerator.wait_for_everyone()
        if trainer.accelerator.is_main_process:
            if not (checkpoint / "trainer_state.json").exists():
                raise RuntimeError(f"preemption save: {checkpoint} has no trainer_state.json after saving")
            preempt.acknowledge(checkpoint)
            logger.info("stopped at step %d for preemption; checkpoint %s is complete", preempt.saved_step, checkpoint)
        trainer.accelerator.wait_for_everyone()
        trainer.end()
        return out

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
                "data": {k: v for k, v in data_summary.items() if k not in ("lineage", "arrow_files")},
                "corpus": {
                    "file": LINEAGE_FILE,
                    "path": lineage.get("path"),
                    "content_sha256": lineage.get("content_sha256"),
                },
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


class _Parser(TrlParser):
    """TrlParser whose argparse errors (a bad value, a missing value) become one-line UserErrors."""

    def error(self, message: str):
        raise UserError(message)


def make_parser() -> TrlParser:
    """TrlParser over the three argument groups: `--config recipe.yaml` plus `--key value` overrides."""
    return _Parser((DistillArguments, SFTConfig, ModelConfig), prog="python -m train.sft")


def _did_you_mean(parser: TrlParser, key: str) -> str:
    known = sorted({a.dest for a in parser._actions if a.dest != "help"})
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.7)
    return f" (did you mean {close[0]!r}?)" if close else " (python -m train.sft --help lists the keys)"


def parse_args(argv: list[str]):
    """(DistillArguments, SFTConfig, ModelConfig) from `--config recipe.yaml` and overrides, or a UserError that
    names the file, key or flag that is wrong."""
    recipe = None
    if "--config" in argv:
        i = argv.index("--config")
        if i + 1 >= len(argv) or argv[i + 1].startswith("--"):
            raise UserError("--config: expected the path of a recipe (.yaml) after it")
        recipe = Path(argv[i + 1])
        if not recipe.is_file():
            raise UserError(f"--config {recipe}: file not found (paths are relative to {Path.cwd()})")
        try:
            data = yaml.safe_load(recipe.read_text())
        except yaml.YAMLError as err:
            raise UserError(f"--config {recipe}: not valid YAML ({one_line(err)})") from err
        if not isinstance(data, dict):
            raise UserError(f"--config {recipe}: expected a mapping of keys to values, got {type(data).__name__}")
    if _prepare_only(argv, data if recipe is not None else {}):
        # Preparing needs no accelerator: let a GPU recipe's bf16/tf32 pass the dataclass checks on a CPU node.
        argv = [*argv, "--use_cpu", "true", "--bf16", "false", "--fp16", "false", "--tf32", "false"]
    parser = make_parser()
    if recipe is not None:  # before the dataclasses' own checks, which would complain about something else first
        known = {a.dest for a in parser._actions} | {"env"}
        unknown = [k for k in data if k not in known]
        if unknown:
            raise UserError(f"--config {recipe}: unknown key {unknown[0]!r}{_did_you_mean(parser, str(unknown[0]))}")
    try:
        *groups, from_recipe, from_cli = parser.parse_args_and_config(
            argv, return_remaining_strings=True, separate_remaining_strings=True
        )
    except UserError:
        raise
    except (ValueError, TypeError) as err:  # the dataclasses' own checks (e.g. bf16 without a GPU)
        raise UserError(f"{'--config ' + str(recipe) + ': ' if recipe else ''}{one_line(err)}") from err
    if from_recipe:
        key = from_recipe[0].lstrip("-")
        raise UserError(f"--config {recipe}: unknown key {key!r}{_did_you_mean(parser, key)}")
    if from_cli:
        flags = [a for a in from_cli if a.startswith("-")]
        if flags:
            flag = flags[0].split("=", 1)[0]
            raise UserError(f"unknown flag {flag}{_did_you_mean(parser, flag.lstrip('-').replace('-', '_'))}")
        raise UserError(f"unexpected argument {from_cli[0]!r} (overrides are written --key value)")
    return groups


def _prepare_only(argv: list[str], recipe: dict) -> bool:
    """Whether `prepare_only` is on (the last command-line value wins over the recipe's)."""
    value = recipe.get("prepare_only", False)
    for i, arg in enumerate(argv):
        if arg == "--prepare_only":
            nxt = argv[i + 1] if i + 1 < len(argv) else ""
            value = True if nxt.startswith("--") or not nxt else nxt
        elif arg.startswith("--prepare_only="):
            value = arg.split("=", 1)[1]
    return str(value).lower() in ("true", "1", "yes")


def load_tokenizer(model_args: ModelConfig, training_args: SFTConfig):
    """The model's tokenizer; a missing folder or an unreachable hub id is a one-line error naming it."""
    from transformers import AutoTokenizer

    name = model_args.model_name_or_path
    looks_local = str(name).startswith((".", "/", "~")) or str(name).count("/") > 1
    if looks_local and not Path(name).expanduser().is_dir():
        raise UserError(f"model_name_or_path {name}: no such folder (paths are relative to {Path.cwd()})")
    try:
        return AutoTokenizer.from_pretrained(
            name, revision=model_args.model_revision, trust_remote_code=training_args.trust_remote_code
        )
    except OSError as err:
        raise UserError(f"model_name_or_path {name}: cannot load its tokenizer ({one_line(err)[:300]})") from err


def _train(argv: list[str]) -> None:
    script_args, training_args, model_args = parse_args(argv)
    main(script_args, training_args, model_args)


def cli(argv: list[str] | None = None) -> int:
    """Parse the recipe and overrides, then train; returns the exit status (2 for a mistake the user can fix)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # DeepSpeed 0.19 calls collectives that torch 2.13 deprecates, once per step: keep the loss lines readable.
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.distributed")
    return run_cli("train.sft", _train, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(cli())
