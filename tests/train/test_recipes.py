"""Every shipped SFT recipe and accelerate/DeepSpeed config is checked without a GPU: it parses, its batch
arithmetic adds up, DeepSpeed accepts its schema with every "auto" resolved, and the published values are kept."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from accelerate.commands.config.config_args import load_config_from_file
from deepspeed.runtime.zero.config import DeepSpeedZeroConfig
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.integrations.deepspeed import HfTrainerDeepSpeedConfig, unset_hf_deepspeed_config

from train.chat_template import check_prompt_parity, check_training_template, resolve_template
from train.sft import make_parser

REPO = Path(__file__).resolve().parents[2]
RECIPES = sorted((REPO / "recipes" / "sft").glob("*/*.yaml"))
ACCELERATE = sorted((REPO / "recipes" / "accelerate").glob("*.yaml"))
DS_JSON = sorted((REPO / "recipes" / "accelerate" / "deepspeed").glob("*.json"))
# Keys a recipe must spell out rather than inherit from a library default (STYLE.md: every key that matters).
REQUIRED = {
    "model_name_or_path",
    "dtype",
    "attn_implementation",
    "use_peft",
    "dataset_name",
    "require_verified",
    "overlong",
    "chat_template_path",
    "eos_token",
    "max_length",
    "packing",
    "packing_strategy",
    "padding_free",
    "assistant_only_loss",
    "completion_only_loss",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "num_train_epochs",
    "learning_rate",
    "lr_scheduler_type",
    "warmup_steps",
    "weight_decay",
    "max_grad_norm",
    "optim",
    "seed",
    "bf16",
    "activation_checkpointing",
    "use_liger_kernel",
    "output_dir",
    "resume_from_checkpoint",
    "save_strategy",
    "save_steps",
    "logging_steps",
    "report_to",
}
# CPU-only overrides: the recipes target GPUs, where bf16 and tf32 are valid.
CPU = ["--use_cpu", "true", "--tf32", "false"]


def header(path: Path) -> dict:
    """The machine-readable `# distillery: key=value ...` line of a recipe header."""
    line = next((x for x in path.read_text().splitlines() if x.startswith("# distillery:")), None)
    assert line, f"{path}: no '# distillery: gpus=... accelerate=... global_batch=...' header line"
    return {k: (int(v) if v.isdigit() else v) for k, v in re.findall(r"(\w+)=(\S+)", line)}


def parse(path: Path, *extra: str):
    return make_parser().parse_args_and_config(["--config", str(path), *CPU, *extra])


def test_there_is_a_recipe_of_each_kind():
    names = {str(p.relative_to(REPO / "recipes" / "sft")) for p in RECIPES}
    assert names == {
        "qwen2.5-32b/am_full.yaml",
        "qwen2.5-72b/am_full.yaml",
        "qwen2.5-math-7b/openr1.yaml",
        "qwen2.5-32b-instruct/small_data.yaml",
        "qwen2.5-32b-instruct/qlora.yaml",
    }


@pytest.mark.parametrize(
    "path", RECIPES + [REPO / "recipes" / "demo_sft.yaml"], ids=lambda p: p.parent.name + "/" + p.name
)
def test_recipe_parses_with_every_key_written_out(path, tiny_model):
    raw = yaml.safe_load(path.read_text())
    missing = REQUIRED - set(raw)
    assert not missing, f"{path}: keys left to library defaults: {sorted(missing)}"
    for key, value in raw.items():  # YAML 1.1 reads "8e-5" as a string; a recipe must write 8.0e-5
        assert not (isinstance(value, str) and re.fullmatch(r"[\d.]+e-?\d+", value)), f"{path}: {key}={value!r}"
    script, train, model = parse(path)
    assert train.eos_token == "<|im_end|>" and train.max_length == raw["max_length"]
    assert train.assistant_only_loss and not train.completion_only_loss
    assert train.resume_from_checkpoint == "auto"
    assert "tensorboard" in train.report_to
    if train.packing:
        assert train.packing_strategy == "bfd" and train.padding_free  # no cross-document attention
    # the pinned template keeps reasoning, trains <|im_end|>, and matches the evaluation template's prompts
    tok = AutoTokenizer.from_pretrained(tiny_model)  # same ChatML special tokens as Qwen2.5 and SmolLM2
    template = resolve_template(tok, train.chat_template_path)
    check_training_template(tok, template, train.eos_token, str(path))
    check_prompt_parity(tok, template, resolve_template(tok, script.eval_chat_template))


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.parent.name + "/" + p.name)
def test_recipe_batch_arithmetic_and_accelerate_config(path):
    h = header(path)
    _, train, model = parse(path)
    sp = h.get("sp_size", 1)
    assert h["gpus"] % sp == 0
    assert (
        train.per_device_train_batch_size * train.gradient_accumulation_steps * (h["gpus"] // sp) == h["global_batch"]
    )
    acc = load_config_from_file(str(REPO / "recipes" / "accelerate" / f"{h['accelerate']}.yaml"))
    pc = acc.parallelism_config or {}
    assert pc.get("parallelism_config_sp_size", 1) == sp
    if sp > 1:  # Ulysses splits attention heads across the sequence-parallel group
        assert h["heads"] % sp == 0 and h["kv_heads"] % sp == 0
        assert pc["parallelism_config_sp_attn_implementation"] == model.attn_implementation == "flash_attention_2"
        assert train.pad_to_multiple_of == train.max_length and train.max_length % sp == 0
    text = path.read_text()
    assert re.search(r"tokens/s per GPU", text) and re.search(r"Memory per GPU", text) and "Hardware:" in text


def test_published_hyperparameters_are_kept():
    def args(rel):
        return parse(REPO / "recipes" / "sft" / rel)

    for rel in ["qwen2.5-32b/am_full.yaml", "qwen2.5-72b/am_full.yaml"]:  # AM-team follow-ups
        _, t, m = args(rel)
        assert (t.learning_rate, t.warmup_steps, t.lr_scheduler_type.value, t.max_length, t.num_train_epochs) == (
            8e-5,
            0.05,
            "cosine",
            32768,
            2,
        )
        assert t.packing and not m.use_peft and header(REPO / "recipes" / "sft" / rel)["global_batch"] == 64
    _, t, _ = args("qwen2.5-math-7b/openr1.yaml")  # open-r1 OpenR1-Distill-7B
    assert (t.learning_rate, t.num_train_epochs, t.max_length, t.max_grad_norm, t.use_liger_kernel) == (
        4e-5,
        5,
        32768,
        0.2,
        True,
    )
    _, t, _ = args("qwen2.5-32b-instruct/small_data.yaml")  # Sky-T1 / Bespoke-Stratos
    assert (t.learning_rate, t.num_train_epochs, t.max_length) == (1e-5, 3, 16384)
    _, t, m = args("qwen2.5-32b-instruct/qlora.yaml")
    assert m.use_peft and m.load_in_4bit and m.bnb_4bit_quant_type == "nf4" and m.lora_target_modules == "all-linear"


@pytest.mark.parametrize("path", ACCELERATE, ids=lambda p: p.name)
def test_accelerate_config_is_valid(path):
    cfg = load_config_from_file(str(path))  # accelerate's own loader: unknown keys raise
    raw = yaml.safe_load(path.read_text())
    assert cfg.num_processes == 8 and not cfg.use_cpu  # the shipped configs are the GPU ones
    if path.stem == "ddp":
        assert cfg.distributed_type.value == "MULTI_GPU" and cfg.mixed_precision == "bf16"
        return
    assert cfg.distributed_type.value == "DEEPSPEED"
    ds_file = REPO / cfg.deepspeed_config["deepspeed_config_file"]
    assert ds_file.exists(), f"{path}: {ds_file} missing"
    assert "mixed_precision" not in raw, f"{path}: precision comes from the DeepSpeed JSON via the recipe"
    stage = json.loads(ds_file.read_text())["zero_optimization"]["stage"]
    assert cfg.deepspeed_config["zero3_init_flag"] == (stage == 3)


@pytest.mark.parametrize("path", DS_JSON, ids=lambda p: p.name)
def test_deepspeed_config_schema_with_auto_resolved(path, tiny_model):
    from trl import SFTConfig

    cfg = json.loads(path.read_text())
    DeepSpeedZeroConfig(**{k: v for k, v in cfg["zero_optimization"].items() if v != "auto"})
    args = SFTConfig(
        output_dir="/tmp/ds-check",
        use_cpu=True,
        bf16=True,
        per_device_train_batch_size=1,
        gradient_accumulation_steps=2,
        max_grad_norm=1.0,
    )
    model = AutoModelForCausalLM.from_pretrained(tiny_model)  # before the ZeRO-3 config turns on zero.Init
    hf = HfTrainerDeepSpeedConfig(cfg)
    try:
        hf.trainer_config_process(args)
        hf.trainer_config_finalize(args, model, num_training_steps=100)
    finally:
        unset_hf_deepspeed_config()
    resolved = json.dumps(hf.config)
    assert '"auto"' not in resolved, f"{path}: unresolved auto in {resolved}"
    zero = DeepSpeedZeroConfig(**hf.config["zero_optimization"])  # extra/misspelt keys and bad values raise
    assert hf.config["bf16"]["enabled"] is True and hf.config["fp16"]["enabled"] is False
    assert hf.config["train_batch_size"] == 2 and hf.config["gradient_clipping"] == 1.0
    if zero.stage == 3:
        assert zero.gather_16bit_weights_on_model_save  # the final save must gather a loadable model
    assert (zero.offload_optimizer is not None) == ("offload" in path.stem)


def test_deepspeed_schema_check_catches_a_typo():
    from pydantic import ValidationError

    cfg = json.loads((REPO / "recipes" / "accelerate" / "deepspeed" / "zero3.json").read_text())["zero_optimization"]
    with pytest.raises(ValidationError, match="stage3_max_live_parameter"):
        DeepSpeedZeroConfig(**{**cfg, "stage3_max_live_parameter": 1})
