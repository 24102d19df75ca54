"""`python -m eval run` end to end with the tiny random model: files, counts, grading consistency, resume."""

from __future__ import annotations

import json

import pytest

from eval.grading.math import grade
from eval.jsonl import read_jsonl
from eval.run import main as run_main
from eval.score import main as score_main

ARGS = ["limit=3", "samples=2", "sampling.max_new_tokens=24", "hf.batch_size=6", "chunk_problems=3",
        "prompt.think_prefix=false", "grader_timeout_s=5"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_model, repo):
    out = tmp_path_factory.mktemp("eval_run")
    assert run_main([str(repo / "recipes" / "eval" / "quick.yaml"), "--model", str(tiny_model), "--out", str(out),
                     *ARGS]) == 0
    return out


def test_files_and_counts(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    assert set(summary["benchmarks"]) == {"math500", "aime24"}
    assert summary["sampling"] == {"temperature": 0.6, "top_p": 0.95, "max_new_tokens": 24, "seed": 0}
    assert summary["backend"] == "hf" and summary["resumed_problems"] == 0
    expected_ids = {
        "math500": ["test/precalculus/807.json", "test/intermediate_algebra/1994.json", "test/algebra/2584.json"],
        "aime24": ["2024-I-1", "2024-I-10", "2024-I-11"],
    }
    for name, ids in expected_ids.items():
        rows = read_jsonl(run_dir / f"{name}.samples.jsonl")
        assert len(rows) == 6
        assert [(r["problem_id"], r["sample"]) for r in rows] == [(i, j) for i in ids for j in (0, 1)]
        for r in rows:
            assert 1 <= r["n_tokens"] <= 24
            assert r["truncated"] == (r["finish_reason"] == "length" or r["reason"] == "truncated")
            assert r["prompt"].endswith("put your final answer within \\boxed{}.")
        b = summary["benchmarks"][name]
        assert (b["n_problems"], b["n_samples"], b["samples_per_problem"]) == (3, 6, 2)
        assert b["pass@1"] == 100.0 * sum(r["correct"] for r in rows) / 6
        assert b["truncated_rate"] == pytest.approx(100.0 * sum(r["truncated"] for r in rows) / 6)
        assert summary["generated_tokens"] >= sum(r["n_tokens"] for r in rows)


def test_grading_of_the_outputs_is_consistent(run_dir, tmp_path):
    for name in ("math500", "aime24"):
        rows = read_jsonl(run_dir / f"{name}.samples.jsonl")
        for r in rows:
            g = grade(r["gold"], r["response"])
            assert (g.correct, g.extracted, g.reason) == (r["correct"], r["extracted"], r["reason"])
        out = tmp_path / f"{name}.scored.jsonl"
        assert score_main(["--benchmark", name, "--responses", str(run_dir / f"{name}.samples.jsonl"),
                           "--out", str(out)]) == 0
        rescored = json.loads(out.with_suffix(".summary.json").read_text())
        summary = json.loads((run_dir / "summary.json").read_text())["benchmarks"][name]
        assert rescored["pass@1"] == summary["pass@1"] and rescored["n_samples"] == 6


def test_resume_regenerates_only_unfinished_problems(run_dir, tiny_model, repo, tmp_path):
    import shutil

    out = tmp_path / "resumed"
    shutil.copytree(run_dir, out)
    path = out / "math500.samples.jsonl"
    rows = read_jsonl(path)
    kept = rows[:3]  # problem 2 complete, problem 2's second sample lost, problem 3 missing
    path.write_text("".join(json.dumps(r) + "\n" for r in kept) + '{"problem_id": "test/alg')  # cut-off line
    assert run_main([str(repo / "recipes" / "eval" / "quick.yaml"), "--model", str(tiny_model), "--out", str(out),
                     *ARGS]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["resumed_problems"] == 1 + 3  # one math500 problem + all aime24 problems
    after = read_jsonl(path)
    assert after[:2] == rows[:2]
    assert sorted((r["problem_id"], r["sample"]) for r in after) == sorted((r["problem_id"], r["sample"]) for r in rows)
    assert summary["benchmarks"]["math500"]["n_samples"] == 6


def test_rerun_with_other_settings_is_refused(run_dir, tiny_model, repo, capsys):
    args = [a for a in ARGS if not a.startswith("sampling.max_new_tokens")] + ["sampling.max_new_tokens=25"]
    rc = run_main([str(repo / "recipes" / "eval" / "quick.yaml"), "--model", str(tiny_model), "--out", str(run_dir),
                   *args])
    assert rc == 2
    assert "different 'sampling.max_new_tokens' (24 != 25)" in capsys.readouterr().err


def test_recipe_errors_name_the_key(repo, capsys):
    assert run_main([str(repo / "recipes" / "eval" / "quick.yaml"), "--model", "x", "sampling.topp=0.9"]) == 2
    assert "unknown key 'sampling.topp'" in capsys.readouterr().err
    assert run_main([str(repo / "recipes" / "eval" / "quick.yaml")]) == 2
    assert "no model given" in capsys.readouterr().err
