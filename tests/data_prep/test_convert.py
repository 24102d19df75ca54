"""Converters: seed formats → corpus rows → seed formats, exactly, on the real sample rows."""

from __future__ import annotations

import json
import subprocess
import sys

from data_prep.convert import am_to_row, openmath_to_row, row_to_am, row_to_openmath
from data_prep.row import make_row, row_errors


def _am_rows(shared):
    path = shared / "samples" / "AM-DeepSeek-R1-Distilled-1.4M__am_0.9M_sample_1k__row1.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _openmath_rows(shared):
    """OpenMathInstruct-1-shaped records made from real NeMo-Skills generations (same fields, real text)."""
    rows = []
    for path in sorted((shared / "samples" / "nemo_skills_openmath_outputs").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            r = json.loads(line)
            rows.append({
                "question": r["problem"], "generated_solution": r["generation"],
                "expected_answer": r["expected_answer"], "predicted_answer": r["predicted_answer"],
                "error_message": r["error_message"], "is_correct": r["symbolic_correct"],
                "dataset": "math", "generation_type": "masked_reference_solution",
            })
    return rows


def test_am_round_trip_is_exact(shared):
    for rec in _am_rows(shared):
        row = am_to_row(rec)
        assert row_errors(row) == []
        assert row_to_am(row) == rec
        assert json.dumps(row_to_am(row), sort_keys=True) == json.dumps(rec, sort_keys=True)


def test_am_row_fields(shared):
    rec = _am_rows(shared)[0]
    row = am_to_row(rec)
    assert row["problem"].startswith("Determine the radius of a cylindrical can")
    assert row["source"] == "natural_reasoning"
    assert row["teacher"] == "am-0309"
    assert row["category"] == "other"  # no reference answer, no test case
    assert row["messages"][-1]["content"].startswith("<think>Okay, let me see.")
    assert "</think>\n<answer>" in row["messages"][-1]["content"]
    assert set(row["messages"][0]) == {"role", "content"}


def test_distillery_row_to_am_splits_think_and_answer():
    row = make_row(problem="1+1?", response="<think>one plus one</think>\n<answer>\\boxed{2}</answer>",
                   source="gsm8k", category="math", reference_answer="2", teacher="r1")
    am = row_to_am(row)
    info = am["messages"][1]["info"]
    assert info == {"source": "r1", "reference_answer": "2", "test_case": None,
                    "think_content": "one plus one", "answer_content": "\\boxed{2}"}
    back = am_to_row(am)
    assert back["messages"] == row["messages"] and back["reference_answer"] == "2"


def test_openmath_round_trip_is_exact(shared):
    recs = _openmath_rows(shared)
    assert len(recs) == 150
    for rec in recs:
        row = openmath_to_row(rec)
        assert row_errors(row) == [], row_errors(row)
        assert row_to_openmath(row) == rec
    passed = sum(openmath_to_row(r)["verification"]["passed"] for r in recs)
    assert passed == 31 + 37 + 39  # NeMo-Skills' own symbolic_correct verdicts, carried over


def test_openmath_missing_field_is_named():
    import pytest

    from data_prep.convert import ConvertError

    with pytest.raises(ConvertError, match="generated_solution"):
        openmath_to_row({"question": "x", "generated_solution": ""})


def test_convert_cli_rejects_bad_lines_with_line_numbers(shared, tmp_path):
    src = tmp_path / "am.jsonl"
    good = (shared / "samples" / "AM-DeepSeek-R1-Distilled-1.4M__am_0.9M_sample_1k__row1.jsonl").read_text().strip()
    src.write_text(good + "\n{not json\n" + json.dumps({"messages": [{"role": "user"}]}) + "\n")
    out = tmp_path / "rows.jsonl"
    cmd = [sys.executable, "-m", "data_prep", "convert", "--from", "am", "--to", "row", str(src), str(out)]
    subprocess.run(cmd, check=True, capture_output=True)
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    rejects = [json.loads(x) for x in out.with_suffix(".rejects.jsonl").read_text().splitlines()]
    assert len(rows) == 1
    assert [(r["line"], r.get("field")) for r in rejects] == [(2, None), (3, "messages")]
    assert "malformed JSON" in rejects[0]["reason"] and rejects[0]["file"] == str(src)
    # and back to AM, identical to the input's good line
    back = tmp_path / "am2.jsonl"
    subprocess.run([sys.executable, "-m", "data_prep", "convert", "--from", "row", "--to", "am", str(out), str(back)],
                   check=True, capture_output=True)
    assert json.loads(back.read_text()) == json.loads(good)
