"""`python -m eval score` on handmade responses (exact pass@1) and `python -m eval report` on a synthetic
pipeline folder (four stages, the published table, missing stages said plainly)."""

from __future__ import annotations

import json

import pytest

from eval.report import main as report_main
from eval.score import main as score_main

# (problem_id, response, correct?) on real MATH-500 problems.
RESPONSES = [
    ("test/precalculus/807.json", "<think>r = 3, theta = pi/2</think>\nSo $\\boxed{\\left(3, \\frac{\\pi}{2}\\right)}$.", True),
    ("test/precalculus/807.json", "<think>r = 3</think>\n$\\boxed{(3, \\pi)}$", False),
    ("test/precalculus/807.json", "<think>r = 3 and the angle is", False),  # truncated
    ("test/precalculus/807.json", "<think>...</think><answer>(3, \\frac{\\pi}{2})</answer>", True),
    ("test/algebra/2584.json", "<think>...</think>The answer is $\\boxed{\\frac{14}{3}}$.", True),
    ("test/algebra/2584.json", "<think>...</think>The answer is $\\boxed{4.67}$.", False),
    ("test/algebra/2584.json", "<think>...</think>I do not know.", False),
    ("test/algebra/2584.json", "<think>...</think>$\\boxed{4.67}$", False),
]


def test_score_math500_handmade(tmp_path):
    responses = tmp_path / "responses.jsonl"
    responses.write_text("".join(json.dumps({"problem_id": p, "response": r, "note": i}) + "\n"
                                 for i, (p, r, _) in enumerate(RESPONSES)))
    out = tmp_path / "scored.jsonl"
    assert score_main(["--benchmark", "math500", "--responses", str(responses), "--out", str(out)]) == 0
    scored = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["correct"] for r in scored] == [c for _, _, c in RESPONSES]
    assert [r["note"] for r in scored] == list(range(len(RESPONSES)))  # input fields and order kept
    assert [r["reason"] for r in scored] == ["ok", "wrong answer", "truncated", "ok", "ok", "wrong answer",
                                             "no answer", "wrong answer"]
    summary = json.loads(out.with_suffix(".summary.json").read_text())
    assert summary["pass@1"] == 37.5  # (2/4 + 1/4) / 2
    assert summary["pass@2"] == pytest.approx(100 * ((1 - 1 / 6) + (1 - 3 / 6)) / 2)
    assert summary["pass@4"] == 100.0
    assert summary["maj@4"] == 50.0  # 807: (3, pi/2) written two ways still wins 2:1; 2584: 4.67 wins 2:1
    assert summary["truncated_rate"] == 12.5 and summary["no_answer_rate"] == 25.0


def test_score_rejects_unknown_problem(tmp_path, capsys):
    responses = tmp_path / "r.jsonl"
    responses.write_text(json.dumps({"problem_id": "test/nope/1.json", "response": "\\boxed{1}"}) + "\n")
    assert score_main(["--benchmark", "math500", "--responses", str(responses)]) == 2
    err = capsys.readouterr().err
    assert f"error: {responses}: row 1: problem_id 'test/nope/1.json' is not a math500 problem" in err


def _eval_summary(model: str, math: float, aime: float) -> dict:
    return {
        "model": model, "backend": "hf", "recipe": "demo", "recipe_path": "recipes/eval/demo.yaml",
        "sampling": {"temperature": 0.6, "top_p": 0.95, "max_new_tokens": 192, "seed": 0},
        "prompt": {"system_prompt": None, "think_prefix": False, "chat_template": None},
        "started": "2026-11-21T06:00:00+00:00", "finished": "2026-11-21T06:02:00+00:00", "tokens_per_s": 251.5,
        "benchmarks": {
            "math500": {"n_problems": 20, "n_samples": 40, "samples_per_problem": 2, "pass@1": math, "pass@2": 10.0,
                        "maj@2": 5.0, "truncated_rate": 40.0, "no_answer_rate": 45.0, "mean_tokens": 150.2,
                        "reference_column": "MATH-500"},
            "aime24": {"n_problems": 20, "n_samples": 40, "samples_per_problem": 2, "pass@1": aime, "pass@2": 0.0,
                       "maj@2": 0.0, "truncated_rate": 80.0, "no_answer_rate": 85.0, "mean_tokens": 180.0,
                       "reference_column": "AIME24"},
        },
    }


@pytest.fixture
def pipeline(tmp_path):
    run = tmp_path / "demo"
    (run / "corpus").mkdir(parents=True)
    (run / "corpus" / "stats.json").write_text(json.dumps({
        "name": "demo", "rows": 180, "shards": 1, "seconds": 12.5,
        "stages": {"ingest": {"rows": 220, "rejects": 3, "seconds": 0.4}, "dedup": {"rows": 210, "rejects": 10,
                                                                                    "seconds": 0.1}},
        "verification": {"gsm8k/reference": {"rows": 200, "passed": 180, "failed": 20, "unverifiable": 0,
                                             "verified_share": 0.9}},
        "rejects": {"ingest": 3, "dedup": 10, "verify": 20},
        "reject_reasons": {"verify": {"wrong answer": 18, "no answer": 2}},
    }))
    (run / "corpus" / "README.md").write_text("# demo corpus\n")
    (run / "sft").mkdir()
    (run / "sft" / "trainer_state.json").write_text(json.dumps({
        "global_step": 30, "epoch": 1.0,
        "log_history": [{"loss": 2.5, "step": 5}, {"loss": 1.8, "step": 10}, {"loss": 1.2, "step": 30},
                        {"train_runtime": 95.3, "train_loss": 1.7, "step": 30}],
    }))
    (run / "sft" / "train_results.json").write_text(json.dumps({"train_runtime": 95.3, "train_loss": 1.7,
                                                                "train_samples_per_second": 2.1}))
    for name, math, aime in (("base", 2.5, 0.0), ("sft", 7.5, 0.0)):
        (run / "eval" / name).mkdir(parents=True)
        (run / "eval" / name / "summary.json").write_text(json.dumps(_eval_summary(f"models/{name}", math, aime)))
    return run


def test_report_lists_four_stages_and_the_reference_table(pipeline):
    assert report_main([str(pipeline)]) == 0
    text = (pipeline / "report.md").read_text()
    stages = [line.split("|")[1].strip() for line in text.split("## Stages")[1].split("\n## ")[0].splitlines()
              if line.startswith("| ") and not line.startswith("| stage")]
    assert stages == ["data_prep", "train", "eval", "report"]
    assert "180 rows kept, verified share 90.0%, 33 rejects" in text
    assert "30 steps, loss 2.500 → 1.200, 95.3 s" in text
    assert "| **base** (`models/base`) | 0.0 (20×2) | 2.5 (20×2) | — | — |" in text
    assert "| **sft** (`models/sft`) | 0.0 (20×2) | 7.5 (20×2) | — | — |" in text
    assert "| DeepSeek-R1-Distill-Qwen-1.5B (published) | 28.9 | 83.9 | 33.8 | 16.9 |" in text
    assert "| AM-Distill-Qwen-72B (published) | 76.5 | 97.0 | 65.9 | 59.7 |" in text
    assert "| sampling | temperature 0.60, top-p 0.95, max_new_tokens 192, seed 0 |" in text
    assert "**sft** is not comparable with the published rows: max\\_new\\_tokens 192 \\< 32,768." in text
    assert "wrong answer (18)" in text


def test_report_says_which_stages_are_missing(pipeline, tmp_path):
    import shutil

    shutil.rmtree(pipeline / "sft")
    (pipeline / "corpus" / "stats.json").unlink()
    assert report_main([str(pipeline), "--out", str(tmp_path / "rep")]) == 0
    text = (tmp_path / "rep" / "report.md").read_text()
    assert "| train | supervised fine-tuning | missing: no sft/ folder |" in text
    assert "stats.json is missing" in text or "stats.json` is missing" in text
    assert "| eval | generate, grade, score | base: math500 2.5, aime24 0.0; sft: math500 7.5, aime24 0.0 |" in text


def test_reference_data_matches_the_notes(shared, repo):
    notes = (shared / "notes" / "reference.md").read_text()
    ref = json.loads((repo / "eval" / "reference.json").read_text())
    for row in ref["rows"]:
        line = f"| {row['model']} | " + " | ".join(f"{row[c]:.1f}" for c in ref["columns"]) + " |"
        assert line in notes


def test_report_reads_train_sft_summary(pipeline):
    """train.sft writes distillery_train.json (losses per logging step) rather than a top-level trainer_state."""
    (pipeline / "sft" / "trainer_state.json").unlink()
    (pipeline / "sft" / "train_results.json").unlink()
    (pipeline / "sft" / "distillery_train.json").write_text(json.dumps({
        "model": "models/smollm2", "dataset": "runs/demo/corpus", "loss_on": "assistant", "peft": False,
        "global_step": 12, "train_loss": 1.1176, "losses": [1.403, 1.2829, 0.7713],
        "throughput": {"tokens_per_second_per_device": 9.72},
        "data": {"examples": 42, "tokens": 8814, "trained_tokens": 4745, "max_length": 512, "dropped_overlong": 0},
    }))
    assert report_main([str(pipeline)]) == 0
    text = (pipeline / "report.md").read_text()
    assert "| train | supervised fine-tuning | demo: 12 steps, loss 1.403 → 0.771 |" in text
    assert "| 12 | 1.4030 (1) | 0.7713 (3) | 1.1176 | — | 9.7 |" in text
    assert "42 examples, 8,814 tokens (4,745 trained)" in text
