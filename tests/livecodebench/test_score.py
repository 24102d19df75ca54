"""`python -m eval score --benchmark livecodebench`: the real command on a small benchmark directory."""

from __future__ import annotations

import json
import subprocess
import sys

from eval.livecodebench.score import pass_at_k


def _score(args, cwd):
    return subprocess.run([sys.executable, "-m", "eval", "score", "--benchmark", "livecodebench", *args],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


def test_score_command(tmp_path, lcb, repo):
    bench = tmp_path / "bench"
    lcb.write_benchmark(bench, "test5.jsonl")  # the official file name, found via --benchmark-dir
    S = lcb.SOLUTIONS
    rows = [
        {"problem_id": "abc001_a", "response": lcb.response(S["sum_ok"]), "sample": 0},
        {"problem_id": "abc001_a", "response": lcb.response(S["sum_slow"]), "sample": 1},
        {"problem_id": "3301", "response": lcb.response(S["head_ok_tuple"]), "sample": 0},
        {"problem_id": "3301", "response": "I could not solve it.", "sample": 1},
        {"problem_id": "abc002_b", "response": lcb.response(S["mean_wrong_rounding"]), "sample": 0},
        {"problem_id": "abc002_b", "response": lcb.response(S["mean_ok_float"]), "sample": 1},
    ]
    responses = tmp_path / "responses.jsonl"
    responses.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "scored.jsonl"
    proc = _score(["--responses", str(responses), "--benchmark-dir", str(bench), "--out", str(out),
                   "--timeout", "1", "--workers", "2"], repo)
    assert proc.returncode == 0, proc.stderr
    scored = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["problem_id"], r["sample"]) for r in scored] == [(r["problem_id"], r["sample"]) for r in rows]
    assert all(r["response"] == o["response"] for r, o in zip(scored, rows, strict=True))
    assert [r["correct"] for r in scored] == [True, False, True, False, False, True]
    assert scored[0]["extracted"] == S["sum_ok"]  # the final block, not the draft in the thinking
    assert scored[1]["test_verdicts"] == ["time_limit", "not_run", "not_run", "not_run"]
    assert scored[3]["extracted"] == "" and scored[3]["test_verdicts"] == ["runtime_error", "not_run", "not_run"]
    assert scored[4]["test_verdicts"] == ["passed", "wrong_answer", "not_run"]
    assert scored[4]["failure"] == "wrong answer at line 1: '1.2' != '1.25'"
    summary = json.loads(out.with_suffix(".summary.json").read_text())
    assert summary["pass@1"] == 0.5 and summary["n_rows"] == 6 and summary["n_problems"] == 3
    assert summary["pass@1_by_difficulty"] == {"easy": 0.5, "medium": 0.5}
    assert summary["outcomes"] == {"passed": 3, "runtime_error": 1, "time_limit": 1, "wrong_answer": 1}
    assert summary["no_code_extracted"] == 1 and summary["isolated"] is True
    assert json.loads(proc.stdout)["pass@1"] == 0.5


def test_unknown_problem_id_names_the_row(tmp_path, lcb, repo):
    bench = tmp_path / "bench"
    lcb.write_benchmark(bench)
    responses = tmp_path / "r.jsonl"
    responses.write_text(json.dumps({"problem_id": "abc001_a", "response": ""}) + "\n"
                         + json.dumps({"problem_id": "nope_z", "response": ""}) + "\n")
    proc = _score(["--responses", str(responses), "--benchmark-dir", str(bench)], repo)
    assert proc.returncode != 0
    assert "row 2: 'nope_z'" in proc.stderr and "5 problems loaded" in proc.stderr


def test_pass_at_k():
    assert pass_at_k(10, 0, 1) == 0.0 and pass_at_k(10, 10, 5) == 1.0
    assert abs(pass_at_k(4, 1, 1) - 0.25) < 1e-12 and abs(pass_at_k(4, 1, 2) - 0.5) < 1e-12
