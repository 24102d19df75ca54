"""Benchmark registry and loaders: shipped files, GPQA from a path (synthetic questions only), bad rows."""

from __future__ import annotations

import csv
import json
from collections import Counter

import pytest

from eval.benchmarks import BENCHMARKS, BenchmarkDataError, load_benchmark
from eval.benchmarks.loaders import GPQA_ENV, GPQA_FIELDS
from eval.grading.choice import LETTERS


def _synthetic_gpqa(n: int) -> list[dict[str, str]]:
    return [{"Question": f"Which of these is {i} + {i}?", "Correct Answer": str(2 * i),
             "Incorrect Answer 1": str(2 * i + 1), "Incorrect Answer 2": f"{2 * i + 2}\n",
             "Incorrect Answer 3": str(2 * i + 3), "Record ID": f"recSYN{i:03d}", "High-level domain": "Math",
             "Canary String": "not a real GPQA row"} for i in range(n)]


def test_registry_is_data():
    assert set(BENCHMARKS) == {"math500", "aime24", "gpqa_diamond", "gsm8k", "livecodebench", "math"}
    for b in BENCHMARKS.values():
        assert b.grader in ("math", "choice", "code") and b.metric == "pass@1" and b.default_samples >= 1
    assert BENCHMARKS["aime24"].default_samples == 16  # AM protocol
    with pytest.raises(KeyError, match="unknown benchmark 'nope'"):
        load_benchmark("nope")


def test_shipped_files_match_shared_copies(repo, shared):
    for name in ("math500.jsonl", "aime24.jsonl"):
        assert (repo / "eval" / "benchmarks" / "data" / name).read_bytes() == (shared / "benchmarks" / name).read_bytes()
    assert not list((repo / "eval").rglob("*gpqa*.jsonl")) and not list((repo / "eval").rglob("*gpqa*.csv"))


def test_math500_and_aime24_load():
    math500 = load_benchmark("math500").problems
    assert len(math500) == 500 and math500[0].problem_id == "test/precalculus/807.json"
    assert math500[0].gold == "\\left( 3, \\frac{\\pi}{2} \\right)"
    aime = load_benchmark("aime24").problems
    assert len(aime) == 30 and len({p.problem_id for p in aime}) == 30
    assert aime[0].problem_id == "2024-I-1" and aime[0].gold == "204"
    assert sum(p.problem_id.startswith("2024-II-") for p in aime) == 15


def test_math_prompt_keeps_latex_braces():
    b = BENCHMARKS["math500"]
    p = load_benchmark("math500").problems[0]
    text = b.render(p)
    assert text.startswith("Convert the point $(0,3)$")
    assert text.endswith("Please reason step by step, and put your final answer within \\boxed{}.")
    assert b.render(p, "Q: {question}\nA:") == f"Q: {p.problem}\nA:"


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_gpqa_from_a_synthetic_file(tmp_path, fmt, monkeypatch):
    rows = _synthetic_gpqa(40)
    path = tmp_path / f"gpqa.{fmt}"
    if fmt == "csv":
        with path.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    problems = load_benchmark("gpqa_diamond", path).problems
    assert len(problems) == 40
    for row, p in zip(rows, problems, strict=True):
        assert p.problem_id == row["Record ID"]
        assert p.fields[p.gold] == row["Correct Answer"]  # the gold letter points at the right option
        assert sorted(p.fields[x] for x in LETTERS) == sorted(
            [row["Correct Answer"], row["Incorrect Answer 1"], row["Incorrect Answer 2"].strip(), row["Incorrect Answer 3"]])
        assert [p.fields[x] for x in LETTERS] == [
            [row["Correct Answer"], row["Incorrect Answer 1"], row["Incorrect Answer 2"].strip(),
             row["Incorrect Answer 3"]][i] for i in p.meta["permutation"]]
    prompt = BENCHMARKS["gpqa_diamond"].render(problems[0])
    assert "Answer: $LETTER" in prompt and "\nA) " in prompt and "\nD) " in prompt
    monkeypatch.setenv(GPQA_ENV, str(path))
    assert [p.gold for p in load_benchmark("gpqa_diamond").problems] == [p.gold for p in problems]


def test_gpqa_bad_row_names_file_line_and_field(tmp_path, monkeypatch):
    rows = _synthetic_gpqa(3)
    rows[1]["Incorrect Answer 2"] = "  "
    path = tmp_path / "gpqa.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(BenchmarkDataError, match=r"gpqa.jsonl:2: missing or empty field 'Incorrect Answer 2'"):
        load_benchmark("gpqa_diamond", path)
    with pytest.raises(BenchmarkDataError, match="not found"):
        load_benchmark("gpqa_diamond", tmp_path / "absent.csv")
    monkeypatch.delenv(GPQA_ENV, raising=False)
    with pytest.raises(BenchmarkDataError, match="DISTILLERY_GPQA_PATH"):  # hub offline in tests
        load_benchmark("gpqa_diamond")


def test_real_gpqa_file_loads_without_printing_it(shared):
    problems = load_benchmark("gpqa_diamond", shared / "benchmarks" / "gpqa_diamond.jsonl").problems
    assert len(problems) == 198 and len({p.problem_id for p in problems}) == 198
    assert all(set(GPQA_FIELDS) for p in problems)
    letters = Counter(p.gold for p in problems)
    assert set(letters) == set(LETTERS) and max(letters.values()) < 80
    assert Counter(p.meta["domain"] for p in problems) == {"Chemistry": 93, "Physics": 86, "Biology": 19}


def test_gsm8k_test_from_a_path(tmp_path, shared):
    lines = (shared / "samples" / "gsm8k_train.jsonl").read_text().splitlines()[:5]
    path = tmp_path / "gsm8k_test.jsonl"
    path.write_text("\n".join(lines) + "\n" + json.dumps({"question": "q", "answer": "no marker"}) + "\n")
    with pytest.raises(BenchmarkDataError, match=r"gsm8k_test.jsonl:6: field 'answer' must end in '#### <number>'"):
        load_benchmark("gsm8k", path)
    path.write_text("\n".join(lines) + "\n")
    problems = load_benchmark("gsm8k", path).problems
    assert [p.gold for p in problems] == [json.loads(x)["answer"].split("####")[-1].strip() for x in lines]
    assert problems[0].problem_id == "gsm8k-test-1"
