"""Sources: adapters on real sample rows and hand-made rows in the public schemas, fields mapping, caps, weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data_prep.recipe import BuildRecipe, SourceConfig, check_recipe, load_build_recipe
from data_prep.reject import Reject
from data_prep.sources import SourceStatus, iter_source, mixed, quotas
from eval.recipe import RecipeError


def _read(**kw) -> tuple[list[dict], list[Reject], SourceStatus]:
    src = SourceConfig(**kw)
    status = SourceStatus(src.name or src.format, str(src.path))
    got = list(iter_source(src, status))
    return [g for g in got if isinstance(g, dict)], [g for g in got if isinstance(g, Reject)], status


def _jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_real_samples_am_s1k_gsm8k_and_nemo_skills(shared):
    am, rej, _ = _read(path=str(next((shared / "samples").glob("AM-*.jsonl"))), format="am", response="own")
    assert not rej and len(am) == 1 and am[0]["row"]["messages"][-1]["content"].startswith("<think>")
    assert am[0]["origin"]["line"] == 1 and am[0]["source"] == "am"

    s1k, rej, _ = _read(path=str(shared / "samples" / "s1K__contamination-audit-converted__1000rows.json"),
                        format="s1k", limit=50)
    assert len(s1k) == 50 and not rej
    assert [i["origin"]["original_id"] for i in s1k[:3]] == ["0", "1", "2"]
    parquet, rej, _ = _read(path=str(shared / "samples" / "s1K__curator-test-fixture__5rows.parquet"), format="s1k")
    assert len(parquet) == 5 and parquet[0]["problem"].startswith("Let  $a,b,A,B$")

    # NeMo-Skills outputs are OpenMathInstruct-1-shaped under other names: the fields mapping renames them
    nemo, rej, _ = _read(path=str(shared / "samples" / "nemo_skills_openmath_outputs" / "output-rs*.jsonl"),
                         format="openmath", name="nemo", response="own",
                         fields={"problem": "problem", "response": "generation", "answer": "expected_answer"})
    assert len(nemo) == 150 and not rej
    assert len({i["id"] for i in nemo}) == 150  # same NeMo id in rs0/rs1/rs2: the file keeps them apart
    assert nemo[0]["reference_answer"] == "220" and nemo[0]["origin"]["original_id"] == "train/number_theory/106.json"


def test_hand_made_rows_in_public_schemas(tmp_path):
    numina = _jsonl(tmp_path / "numina.jsonl", [
        {"problem": "Find $x$ if $2x = 6$.", "solution": "Divide: $x = \\boxed{3}$.", "source": "cn_k12",
         "messages": [{"role": "user", "content": "Find $x$ if $2x = 6$."}]}])
    items, rej, _ = _read(path=str(numina), format="numina")
    assert items[0]["reference_answer"] == "3" and items[0]["reference_response"].startswith("<think>")

    omi2 = _jsonl(tmp_path / "omi2.jsonl", [
        {"problem": "What is $3+4$?", "generated_solution": "Adding gives $\\boxed{7}$.", "expected_answer": "7",
         "problem_source": "augmented_math"}])
    items, rej, _ = _read(path=str(omi2), format="openmath2", response="own")
    assert items[0]["reference_answer"] == "7" and items[0]["row"]["messages"][-1]["content"].startswith("<think>")

    ot = _jsonl(tmp_path / "ot.jsonl", [
        {"system": "Your role as an assistant ...", "conversations": [
            {"from": "user", "value": "Compute $5 \\cdot 6$."},
            {"from": "assistant", "value": "<|begin_of_thought|>5 times 6 is 30.<|end_of_thought|>\n\n"
                                           "<|begin_of_solution|>$\\boxed{30}$<|end_of_solution|>"}]}])
    items, rej, _ = _read(path=str(ot), format="openthoughts", response="own")
    assert items[0]["problem"] == "Compute $5 \\cdot 6$." and items[0]["reference_answer"] == "30"
    assert items[0]["row"]["messages"][-1]["content"] == "<think>\n5 times 6 is 30.\n</think>\n\n$\\boxed{30}$"

    tests = [{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}]
    lcb = _jsonl(tmp_path / "lcb.jsonl", [
        {"question_title": "Sum", "question_content": "Read a and b, print a+b.", "question_id": "abc001_a",
         "starter_code": "", "public_test_cases": json.dumps(tests), "private_test_cases": "[]"},
        {"question_title": "No tests", "question_content": "Print hello world please.", "question_id": "x1"}])
    items, rej, _ = _read(path=str(lcb), format="livecodebench")
    assert items[0]["category"] == "code" and items[0]["test_cases"] == tests
    assert items[0]["origin"]["original_id"] == "abc001_a"
    assert [(r.line, r.field, r.reason) for r in rej] == [(2, "public_test_cases",
                                                         "no test cases (a code problem needs them)")]

    math = _jsonl(tmp_path / "math.jsonl", [{"problem": "Simplify $\\frac{4}{8}$.", "level": "Level 1",
                                             "type": "Prealgebra", "solution": "It is $\\boxed{\\frac{1}{2}}$."}])
    items, _, _ = _read(path=str(math), format="math")
    assert items[0]["reference_answer"] == "\\frac{1}{2}"


def test_fields_mapping_missing_field_is_a_reject_naming_it(tmp_path):
    p = _jsonl(tmp_path / "q.jsonl", [{"q": "What is 1+1? Answer as a number.", "a": "2"}, {"q": "What is 2+2?"}])
    items, rej, status = _read(path=str(p), format="fields", name="custom", fields={"problem": "q", "answer": "a"})
    assert [i["reference_answer"] for i in items] == ["2"]
    assert [(r.line, r.field, r.reason, r.source) for r in rej] == [
        (2, "a", "mapped field for 'answer' is missing", "custom")]
    assert status.records == 2 and status.items == 1 and status.rejects == 1


def test_caps_weights_and_unique_ids(tmp_path):
    a = _jsonl(tmp_path / "a.jsonl", [{"question": f"A problem number {i}?", "answer": f"#### {i}"} for i in range(50)])
    b = _jsonl(tmp_path / "b.jsonl", [{"question": f"B problem number {i}?", "answer": f"#### {i}"} for i in range(50)])
    srcs = [SourceConfig(path=str(a), format="gsm8k", name="a", weight=3.0),
            SourceConfig(path=str(b), format="gsm8k", name="b", weight=1.0, limit=5)]
    assert quotas(srcs, 20) == [15, 5]
    statuses = [SourceStatus("a", ""), SourceStatus("b", "")]
    got = list(mixed(srcs, statuses, max_items=20))
    assert [g["source"] for g in got[:8]] == ["a", "a", "b", "a", "a", "a", "b", "a"]
    assert sum(g["source"] == "a" for g in got) == 15 and sum(g["source"] == "b" for g in got) == 5
    # the same file read twice under one name (different offsets) still gives unique ids
    twice = [SourceConfig(path=str(a), format="gsm8k", name="a", limit=10),
             SourceConfig(path=str(a), format="gsm8k", name="a", offset=10, limit=10)]
    ids = [g["id"] for g in mixed(twice, [SourceStatus("a", ""), SourceStatus("a", "")])]
    assert len(ids) == 20 == len(set(ids))


def test_recipe_is_checked_whole_before_work(tmp_path):
    data = _jsonl(tmp_path / "d.jsonl", [{"question": "Q?", "answer": "#### 1"}])
    r = tmp_path / "r.yaml"

    def err(body: str) -> str:
        r.write_text(body)
        with pytest.raises(RecipeError) as exc:
            load_build_recipe(r)
        assert str(r) in str(exc.value)
        return str(exc.value)

    assert "key 'sources[0].response' must be one of ['reference', 'teacher', 'own'], got 'teach'" in err(
        f"name: x\nsources:\n  - {{path: {data}, format: gsm8k, response: teach}}\n")
    assert "key 'sources[1].path'" in err(
        f"name: x\nsources:\n  - {{path: {data}, format: gsm8k}}\n  - {{path: {tmp_path}/nope.jsonl, format: gsm8k}}\n")
    assert "key 'sources[0].fields.question'" in err(
        f"name: x\nsources:\n  - {{path: {data}, format: gsm8k, fields: {{question: q}}}}\n")
    assert "key 'sources[0].response' is 'own' but format 'gsm8k'" in err(
        f"name: x\nsources:\n  - {{path: {data}, format: gsm8k, response: own}}\n")
    assert "key 'sources[0].response' is 'teacher' but the recipe has no 'teacher'" in err(
        f"name: x\nsources:\n  - {{path: {data}, format: gsm8k, response: teacher}}\n")
    assert "key 'engine' must be one of ['local', 'ray']" in err(
        f"name: x\nengine: spark\nsources:\n  - {{path: {data}, format: gsm8k}}\n")
    assert "key 'decontaminate.benchmarks[0]'" in err(
        f"name: x\ndecontaminate: {{benchmarks: [aime2099]}}\nsources:\n  - {{path: {data}, format: gsm8k}}\n")
    assert "key 'clean.non_text.max_ratio'" in err(
        f"name: x\nclean: {{non_text: {{max_ratio: 3}}}}\nsources:\n  - {{path: {data}, format: gsm8k}}\n")
    ok = BuildRecipe(name="x", sources=[SourceConfig(path=str(data), format="gsm8k")])
    check_recipe(ok, "r.yaml")
