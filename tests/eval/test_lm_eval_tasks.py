"""The lm-eval task files (eval/lm_eval_tasks) run in real lm-evaluation-harness and give the same per-sample
verdicts as `eval score` on the same responses: once on what the tiny model generated through `lm_eval --model hf`,
and once on handmade responses (right, wrong, stated in prose, truncated) through lm-eval's own task objects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eval.grading.dispatch import GradeOptions
from eval.score import score_rows

DATA = Path(__file__).parent / "data"
TASKS = {  # task -> (benchmark, strict reading, forced "<think>\n" prefix)
    "distillery_math500": ("math500", False, "<think>\n"),
    "distillery_aime24": ("aime24", False, "<think>\n"),
    "distillery_gpqa_diamond": ("gpqa_diamond", False, "<think>\n"),
    "distillery_gsm8k": ("gsm8k", True, ""),
}


@pytest.fixture(scope="module")
def task_env(shared, repo):
    env = {**os.environ, "PYTHONPATH": str(repo), "DISTILLERY_GPQA_PATH": str(shared / "benchmarks" / "gpqa_diamond.jsonl"),
           "DISTILLERY_GSM8K_TEST_PATH": str(DATA / "gsm8k_test_head50.jsonl")}
    saved = {k: os.environ.get(k) for k in ("DISTILLERY_GPQA_PATH", "DISTILLERY_GSM8K_TEST_PATH")}
    os.environ.update({k: env[k] for k in saved})
    yield env
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def lm_eval_samples(task_env, tiny_model, repo, tmp_path_factory):
    out = tmp_path_factory.mktemp("lm_eval")
    proc = subprocess.run(
        [sys.executable, "-m", "lm_eval", "run", "--model", "hf", "--model_args",
         f"pretrained={tiny_model},dtype=float32", "--include_path", str(repo / "eval" / "lm_eval_tasks"),
         "--tasks", ",".join(TASKS), "--limit", "2", "--log_samples", "--output_path", str(out), "--gen_kwargs",
         "max_gen_toks=16", "--apply_chat_template", "--device", "cpu", "--batch_size", "8"],
        capture_output=True, text=True, timeout=900, env=task_env, cwd=out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    samples = {}
    for task in TASKS:
        files = list(out.rglob(f"samples_{task}_*.jsonl"))
        assert len(files) == 1, (task, files)
        samples[task] = [json.loads(line) for line in files[0].read_text().splitlines()]
    return samples


def _eval_score(benchmark: str, strict: bool, rows: list[dict]) -> list[dict]:
    scored, _ = score_rows(benchmark, rows, GradeOptions(strict=strict, second_grader=False))
    return scored


def test_lm_eval_verdicts_equal_eval_score_on_the_tiny_models_responses(lm_eval_samples):
    for task, (benchmark, strict, prefix) in TASKS.items():
        samples = lm_eval_samples[task]
        assert len(samples) == 2
        rows = [{"problem_id": s["doc"]["problem_id"], "response": prefix + s["filtered_resps"][0]} for s in samples]
        scored = _eval_score(benchmark, strict, rows)
        assert [bool(s["correct"]) for s in samples] == [r["correct"] for r in scored], task
        assert [bool(s["format_ok"]) for s in samples] == [r["format_ok"] for r in scored], task
        # the documents are eval's own problems, prompts and golds
        assert [s["doc"]["gold"] for s in samples] == [r["gold"] for r in scored]


def _handmade(benchmark: str, gold: str) -> list[str]:
    if benchmark == "gpqa_diamond":
        other = "A" if gold != "A" else "B"
        return [f"reasoning</think>\nAnswer: {gold}", f"reasoning</think>\nAnswer: {other}",
                f"reasoning</think>\nSo the right option is ({gold}).", "still reasoning, Answer: " + gold]
    return [f"reasoning</think>\nThe answer is $\\boxed{{{gold}}}$.", "reasoning</think>\n$\\boxed{12345}$",
            f"reasoning</think>\nSo the answer is {gold}.", f"still reasoning \\boxed{{{gold}}}"]


def test_lm_eval_task_objects_grade_handmade_responses_like_eval_score(task_env, repo):
    from lm_eval.tasks import TaskManager, get_task_dict

    manager = TaskManager(include_path=str(repo / "eval" / "lm_eval_tasks"), include_defaults=False)
    tasks = get_task_dict(list(TASKS), manager)
    seen_correct = 0
    for name, (benchmark, strict, prefix) in TASKS.items():
        task = tasks[name]
        docs = list(task.test_docs())[:3]
        assert [d["problem_id"] for d in docs][:1] == {"math500": ["test/precalculus/807.json"], "aime24": ["2024-I-1"],
                                                       "gsm8k": ["gsm8k-test-1"]}.get(benchmark, [docs[0]["problem_id"]])
        lm_verdicts, rows = [], []
        for doc in docs:
            for response in _handmade(benchmark, doc["gold"]):
                lm_verdicts.append(task.process_results(doc, [response]))  # lm-eval sees only the generation
                rows.append({"problem_id": doc["problem_id"], "response": prefix + response})
        scored = _eval_score(benchmark, strict, rows)
        assert [bool(v["correct"]) for v in lm_verdicts] == [r["correct"] for r in scored], name
        assert [bool(v["format_ok"]) for v in lm_verdicts] == [r["format_ok"] for r in scored], name
        seen_correct += sum(r["correct"] for r in scored)
        if strict:  # OpenMath reading: the prose answer does not count; no forced <think>, so nothing is truncated
            assert [r["correct"] for r in scored[:4]] == [True, False, False, True]
        else:  # R1 reading: the stated answer counts, a response that never closes <think> does not
            assert [r["correct"] for r in scored[:4]] == [True, False, True, False]
    assert seen_correct >= 20
