"""Code extraction, output comparison and the official prompt text (checked against 279 real prompts)."""

from __future__ import annotations

import json
from datetime import datetime

from eval.livecodebench import build_messages, build_prompt, extract_code
from eval.livecodebench.compare import call_match, stdio_match
from eval.livecodebench.problems import Problem


def test_extract_takes_the_last_block():
    assert extract_code("```python\nprint(1)\n```\ntext\n```python\nprint(2)\nprint(3)\n```") == "print(2)\nprint(3)"
    assert extract_code("no code here") == ""
    assert extract_code("```python\nunterminated") == ""
    assert extract_code("```\nx = 1\n```") == "x = 1"
    # Three fence lines: the official rule takes the span between the last two, even if that is prose.
    assert extract_code("```python\na\n```\nprose\n```") == "prose"


def test_stdio_rules():
    assert stdio_match("3\n", "3") == (True, "")
    assert stdio_match("  3  \n\n\n", "3\n")[0]  # surrounding whitespace and trailing blank lines
    assert stdio_match("1 2 3\r\n4\r\n", "1 2 3\n4\n")[0]  # CRLF
    assert stdio_match("1.50\n", "1.5\n")[0] and stdio_match("3.0", "3")[0] and stdio_match("1e2", "100")[0]
    assert stdio_match("0.3333\n", "0.333333\n") == (False, "wrong answer at line 1: '0.3333' != '0.333333'")
    assert not stdio_match("1  2", "1 3")[0]
    assert stdio_match("1  2", "1 2")[0]  # token-wise Decimal comparison ignores inner spacing
    assert not stdio_match("Yes", "yes")[0]
    assert stdio_match("1\n2\n", "1\n") == (False, "wrong answer: 2 output lines, expected 1")
    assert not stdio_match("", "0")[0]


def test_call_rules():
    assert call_match("[1, 2]", "[1,2]") == (True, "")
    assert call_match("True", "true")[0] and call_match("None", "null")[0]
    assert call_match("2.0", "2")[0]
    assert not call_match("[(1, 2)]", "[[1, 2]]")[0]
    assert not call_match("'3'", "3")[0]
    assert call_match("<object at 0x1>", "1")[1].startswith("wrong answer: returned '<object at 0x1>', not a plain")


def test_prompts_match_the_official_text_for_all_279_problems(shared):
    bench = shared / "benchmarks"
    meta = {r["question_id"]: r for r in map(json.loads, (bench / "livecodebench_release_v5_problems_notests.jsonl")
                                               .read_text().splitlines())}
    official = [json.loads(line) for line in (bench / "livecodebench_2408_2502_prompts_qwq.jsonl").read_text().splitlines()]
    assert len(official) == 279
    for row in official:
        m = meta[row["question_id"]]
        problem = Problem(m["question_id"], m["question_title"], m["question_content"], m["platform"],
                          m["contest_id"], datetime.fromisoformat(m["contest_date"]), m["starter_code"],
                          m["difficulty"], [], [])
        assert build_prompt(problem) == row["prompt"], row["question_id"]
    messages = build_messages(problem, reasoning=False)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"].startswith("You are an expert Python programmer.")
    assert "You will NOT return anything except for the program.\n\nQuestion:" in messages[1]["content"]
