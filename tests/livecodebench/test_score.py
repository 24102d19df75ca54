"""`python -m eval score --benchmark livecodebench`: the real command on a small benchmark directory."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from eval.metrics import pass_at_k


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
        # reasoning never closed: the budget ran out, and the draft inside it is never executed
        {"problem_id": "abc002_b", "response": "<think>\nIt could be:\n```python\n" + S["mean_ok_float"] + "\n```\n",
         "sample": 2},
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
    assert [r["correct"] for r in scored] == [True, False, True, False, False, True, False]
    assert scored[0]["extracted"] == S["sum_ok"]  # the final block, not the draft in the thinking
    assert scored[1]["test_verdicts"] == ["time_limit", "not_run", "not_run", "not_run"]
    assert scored[3]["extracted"] is None and scored[3]["reason"] == "no answer" and scored[3]["test_verdicts"] == []
    assert scored[4]["test_verdicts"] == ["passed", "wrong_answer", "not_run"]
    assert scored[4]["failure"] == "wrong answer at line 1: '1.2' != '1.25'"
    assert (scored[6]["reason"], scored[6]["truncated"], scored[6]["test_verdicts"]) == ("truncated", True, [])
    summary = json.loads(out.with_suffix(".summary.json").read_text())
    # percentages, like every other benchmark: (1/2 + 1/2 + 1/3) / 3
    assert summary["pass@1"] == pytest.approx(100 * (0.5 + 0.5 + 1 / 3) / 3)
    assert summary["n_samples"] == 7 and summary["n_problems"] == 3
    assert summary["by"]["difficulty"] == {"easy": {"n_problems": 2, "pass@1": 50.0},
                                           "medium": {"n_problems": 1, "pass@1": pytest.approx(100 / 3)}}
    assert summary["reasons"] == {"ok": 3, "time_limit": 1, "no answer": 1, "wrong_answer": 1, "truncated": 1}
    assert summary["truncated_rate"] == pytest.approx(100 / 7)
    assert "pass@2" in summary and "pass_at_k" not in summary
    assert json.loads(proc.stdout)["pass@1"] == summary["pass@1"]


def test_unknown_problem_id_names_the_row(tmp_path, lcb, repo):
    bench = tmp_path / "bench"
    lcb.write_benchmark(bench)
    responses = tmp_path / "r.jsonl"
    responses.write_text(json.dumps({"problem_id": "abc001_a", "response": ""}) + "\n"
                         + json.dumps({"problem_id": "nope_z", "response": ""}) + "\n")
    proc = _score(["--responses", str(responses), "--benchmark-dir", str(bench)], repo)
    assert proc.returncode == 2
    assert "row 2: problem_id 'nope_z' is not a livecodebench problem (5 loaded)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_clean_errors_without_or_with_a_wrong_benchmark_dir(tmp_path, repo):
    responses = tmp_path / "r.jsonl"
    responses.write_text(json.dumps({"problem_id": "abc001_a", "response": "```python\nprint(1)\n```"}) + "\n")
    offline = _score(["--responses", str(responses)], repo)  # the hub is unreachable here
    assert offline.returncode == 2 and "Traceback" not in offline.stderr
    assert "no local file given" in offline.stderr and "--benchmark-dir" in offline.stderr
    wrong = _score(["--responses", str(responses), "--benchmark-dir", str(tmp_path / "nope")], repo)
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    assert "no such benchmark file or directory" in wrong.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    wrong2 = _score(["--responses", str(responses), "--benchmark-dir", str(empty)], repo)
    assert wrong2.returncode == 2 and "has neither livecodebench.jsonl nor any of" in wrong2.stderr


def test_clean_error_when_the_sandbox_is_unavailable(tmp_path, lcb, repo):
    bench = tmp_path / "bench"
    lcb.write_benchmark(bench)
    responses = tmp_path / "r.jsonl"
    responses.write_text(json.dumps({"problem_id": "abc001_a", "response": lcb.response(lcb.SOLUTIONS["sum_ok"])})
                         + "\n")
    env = {**__import__("os").environ, "DISTILLERY_SANDBOX_BWRAP": str(tmp_path / "no-bwrap")}
    proc = subprocess.run([sys.executable, "-m", "eval", "score", "--benchmark", "livecodebench", "--responses",
                           str(responses), "--benchmark-dir", str(bench)], capture_output=True, text=True,
                          timeout=120, cwd=repo, env=env)
    assert proc.returncode == 3, proc.stderr
    assert "sandbox unavailable" in proc.stderr and "Traceback" not in proc.stderr


def test_pass_at_k():
    assert pass_at_k(10, 0, 1) == 0.0 and pass_at_k(10, 10, 5) == 1.0
    assert abs(pass_at_k(4, 1, 1) - 0.25) < 1e-12 and abs(pass_at_k(4, 1, 2) - 0.5) < 1e-12
