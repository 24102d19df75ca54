"""Fixtures for the train tests: a small real corpus in data_prep's format and a runner for `train.sft`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TINY_RECIPE = HERE / "configs" / "tiny_sft.yaml"
SYSTEM = "Reason step by step inside <think></think>, then give the final answer in \\boxed{}."


def gsm8k_corpus_rows(gsm8k_jsonl: Path, n: int) -> list[dict]:
    """Corpus rows (DESIGN.md format) from real GSM8K problems, the reference solution as the <think> trace.

    Every 8th row is marked unverified, so the loader's filter is exercised.
    """
    rows = []
    with gsm8k_jsonl.open() as f:
        for i, line in enumerate(f):
            if i >= n:
                break
            r = json.loads(line)
            steps, answer = r["answer"].split("####")
            steps = re.sub(r"<<[^>]*>>", "", steps).strip()
            answer = answer.strip()
            rows.append(
                {
                    "id": f"gsm8k-train-{i}",
                    "messages": [
                        {"role": "system", "content": SYSTEM},
                        {"role": "user", "content": r["question"]},
                        {
                            "role": "assistant",
                            "content": f"<think>\n{steps}\n</think>\n\nThe answer is \\boxed{{{answer}}}.",
                        },
                    ],
                    "problem": r["question"],
                    "source": "gsm8k",
                    "category": "math",
                    "reference_answer": answer,
                    "verification": {
                        "method": "math_verify",
                        "passed": i % 8 != 7,
                        "score": float(i % 8 != 7),
                        "reason": "" if i % 8 != 7 else "answer mismatch",
                    },
                }
            )
    return rows


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory, shared) -> Path:
    """A corpus folder like data_prep writes: 64 GSM8K rows in two shards, plus one broken line and one bad row, and
    the build's reports (stats.json, contamination.json) that lineage copies into checkpoints."""
    root = tmp_path_factory.mktemp("corpus")
    (root / "data").mkdir()
    (root / "stats.json").write_text(json.dumps({"name": "gsm8k-test", "rows": 64, "shards": 2}) + "\n")
    (root / "contamination.json").write_text(json.dumps({"benchmarks": ["math500", "aime24"], "removed": 0}) + "\n")
    rows = gsm8k_corpus_rows(shared / "samples" / "gsm8k_train.jsonl", 64)
    with (root / "data" / "train-00000.jsonl").open("w") as f:
        for r in rows[:32]:
            f.write(json.dumps(r) + "\n")
        f.write('{"id": "broken", "messages": [\n')
    with (root / "data" / "train-00001.jsonl").open("w") as f:
        for r in rows[32:]:
            f.write(json.dumps(r) + "\n")
        bad = dict(rows[0], id="no-answer", messages=rows[0]["messages"][:2])
        f.write(json.dumps(bad) + "\n")
    return root


def sft_env() -> dict:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")  # two ranks on two cores: one thread each
    return env


def run_sft(
    out: Path,
    model: Path,
    corpus: Path,
    *extra: str,
    launcher: list[str] | None = None,
    timeout: int = 300,
    wait: bool = True,
    env: dict | None = None,
):
    """Run `train.sft` on the tiny recipe in a subprocess (optionally under `accelerate launch`)."""
    head = launcher if launcher is not None else [sys.executable, "-m", "train.sft"]
    if launcher is not None:
        head = [*launcher, "-m", "train.sft"]
    cmd = [
        *head,
        "--config",
        str(TINY_RECIPE),
        "--model_name_or_path",
        str(model),
        "--dataset_name",
        str(corpus),
        "--output_dir",
        str(out),
        *extra,
    ]
    if not wait:
        return subprocess.Popen(
            cmd,
            cwd=HERE.parents[1],
            env={**sft_env(), "PYTHONUNBUFFERED": "1", **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    proc = subprocess.run(
        cmd, cwd=HERE.parents[1], env={**sft_env(), **(env or {})}, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


def losses(out: Path) -> list[float]:
    return json.loads((out / "distillery_train.json").read_text())["losses"]


def accelerate_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "accelerate.commands.launch", *args]


@pytest.fixture(scope="session")
def baseline_run(tmp_path_factory, tiny_model, corpus_dir) -> Path:
    """One single-process run of the tiny recipe: the reference the distributed and resumed runs must match."""
    out = tmp_path_factory.mktemp("sft_single")
    run_sft(out, tiny_model, corpus_dir)
    return out
