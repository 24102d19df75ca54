"""Reference solutions as responses, ingest errors, dedup and decontamination on real rows."""

from __future__ import annotations

import json

from data_prep.decontaminate import Decontaminator
from data_prep.dedup import exact_dedup
from data_prep.ingest import Reject, ingest
from data_prep.reference import gsm8k_final_answer
from eval.grading.math import grade_many


def test_gsm8k_final_answer_drops_thousands_separators():
    assert gsm8k_final_answer("so 1,200 in all\n#### 1,200") == "1200"
    assert gsm8k_final_answer("#### 109,200,000") == "109200000"
    assert gsm8k_final_answer("#### -3.5") == "-3.5"
    assert gsm8k_final_answer("no marker") is None


def test_all_gsm8k_reference_solutions_verify(shared):
    """The ≥ 99% gate of the demo, on all 7,473 rows: a miss here is an extraction or grading bug."""
    items = list(ingest(shared / "samples" / "gsm8k_train.jsonl", "gsm8k", "gsm8k"))
    assert len(items) == 7473 and not any(isinstance(i, Reject) for i in items)
    grades = grade_many([(i["reference_answer"], i["reference_response"]) for i in items], timeout_s=10)
    failed = [(i["reference_answer"], g) for i, g in zip(items, grades) if not g.correct]
    assert failed == []
    first = items[0]["reference_response"]
    assert first.startswith("<think>\nNatalia sold 48/2 = 24 clips in May.") and "<<" not in first
    assert first.endswith("The final answer is $\\boxed{72}$.")


def test_ingest_rejects_name_file_line_and_field(tmp_path):
    p = tmp_path / "g.jsonl"
    p.write_text("\n".join([
        json.dumps({"question": "A?", "answer": "x\n#### 4"}),
        "{broken",
        json.dumps({"answer": "#### 3"}),
        json.dumps({"question": "B?", "answer": "no final line"}),
        "[1, 2]",
    ]) + "\n")
    got = list(ingest(p, "gsm8k", "gsm8k"))
    assert isinstance(got[0], dict) and got[0]["origin"] == {"file": str(p), "line": 1, "original_id": None}
    rejects = [(g.line, g.field, g.reason) for g in got if isinstance(g, Reject)]
    assert rejects[0][0] == 2 and rejects[0][2].startswith("malformed JSON")
    assert rejects[1] == (3, "question", "missing or empty problem text")
    assert rejects[2] == (4, "answer", "no '#### <answer>' line in the reference solution")
    assert rejects[3][0] == 5 and "expected a JSON object" in rejects[3][2]


def test_exact_dedup_keeps_first():
    items = [{"item_id": str(i), "problem": p, "origin": {"file": "f", "line": i}}
             for i, p in enumerate(["What is 2+2?", "what  is 2+2?", "What is 3+3?"], start=1)]
    kept, rejects = exact_dedup(items)
    assert [k["item_id"] for k in kept] == ["1", "3"]
    assert rejects[0].reason == "duplicate of item 1 (f:1)" and rejects[0].line == 2


def test_decontamination_finds_the_four_s1k_copies_of_math500(shared):
    bench = [json.loads(x) for x in (shared / "benchmarks" / "math500.jsonl").read_text().splitlines()]
    aime = [json.loads(x) for x in (shared / "benchmarks" / "aime24.jsonl").read_text().splitlines()]
    index = Decontaminator({"math500": [(b["unique_id"], b["problem"]) for b in bench],
                            "aime24": [(str(a["id"]), a["problem"]) for a in aime]})
    s1k = json.loads((shared / "samples" / "s1K__contamination-audit-converted__1000rows.json").read_text())
    hits = {r["id"]: index.match(r["problem"]) for r in s1k}
    hits = {k: v for k, v in hits.items() if v}
    assert sorted(hits) == [81, 124, 181, 498]
    assert hits[81].problem_id == "test/intermediate_algebra/1849.json" and hits[81].how == "exact match"
    # boilerplate shared with AIME ("relatively prime positive integers. Find m+n") is not contamination
    assert index.match("Let x be 3/7 = m/n where m and n are relatively prime positive integers. Find m+n.") is None


def test_hub_sources_go_through_datasets(tmp_path, shared):
    """`hf://<repo>[:<config>]/<split>` sources are read with datasets.load_dataset (here a local dataset folder)."""
    folder = tmp_path / "gsm8k_like"
    folder.mkdir()
    lines = (shared / "samples" / "gsm8k_train.jsonl").read_text().splitlines()[:5]
    (folder / "train.jsonl").write_text("\n".join(lines) + "\n")
    got = list(ingest(f"hf://{folder}/train", "gsm8k", "gsm8k"))
    assert [g["origin"]["line"] for g in got] == [1, 2, 3, 4, 5]
    assert got[0]["reference_answer"] == "72" and got[0]["origin"]["file"] == f"hf://{folder}/train"
