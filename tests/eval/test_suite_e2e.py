"""Every benchmark end to end through `eval run` on the CPU with the tiny model (HF backend), a run killed with
SIGKILL that resumes without repeating a sample, and the refusals a user meets (changed prompt, missing model)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
import yaml

from eval.jsonl import read_jsonl
from eval.run import main as run_main

BENCHMARKS = ("math500", "aime24", "gpqa_diamond", "gsm8k", "livecodebench")


def check_suite_outputs(out) -> dict:
    """What every suite run must leave behind (shared with the OpenAI-backend test)."""
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["benchmarks"]) == list(BENCHMARKS)
    for name in BENCHMARKS:
        rows = read_jsonl(out / f"{name}.samples.jsonl")
        assert len(rows) == 4 and len({(r["problem_id"], r["sample"]) for r in rows}) == 4
        b = summary["benchmarks"][name]
        assert (b["n_problems"], b["n_samples"], b["samples_per_problem"]) == (2, 4, 2)
        assert b["pass@1"] == pytest.approx(100.0 * sum(r["correct"] for r in rows) / 4)
        assert {"pass@1_strict", "format_rate", "truncated_rate", "no_answer_rate", "maj@2", "pass@2"} <= set(b)
        for r in rows:
            assert {"extracted", "correct", "reason", "how", "format_ok", "truncated", "n_tokens"} <= set(r)
        if b["grader"] == "math":
            assert all("second_correct" in r for r in rows)
            assert (out / b["disagreements_file"]).exists()
    gpqa = read_jsonl(out / "gpqa_diamond.samples.jsonl")
    assert all(len(r["meta"]["permutation"]) == 4 for r in gpqa)
    assert summary["benchmarks"]["livecodebench"]["by"]["difficulty"]["easy"]["n_problems"] == 2
    return summary


def test_every_benchmark_through_the_hf_backend(suite_recipe, tiny_model, tmp_path):
    out = tmp_path / "hf"
    assert run_main([str(suite_recipe()), "--model", str(tiny_model), "--out", str(out)]) == 0
    summary = check_suite_outputs(out)
    assert summary["backend"] == "hf" and summary["resumed_problems"] == 0


def _sample_keys(out) -> Counter:
    keys: Counter = Counter()
    for name in BENCHMARKS:
        path = out / f"{name}.samples.jsonl"
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                keys[(name, row["problem_id"], row["sample"])] += 1
    return keys


def _orphaned_graders() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = open(f"/proc/{entry}/cmdline", "rb").read()
            ppid = int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if b"eval.grading.pool import serve" in cmd and ppid == 1:
            found.append(int(entry))
    return found


def test_a_killed_run_resumes_without_repeating_samples(suite_recipe, tiny_model, tmp_path, repo):
    # Enough work (6 problems x 2 samples x 3 benchmarks, 64 new tokens) that the kill lands mid-run even on a
    # fast machine: with 2 problems and 8 tokens a quick CI box finished all 12 samples between two polls.
    out = tmp_path / "killed"
    recipe = suite_recipe(only=("math500", "gpqa_diamond", "livecodebench"), limit=6,
                          sampling={"temperature": 0.6, "top_p": 0.95, "max_new_tokens": 64, "seed": 0})
    cmd = [sys.executable, "-m", "eval", "run", str(recipe), "--model", str(tiny_model), "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    proc = subprocess.Popen(cmd, env=env, cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while sum(_sample_keys(out).values()) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _sample_keys(out)
    assert sum(before.values()) > 0 and proc.returncode == -signal.SIGKILL
    kept = {name: read_jsonl(out / f"{name}.samples.jsonl")[:2] for name in ("math500",)
            if len(_lines(out / f"{name}.samples.jsonl")) >= 2}
    time.sleep(1.0)
    assert _orphaned_graders() == []  # grader workers die with the run (parent-death signal)
    resumed = subprocess.run(cmd, env=env, cwd=repo, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    after = _sample_keys(out)
    summary = json.loads((out / "summary.json").read_text())
    total = sum(b["n_samples"] for b in summary["benchmarks"].values())
    assert sum(before.values()) < total, "the run was killed mid-way"
    assert set(after.values()) == {1} and sum(after.values()) == total  # every sample once, none repeated
    for name, rows in kept.items():
        assert read_jsonl(out / f"{name}.samples.jsonl")[:2] == rows  # finished samples were not regenerated
    assert summary["resumed_problems"] >= 1


def _lines(path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_sigterm_stops_promptly_and_keeps_finished_chunks(suite_recipe, tiny_model, tmp_path, repo):
    out = tmp_path / "term"
    cmd = [sys.executable, "-m", "eval", "run", str(suite_recipe(only=("math500", "aime24"))), "--model", str(tiny_model), "--out", str(out)]
    proc = subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": str(repo)}, cwd=repo, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while sum(_sample_keys(out).values()) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "rerun with the same --out to resume" in err
    keys = _sample_keys(out)
    assert sum(keys.values()) >= 2 and set(keys.values()) == {1}


def test_a_changed_prompt_template_does_not_reuse_samples(suite_recipe, tiny_model, tmp_path, capsys):
    out = tmp_path / "prompt"
    recipe = suite_recipe()
    data = yaml.safe_load(recipe.read_text())
    data["benchmarks"] = data["benchmarks"][:1]
    recipe.write_text(yaml.safe_dump(data))
    assert run_main([str(recipe), "--model", str(tiny_model), "--out", str(out)]) == 0
    data["benchmarks"][0]["prompt_template"] = "{question}\nAnswer in a box."
    recipe.write_text(yaml.safe_dump(data))
    assert run_main([str(recipe), "--model", str(tiny_model), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "different 'benchmarks.math500.prompt_template'" in err
    # run.json edited by hand (or lost): the stored prompts themselves are compared
    (out / "run.json").unlink()
    assert run_main([str(recipe), "--model", str(tiny_model), "--out", str(out)]) == 2
    assert "was generated with another prompt than this recipe sends" in capsys.readouterr().err


def test_missing_model_path_is_one_clean_line(suite_recipe, tmp_path, capsys):
    for model in ("/nope/models/checkpoint-7", "./runs/sft-missing", "runs/x/y"):
        assert run_main([str(suite_recipe()), "--model", model, "--out", str(tmp_path / "m")]) == 2
        err = capsys.readouterr().err
        assert err.strip() == f"error: --model {model}: no such local folder"
    assert run_main([str(suite_recipe()), "--model", "someorg/missing-model", "--out", str(tmp_path / "m")]) == 2
    assert "not a local folder, and the hub is offline" in capsys.readouterr().err
