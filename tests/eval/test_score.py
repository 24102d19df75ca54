"""`eval score` as a user re-scoring another harness's outputs: rows that name the problem by id or by its text,
rows that carry their own `gold` (GPQA letters under the other harness's option order), math benchmarks read from
files (GSM8K, MATH, AMC, OlympiadBench layouts), the strict reading, and the graders' audit file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.benchmarks import load_benchmark
from eval.score import main as score_main

DATA = Path(__file__).parent / "data"


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _score(tmp_path: Path, rows: list[dict], *args: str) -> tuple[list[dict], dict]:
    responses = _write(tmp_path / "responses.jsonl", rows)
    out = tmp_path / "scored.jsonl"
    assert score_main(["--responses", str(responses), "--out", str(out), *args]) == 0
    scored = [json.loads(x) for x in out.read_text().splitlines()]
    return scored, json.loads(out.with_suffix(".summary.json").read_text())


def test_rows_name_the_problem_by_id_or_by_text(tmp_path, shared):
    math500 = {r["unique_id"]: r for r in map(json.loads, (shared / "benchmarks" / "math500.jsonl").open())}
    p807 = math500["test/precalculus/807.json"]
    rows = [
        {"problem_id": "test/precalculus/807.json", "response": "<think>.</think>$\\boxed{(3, \\frac{\\pi}{2})}$"},
        {"id": "test/precalculus/807.json", "response": "<think>.</think>$\\boxed{(3, \\pi)}$"},
        # another harness's row: the problem's text with different spacing, no id
        {"problem": "  " + p807["problem"].replace(" ", "  ") + "\n", "response": "<think>.</think>So it is $(3,\\pi/2)$."},
        {"question": p807["problem"], "response": "<think>ran out"},
    ]
    scored, summary = _score(tmp_path, rows, "--benchmark", "math500")
    assert [r["problem_id"] for r in scored] == ["test/precalculus/807.json"] * 4
    assert [r["correct"] for r in scored] == [True, False, True, False]
    assert [r["how"] for r in scored] == ["boxed", "boxed", "last_sentence", "truncated"]
    assert [r["format_ok"] for r in scored] == [True, True, False, False]
    assert summary["pass@1"] == 50.0 and summary["pass@1_strict"] == 25.0 and summary["format_rate"] == 50.0
    assert summary["truncated_rate"] == 25.0 and summary["by"]["subject"] == {"Precalculus": {"n_problems": 1,
                                                                                              "pass@1": 50.0}}
    strict, strict_summary = _score(tmp_path, rows, "--benchmark", "math500", "--strict-format")
    assert [r["correct"] for r in strict] == [True, False, False, False]
    assert strict_summary["pass@1"] == 25.0 and strict_summary["strict_format"] is True


def test_gold_on_the_row_overrides_the_benchmark(tmp_path):
    rows = [{"problem_id": "2024-I-1", "gold": "7", "response": "<think>.</think>\\boxed{7}"},
            {"problem_id": "2024-I-1", "response": "<think>.</think>\\boxed{204}"},
            {"problem_id": "not-in-aime", "gold": "12", "response": "<think>.</think>\\boxed{12}"}]
    scored, _ = _score(tmp_path, rows, "--benchmark", "aime24")
    assert [(r["gold"], r["correct"]) for r in scored] == [("7", True), ("204", True), ("12", True)]


def test_gpqa_letters_graded_against_the_rows_own_gold(tmp_path, shared):
    """Another harness shuffled GPQA options its own way: its letter is graded against its own gold letter."""
    path = shared / "benchmarks" / "gpqa_diamond.jsonl"
    ours = load_benchmark("gpqa_diamond", path).problems[:2]
    theirs = {p.problem_id: ("A" if p.gold != "A" else "B") for p in ours}  # their correct option sits elsewhere
    rows = [{"problem_id": p.problem_id, "gold": theirs[p.problem_id], "response": f"Answer: {theirs[p.problem_id]}"}
            for p in ours]
    rows += [{"problem_id": p.problem_id, "response": f"Answer: {theirs[p.problem_id]}"} for p in ours]
    scored, summary = _score(tmp_path, rows, "--benchmark", "gpqa_diamond", "--data", str(path))
    assert [r["correct"] for r in scored] == [True, True, False, False]
    # every row has a gold: the GPQA file is not needed at all
    gold_only, _ = _score(tmp_path, rows[:2], "--benchmark", "gpqa_diamond")
    assert [r["correct"] for r in gold_only] == [True, True]


def test_math_benchmarks_from_files(tmp_path):
    math_test = _write(tmp_path / "math_test.jsonl", [
        {"problem": "What is $1+1$?", "solution": "Clearly $1+1=\\boxed{2}$.", "level": "Level 1", "type": "Algebra",
         "unique_id": "test/algebra/1.json"},
        {"problem": "Simplify $\\frac{2}{4}$.", "solution": "It is $\\boxed{\\frac12}$.", "level": "Level 2",
         "type": "Prealgebra", "unique_id": "test/prealgebra/7.json"}])
    amc = _write(tmp_path / "amc23.jsonl", [{"id": 0, "question": "How many sides has a hexagon?", "answer": 6.0}])
    olympiad = tmp_path / "olympiadbench.json"
    olympiad.write_text(json.dumps([{"id": 1606, "question": "Find $x$ if $2x = 1$.", "final_answer": ["$\\frac{1}{2}$"],
                                     "subfield": "Algebra"}]))
    cases = [
        (math_test, [{"problem_id": "test/algebra/1.json", "response": "\\boxed{2}"},
                     {"problem": "Simplify $\\frac{2}{4}$.", "response": "The answer is 0.5."}], [True, True]),
        (amc, [{"problem_id": "0", "response": "<think>.</think>\\boxed{6}"}], [True]),
        (olympiad, [{"problem_id": "1606", "response": "<think>.</think>$x = \\boxed{0.5}$"},
                    {"problem_id": "1606", "response": "<think>.</think>$x = \\boxed{2}$"}], [True, False]),
        (DATA / "gsm8k_test_head50.jsonl", [{"problem_id": "gsm8k_test_head50-1", "response": "She makes \\boxed{18}."}],
         [True]),
    ]
    for path, rows, expected in cases:
        scored, summary = _score(tmp_path, rows, "--benchmark", "math", "--data", str(path))
        assert [r["correct"] for r in scored] == expected, path.name
    scored, _ = _score(tmp_path, [{"problem_id": "gsm8k-test-1", "response": "\\boxed{18}"}], "--benchmark", "gsm8k",
                       "--data", str(DATA / "gsm8k_test_head50.jsonl"))
    assert scored[0]["correct"] and scored[0]["gold"] == "18"


def test_disagreements_between_the_graders_are_written_for_audit(tmp_path):
    # The NeMo-Skills sample where the graders differ: math-verify takes an equation's right-hand side, the
    # Qwen-style second grader does not.
    rows = [{"problem_id": "test/algebra/2193.json", "response": "<think>.</think>\\boxed{x = 5}"},
            {"problem_id": "q1", "gold": "81", "response": "<think>.</think>\\boxed{(x+y)^2=81}"}]
    scored, summary = _score(tmp_path, rows, "--benchmark", "math500")
    audit = [json.loads(x) for x in (tmp_path / "scored.disagreements.jsonl").read_text().splitlines()]
    assert summary["grader_disagreements"] == 1 and summary["disagreements_file"].endswith("scored.disagreements.jsonl")
    assert [(a["problem_id"], a["extracted"], a["correct"], a["second_correct"]) for a in audit] == [
        ("q1", "(x+y)^2=81", True, False)]
    assert audit[0]["response_tail"].endswith("\\boxed{(x+y)^2=81}")


def test_bad_input_is_one_clean_line(tmp_path, capsys):
    responses = _write(tmp_path / "r.jsonl", [{"problem_id": "test/nope/1.json", "response": "\\boxed{1}"}])
    assert score_main(["--benchmark", "math500", "--responses", str(responses)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "row 1: problem_id 'test/nope/1.json' is not a math500 problem" in err
    _write(responses, [{"problem_id": "test/precalculus/807.json"}])
    assert score_main(["--benchmark", "math500", "--responses", str(responses)]) == 2
    assert "row 1: missing or non-string field 'response'" in capsys.readouterr().err
    _write(responses, [{"problem_id": "1", "response": "\\boxed{1}"}])
    assert score_main(["--benchmark", "math", "--responses", str(responses)]) == 2
    assert "set the benchmark's `path`" in capsys.readouterr().err
    assert score_main(["--benchmark", "nope", "--responses", str(responses)]) == 2
    assert "unknown benchmark 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["{not json", "[1, 2]"])
def test_malformed_lines_name_file_and_line(tmp_path, capsys, bad):
    responses = tmp_path / "r.jsonl"
    responses.write_text(json.dumps({"problem_id": "x", "response": ""}) + "\n" + bad + "\n")
    assert score_main(["--benchmark", "math500", "--responses", str(responses)]) == 2
    assert f"{responses}:2:" in capsys.readouterr().err
