"""Mistakes a user can fix end in one line that names the file, flag, key or row and what was expected, exit status
2 (non-zero under accelerate), and no traceback; DISTILLERY_DEBUG=1 or --traceback brings the traceback back."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from train.errors import UserError
from train.sft import cli

from .conftest import TINY_RECIPE, accelerate_cmd, sft_env

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rejected_corpus(tmp_path_factory) -> Path:
    """A corpus in which no row can be trained on: a user-only conversation and an empty one."""
    f = tmp_path_factory.mktemp("bad") / "all_bad.jsonl"
    rows = [{"id": "q-only", "messages": [{"role": "user", "content": "2+2?"}]}, {"id": "empty", "messages": []}]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return f


def one_error_line(err: str) -> str:
    """The single `train.sft: error:` line of a failed run's stderr (asserting there is exactly one, no traceback)."""
    assert "Traceback" not in err, err[-3000:]
    lines = [line for line in err.splitlines() if line.startswith("train.sft: error: ")]
    assert len(lines) == 1, err[-3000:]
    return lines[0]


def run_cli(argv: list[str], capsys) -> str:
    assert cli(argv) == 2
    return one_error_line(capsys.readouterr().err)


def test_command_line_and_recipe_mistakes_name_the_flag_or_key(tmp_path, capsys):
    cfg = str(TINY_RECIPE)
    assert run_cli(["--config", "recipes/nope.yaml"], capsys) == (
        f"train.sft: error: --config recipes/nope.yaml: file not found (paths are relative to {Path.cwd()})"
    )
    assert run_cli(["--config", cfg, "--lerning_rate", "1e-4"], capsys) == (
        "train.sft: error: unknown flag --lerning_rate (did you mean 'learning_rate'?)"
    )
    assert run_cli(["--config", cfg, "--max_steps", "many"], capsys) == (
        "train.sft: error: argument --max_steps/--max-steps: invalid int value: 'many'"
    )
    typo = tmp_path / "typo.yaml"
    typo.write_text(TINY_RECIPE.read_text() + "warmup_step: 10\n")
    assert run_cli(["--config", str(typo)], capsys) == (
        f"train.sft: error: --config {typo}: unknown key 'warmup_step' (did you mean 'warmup_steps'?)"
    )
    broken = tmp_path / "broken.yaml"
    broken.write_text("max_steps: [1, 2\n")
    assert run_cli(["--config", str(broken)], capsys).startswith(f"train.sft: error: --config {broken}: not valid YAML")
    with pytest.raises(UserError, match="file not found"):  # debug: the traceback is back
        cli(["--config", "recipes/nope.yaml", "--traceback"])


def test_missing_paths_and_a_corpus_with_no_usable_row(tiny_model, corpus_dir, rejected_corpus, tmp_path, capsys):
    base = ["--config", str(TINY_RECIPE), "--output_dir", str(tmp_path / "out")]
    assert run_cli([*base, "--model_name_or_path", str(tiny_model), "--dataset_name", "runs/x/corpus"], capsys) == (
        "train.sft: error: dataset_name runs/x/corpus: no such corpus file or folder (expected a data_prep corpus "
        f"folder, a .jsonl file or a hub dataset id; paths are relative to {Path.cwd()})"
    )
    missing_model = tmp_path / "models" / "nope"
    line = run_cli([*base, "--model_name_or_path", str(missing_model), "--dataset_name", str(corpus_dir)], capsys)
    assert (
        line
        == f"train.sft: error: model_name_or_path {missing_model}: no such folder (paths are relative to {Path.cwd()})"
    )
    line = run_cli([*base, "--model_name_or_path", str(tiny_model), "--dataset_name", str(rejected_corpus)], capsys)
    assert line == (
        f"train.sft: error: dataset_name {rejected_corpus}: no trainable rows (2 read, 0 unverified, 2 rejected); "
        f"first reject: {rejected_corpus}:1: messages[0].role: the last turn must be the assistant's (the training "
        f"target); every reject is listed in {tmp_path / 'out' / 'rejects'}"
    )
    rejects = [json.loads(x) for x in (tmp_path / "out" / "rejects" / "corpus.jsonl").read_text().splitlines()]
    assert [(r["line"], r["id"], r["reason"]) for r in rejects][1] == (2, "empty", "messages: missing or empty")


def test_the_real_command_prints_only_the_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "train.sft", "--config", "recipes/sft/nope.yaml"],
        cwd=REPO, env=sft_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert (
        proc.stderr
        == f"train.sft: error: --config recipes/sft/nope.yaml: file not found (paths are relative to {REPO})\n"
    )


def test_under_accelerate_launch_the_line_is_the_message(tiny_model, rejected_corpus, tmp_path):
    """`accelerate launch --quiet` (what train.launch and slurm use): one process shows just our line; two processes
    show it once, and torchrun's failure summary names it as the root cause instead of a traceback."""
    args = ["-m", "train.sft", "--config", str(TINY_RECIPE), "--model_name_or_path", str(tiny_model)]
    single = subprocess.run(
        [*accelerate_cmd("--quiet", "--num_processes", "1", "--cpu", "--num_machines", "1", "--mixed_precision", "no",
                         "--dynamo_backend", "no"), *args, "--dataset_name", str(rejected_corpus),
         "--output_dir", str(tmp_path / "one")],
        cwd=REPO, env=sft_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert single.returncode != 0
    assert one_error_line(single.stderr).startswith(f"train.sft: error: dataset_name {rejected_corpus}: no trainable")
    two = subprocess.run(
        [*accelerate_cmd("--quiet", "--config_file", "recipes/accelerate/ddp.yaml", "--num_processes", "2",
                         "--mixed_precision", "no"), *args, "--dataset_name", str(tmp_path / "missing.jsonl"),
         "--output_dir", str(tmp_path / "two")],
        cwd=REPO, env={**sft_env(), "ACCELERATE_USE_CPU": "1"}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert two.returncode != 0
    line = one_error_line(two.stderr)
    assert line.startswith(f"train.sft: error: dataset_name {tmp_path / 'missing.jsonl'}: no such corpus file")
    root_cause = two.stderr.split("Root Cause")[-1]
    assert re.search(r"traceback : " + re.escape(line), root_cause), two.stderr[-3000:]
