"""Real `train.sft` runs on the tiny model: loss falls, distributed runs match one process, killed runs resume.

Every run uses tests/train/configs/tiny_sft.yaml (12 steps, BFD packing, assistant-only loss, global batch of 2
packed sequences). Two-process runs halve the per-device batch, so each step sees the same tokens.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

from train.errors import UserError
from train.lineage import content_hash, scan_files

from .conftest import accelerate_cmd, losses, run_sft, sft_env

REPO = Path(__file__).resolve().parents[2]
# Seeded single-process trajectory on the 56 verified GSM8K rows (torch 2.13 CPU, fp32).
EXPECTED = [6.92248, 6.77369, 6.62327, 6.54714, 6.45521, 6.41862, 6.38547, 6.46061, 6.18704, 6.21710, 5.87219, 6.27893]

# The demo recipe's first 8 steps on the same corpus (SmolLM2-135M-Instruct + LoRA r16, lr 3e-4, shuffled BFD rows).
DEMO_EXPECTED = [1.28016, 1.08153, 1.31582, 1.23002, 1.34404, 0.99358, 1.16912, 1.06835]


def test_loss_falls_and_checkpoint_stops_at_end_of_turn(baseline_run, corpus_dir):
    got = losses(baseline_run)
    assert got == pytest.approx(EXPECTED, abs=2e-3)
    assert sum(got[-3:]) / 3 < sum(got[:3]) / 3 - 0.5
    summary = json.loads((baseline_run / "distillery_train.json").read_text())
    assert summary["loss_on"] == "assistant" and summary["global_step"] == 12
    assert summary["data"]["examples"] == 56 and summary["data"]["unverified"] == 8
    # Throughput/MFU from the documents the model saw: the forward hook's token count equals the Trainer's own.
    state = json.loads((baseline_run / "checkpoint-12" / "trainer_state.json").read_text())
    fig = summary["throughput"]
    assert fig["tokens"] == state["log_history"][-1]["num_tokens"] == 11_358
    assert fig["tokens_per_second_per_device"] > 0 and 0 < fig["overall_mfu"] and 0 < fig["mfu"]
    # the saved folder is a plain model: it reloads and stops at <|im_end|>
    tok = AutoTokenizer.from_pretrained(baseline_run)
    eot = tok.convert_tokens_to_ids("<|im_end|>")
    assert tok.eos_token == "<|im_end|>"
    assert GenerationConfig.from_pretrained(baseline_run).eos_token_id == eot
    model = AutoModelForCausalLM.from_pretrained(baseline_run)
    assert model.config.eos_token_id == eot and model.generation_config.eos_token_id == eot
    assert tok.chat_template == (REPO / "train" / "chat_templates" / "qwen_think.jinja").read_text()
    assert all({"tokens_per_second_per_device", "mfu"} <= set(e) for e in state["log_history"] if "loss" in e)
    assert (baseline_run / "rejects" / "corpus.jsonl").read_text().count("\n") == 2
    # Lineage: the corpus (content hash of its shards) and the data_prep reports, in the model and every checkpoint.
    lineage = json.loads((baseline_run / "distillery_corpus.json").read_text())
    assert lineage["kind"] == "data_prep" and lineage["path"] == str(corpus_dir.resolve())
    assert [f["name"] for f in lineage["files"]] == ["data/train-00000.jsonl", "data/train-00001.jsonl"]
    assert lineage["content_sha256"] == content_hash(scan_files(sorted((corpus_dir / "data").iterdir()), corpus_dir))
    assert lineage["rows"] == {"read": 66, "kept": 56, "unverified": 8, "rejected": 2}
    assert lineage["tokenized"]["examples"] == 56 and summary["corpus"]["content_sha256"] == lineage["content_sha256"]
    for folder in [baseline_run, *(baseline_run / f"checkpoint-{s}" for s in (4, 8, 12))]:
        assert json.loads((folder / "distillery_corpus.json").read_text()) == lineage
        assert (folder / "corpus_stats.json").read_text() == (corpus_dir / "stats.json").read_text()
        assert (folder / "corpus_contamination.json").read_text() == (corpus_dir / "contamination.json").read_text()


LAUNCHERS = {
    "ddp": ["--config_file", "recipes/accelerate/ddp.yaml", "--num_processes", "2", "--mixed_precision", "no"],
    "zero2": ["--config_file", "recipes/accelerate/zero2.yaml", "--num_processes", "2"],
    "zero3": ["--config_file", "recipes/accelerate/zero3.yaml", "--num_processes", "2"],
}


@pytest.mark.parametrize("name", list(LAUNCHERS))
def test_two_processes_match_one(name, baseline_run, tiny_model, corpus_dir, tmp_path):
    out = tmp_path / name
    extra = ["--per_device_train_batch_size", "1", "--save_strategy", "no"]
    if name != "ddp":
        extra += ["--ddp_backend", "gloo"]  # DeepSpeed on CPU talks over gloo
    proc = run_sft(out, tiny_model, corpus_dir, *extra, launcher=accelerate_cmd(*LAUNCHERS[name]), timeout=400)
    assert "devices: 2 × cpu (sequence parallel 1)" in proc.stdout + proc.stderr
    assert losses(out) == pytest.approx(losses(baseline_run), abs=1e-4)
    # the saved model (gathered from ZeRO-3 shards for zero3) reloads and equals the single-process result
    ours = AutoModelForCausalLM.from_pretrained(out).state_dict()
    ref = AutoModelForCausalLM.from_pretrained(baseline_run).state_dict()
    assert ours.keys() == ref.keys()
    assert max((ours[k] - ref[k]).abs().max().item() for k in ref) < 1e-3
    assert GenerationConfig.from_pretrained(out).eos_token_id == 2


def test_killed_run_resumes_with_the_same_losses(baseline_run, tiny_model, corpus_dir, tmp_path):
    out = tmp_path / "killed"
    proc = run_sft(out, tiny_model, corpus_dir, "--resume_from_checkpoint", "auto", wait=False)
    deadline = time.monotonic() + 300
    try:
        while not (out / "checkpoint-4" / "trainer_state.json").exists():
            assert proc.poll() is None, f"run ended before its first checkpoint:\n{proc.stdout.read()[-4000:]}"
            assert time.monotonic() < deadline, "no checkpoint within 300 s"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)  # like a pre-empted node: no clean shutdown
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "distillery_train.json").exists(), "run finished before it could be killed"

    run_sft(out, tiny_model, corpus_dir, "--resume_from_checkpoint", "auto")
    summary = json.loads((out / "distillery_train.json").read_text())
    assert Path(summary["resumed_from"]).name in {"checkpoint-4", "checkpoint-8"}
    assert summary["global_step"] == 12
    assert losses(out) == pytest.approx(losses(baseline_run), abs=1e-4)
    merged = AutoModelForCausalLM.from_pretrained(out).state_dict()
    ref = AutoModelForCausalLM.from_pretrained(baseline_run).state_dict()
    assert max((merged[k] - ref[k]).abs().max().item() for k in ref) < 1e-4
    torch.testing.assert_close(merged["model.norm.weight"], ref["model.norm.weight"], atol=1e-4, rtol=0)


def test_preemption_signal_saves_at_the_next_step_and_the_restart_loses_none(
    baseline_run, tiny_model, corpus_dir, tmp_path
):
    """SIGUSR1 to the trainer (what slurm's --signal sends): checkpoint at the next step boundary, stop, exit 0; the
    restart resumes from exactly that step and ends with the losses of an unbroken run. save_steps 100: the only
    checkpoint is the one the signal asked for."""
    out, request = tmp_path / "preempted", tmp_path / "preempt-request"
    proc = run_sft(
        out, tiny_model, corpus_dir, "--resume_from_checkpoint", "auto", "--save_steps", "100",
        wait=False, env={"DISTILLERY_PREEMPT_FILE": str(request)},
    )  # fmt: skip
    text, logged = "", 0
    try:
        for line in proc.stdout:
            text += line
            logged += line.startswith("{'loss'")
            if logged == 5:
                os.kill(proc.pid, signal.SIGUSR1)
                break
        text += proc.stdout.read()
    finally:
        proc.wait(timeout=120)
    assert proc.returncode == 0 and logged == 5, text[-4000:]
    saved = re.search(r"preemption warning seen at step (\d+): saving checkpoint-(\d+)", text)
    assert saved and saved.group(1) == saved.group(2), text[-4000:]
    step = int(saved.group(1))
    assert 5 <= step < 12 and text.count("{'loss'") == step  # stopped right after the save
    assert [p.name for p in out.glob("checkpoint-*")] == [f"checkpoint-{step}"]
    assert request.with_name(request.name + ".saved").read_text().strip() == str(out / f"checkpoint-{step}")
    assert (out / f"checkpoint-{step}" / "distillery_corpus.json").exists()
    assert not (out / "distillery_train.json").exists() and not (out / "model.safetensors").exists()

    resumed = run_sft(out, tiny_model, corpus_dir, "--resume_from_checkpoint", "auto").stdout
    summary = json.loads((out / "distillery_train.json").read_text())
    assert summary["resumed_from"] == str(out / f"checkpoint-{step}") and summary["global_step"] == 12
    assert resumed.count("{'loss'") == 12 - step  # nothing computed twice, nothing skipped
    assert losses(out) == pytest.approx(losses(baseline_run), abs=1e-4)


def test_no_checkpoint_means_a_fresh_start(tmp_path):
    from train.resume import complete_checkpoints, resolve_resume

    assert resolve_resume("auto", tmp_path) is None
    (tmp_path / "checkpoint-4").mkdir()
    (tmp_path / "checkpoint-4" / "trainer_state.json").write_text("{}")
    (tmp_path / "checkpoint-8").mkdir()  # cut off mid-save: no trainer_state.json
    assert [p.name for p in complete_checkpoints(tmp_path)] == ["checkpoint-4"]
    assert resolve_resume("auto", tmp_path) == str(tmp_path / "checkpoint-4")
    assert resolve_resume("false", tmp_path) is None
    with pytest.raises(UserError, match="not a complete checkpoint"):
        resolve_resume(str(tmp_path / "checkpoint-8"), tmp_path)


def test_ulysses_sequence_parallel_matches_one_process(tiny_model, corpus_dir, tmp_path):
    # Two ranks share every sequence (sp_size 2) through the shipped sp_ulysses.yaml. Unpacked rows here: on CPU
    # the Ulysses attention runs SDPA without a mask, which would let packed documents see each other; on GPU the
    # recipe's flash-attention keeps them apart by position_ids. Rows are padded to 512 so gloo can gather them.
    unpacked = ["--packing", "false", "--padding_free", "false", "--max_steps", "4", "--save_strategy", "no"]
    single, sp = tmp_path / "single", tmp_path / "sp"
    run_sft(single, tiny_model, corpus_dir, *unpacked)
    launcher = accelerate_cmd(
        "--config_file",
        "recipes/accelerate/sp_ulysses.yaml",
        "--num_processes",
        "2",
        "--parallelism_config_sp_size",
        "2",
        "--parallelism_config_sp_attn_implementation",
        "sdpa",
    )
    proc = run_sft(
        sp,
        tiny_model,
        corpus_dir,
        *unpacked,
        "--ddp_backend",
        "gloo",
        "--pad_to_multiple_of",
        "512",
        launcher=launcher,
        timeout=400,
    )
    assert "devices: 2 × cpu (sequence parallel 2)" in proc.stdout + proc.stderr
    assert "global batch: 2 sequences" in proc.stdout + proc.stderr  # data-parallel size 1: both ranks, one batch
    assert losses(sp) == pytest.approx(losses(single), abs=1e-4)
    assert len(losses(sp)) == 4


def test_demo_recipe_lora_on_smollm2_learns_and_merges(corpus_dir, tmp_path):
    """The demo's own recipe (SmolLM2-135M-Instruct + LoRA), shortened to 8 steps on the GSM8K test corpus."""
    from train.smollm import convert_smollm2

    base = convert_smollm2(Path(os.environ["DISTILLERY_CACHE"]) / "models" / "smollm2-135m-instruct")
    out = tmp_path / "demo"
    cmd = [
        sys.executable,
        "-m",
        "train.sft",
        "--config",
        str(REPO / "recipes" / "demo_sft.yaml"),
        "--model_name_or_path",
        str(base),
        "--dataset_name",
        str(corpus_dir),
        "--output_dir",
        str(out),
        "--max_steps",
        "8",
        "--report_to",
        "none",
    ]
    proc = subprocess.run(cmd, cwd=REPO, env=sft_env(), capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-6000:]
    got = losses(out)
    assert got == pytest.approx(DEMO_EXPECTED, abs=5e-3)
    assert sum(got[-2:]) / 2 < sum(got[:2]) / 2
    assert (out / "adapter" / "adapter_config.json").exists() and not (out / "adapter_config.json").exists()
    merged = AutoModelForCausalLM.from_pretrained(out).state_dict()  # plain folder: LoRA merged in
    ref = AutoModelForCausalLM.from_pretrained(base).state_dict()
    assert merged.keys() == ref.keys()
    changed = [k for k in ref if not torch.equal(merged[k], ref[k])]
    assert changed and all(k.endswith("proj.weight") for k in changed)  # only the LoRA-adapted linears moved
    assert GenerationConfig.from_pretrained(out).eos_token_id == 2
