"""LiveCodeBench inside `eval run`: a handmade problem file in the official schema, graded in the real sandbox."""

from __future__ import annotations

import json

import pytest
import yaml

from eval.benchmarks import load_benchmark
from eval.benchmarks.registry import get_benchmark
from eval.generation.base import Completion
from eval.grading.dispatch import GradeOptions
from eval.jsonl import read_jsonl
from eval.livecodebench.problems import encode_private_tests
from eval.run import grade_rows
from eval.run import main as run_main


def _row(qid: str, date: str, public: list, private: list, func_name: str | None = None, starter: str = "") -> dict:
    return {"question_title": qid, "question_content": f"Solve {qid}.", "platform": "leetcode" if func_name else "atcoder",
            "question_id": qid, "contest_id": qid, "contest_date": f"{date}T00:00:00", "starter_code": starter,
            "difficulty": "easy", "public_test_cases": json.dumps(public),
            "private_test_cases": encode_private_tests(private),
            "metadata": json.dumps({"func_name": func_name} if func_name else {})}


@pytest.fixture(scope="module")
def lcb_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("lcb") / "test5.jsonl"
    rows = [
        _row("abc900_a", "2024-08-03", [{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}],
             [{"input": "5 7\n", "output": "12\n", "testtype": "stdin"}]),
        _row("3999", "2024-12-01", [{"input": "[1, 2, 3]", "output": "6", "testtype": "functional"}],
             [{"input": "[]", "output": "0", "testtype": "functional"}], func_name="total",
             starter="class Solution:\n    def total(self, nums: List[int]) -> int:\n        "),
        _row("abc100_a", "2023-01-01", [{"input": "1\n", "output": "1\n", "testtype": "stdin"}], []),  # out of window
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_loader_keeps_the_date_window_and_the_official_prompt(lcb_file):
    problems = load_benchmark("livecodebench", lcb_file).problems
    assert [p.problem_id for p in problems] == ["abc900_a", "3999"]
    prompt = get_benchmark("livecodebench").render(problems[1])
    assert prompt.startswith("You will be given a question (problem specification)")
    assert "class Solution:" in prompt and problems[1].problem == "Solve 3999."


def test_grade_rows_runs_programs_in_the_sandbox(lcb_file):
    bench = get_benchmark("livecodebench")
    problems = load_benchmark("livecodebench", lcb_file).problems
    sum_ok = "<think>add them</think>\n```python\na, b = map(int, input().split())\nprint(a + b)\n```"
    sum_bad = "<think>x</think>\n```python\na, b = map(int, input().split())\nprint(a - b)\n```"
    call_ok = ("<think>draft ```python\nbroken(\n```</think>\n```python\nclass Solution:\n"
               "    def total(self, nums):\n        return sum(nums)\n```")
    completions = [[Completion(sum_ok, 10, "stop"), Completion(sum_bad, 10, "stop"),
                    Completion("<think>still thinking ```python\nprint(3)\n```", 10, "length")],
                   [Completion(call_ok, 10, "stop"), Completion("<think>x</think> no code here", 5, "stop"),
                    Completion(call_ok.replace("sum(nums)", "len(nums)"), 10, "stop")]]
    rows = grade_rows(bench, problems, [bench.render(p) for p in problems], completions,
                      GradeOptions(workers=2, code_timeout_s=6.0))
    assert [r["correct"] for r in rows] == [True, False, False, True, False, False]
    assert [r["reason"] for r in rows][:3] == ["ok", "wrong_answer", "truncated"]
    assert [r["reason"] for r in rows][3:5] == ["ok", "no answer"]
    assert rows[3]["extracted"].startswith("class Solution:")  # the final block, not the draft in the reasoning


def test_eval_run_with_livecodebench(lcb_file, tiny_model, tmp_path):
    recipe = tmp_path / "lcb.yaml"
    recipe.write_text(yaml.safe_dump({
        "name": "lcb-smoke",
        "benchmarks": [{"name": "livecodebench", "samples": 2, "limit": None, "offset": 0, "path": str(lcb_file),
                        "prompt_template": None, "options": {"release": "release_v5", "start_date": "2024-08-01",
                                                             "end_date": "2025-01-31"}}],
        "sampling": {"temperature": 0.6, "top_p": 0.95, "max_new_tokens": 16, "seed": 0},
        "prompt": {"system_prompt": None, "think_prefix": False, "chat_template": None},
        "hf": {"batch_size": 4, "dtype": "float32", "device": "cpu", "attn_implementation": "sdpa"},
    }))
    out = tmp_path / "out"
    assert run_main([str(recipe), "--model", str(tiny_model), "--out", str(out)]) == 0
    rows = read_jsonl(out / "livecodebench.samples.jsonl")
    assert [(r["problem_id"], r["sample"]) for r in rows] == [("abc900_a", 0), ("abc900_a", 1), ("3999", 0),
                                                              ("3999", 1)]
    assert not any(r["correct"] for r in rows)  # a random model writes no program
    summary = json.loads((out / "summary.json").read_text())["benchmarks"]["livecodebench"]
    assert (summary["n_problems"], summary["pass@1"], summary["reference_column"]) == (2, 0.0, "LCB")
