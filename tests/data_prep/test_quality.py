"""Quality filters, difficulty and downsampling, publish-time exports and card counts."""

from __future__ import annotations

import json

import pytest

from data_prep.convert import am_to_row, export_am, export_openmath, openmath_to_row
from data_prep.difficulty import DifficultyConfig, DownsampleRule, difficulty_filter
from data_prep.quality import LanguageFilter, LengthFilter, NgramFilter, QualityConfig, filter_counts, quality_filter
from data_prep.row import make_row
from data_prep.verify import add_counts, card_counts
from eval.jsonl import read_jsonl

GOOD = "<think>\n2 and 2 make 4.\n</think>\n\nThe answer is $\\boxed{4}$."


def _row(response, problem="What is 2+2?", item="p1", passed=True, sample=0):
    return make_row(problem=problem, response=response, source="t", category="math", id=f"{item}-{sample}",
                    reference_answer="4", extra={"item_id": item},
                    verification={"method": "math_verify", "passed": passed, "score": 1.0, "reason": "ok"})


CASES = {
    "think": ["no reasoning \\boxed{4}", "<think>a</think>b</think> \\boxed{4}", "<think>only thoughts</think>  "],
    "answer_tag": ["<think>x</think> \\boxed{4}"],
    "repeated_ngrams": ["<think>" + "so we add two and two again " * 30 + "</think> \\boxed{4}"],
    "language": ["<think>2加2等于4</think> The answer is \\boxed{4}."],
    "boxed_answers": ["<think>x</think>\nFirst \\boxed{4}.\nOr maybe \\boxed{5}."],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_filter_rejects_and_names_itself_and_can_be_switched_off(name):
    cfg = QualityConfig(answer_tag=name == "answer_tag", repeated_ngrams=NgramFilter(n=5, max_repeats=20))
    rows = [_row(GOOD, sample=0)] + [_row(t, sample=i + 1) for i, t in enumerate(CASES[name])]
    kept, rejects = quality_filter(rows, cfg)
    assert [r["id"] for r in kept] == (["p1-0"] if name != "answer_tag" else [])
    bad = [r for r in rejects if r.record["id"] != "p1-0"]
    assert len(bad) == len(CASES[name]) and all(r.reason.startswith(f"quality.{name}: ") for r in bad)
    assert all(r.stage == "quality" and r.field == "response" for r in bad)
    off = {"think": {"think": False}, "answer_tag": {"answer_tag": False}, "repeated_ngrams": {"repeated_ngrams": None},
           "language": {"language": None}, "boxed_answers": {"boxed_answers": False}}[name]
    kept_off, _ = quality_filter(rows, QualityConfig(**{"repeated_ngrams": NgramFilter(n=5, max_repeats=20), **off}))
    assert len(kept_off) > len(kept)


def test_filter_details():
    kept, rejects = quality_filter([_row(CASES["think"][1])], QualityConfig())
    assert rejects[0].reason == "quality.think: </think> occurs 2 times, expected once"
    # Parts of one answer on one line are one answer; the same answer boxed twice is one answer.
    ok = "<think>x</think>\n$x=\\boxed{2}$ and $y=\\boxed{3}$.\nSo \\boxed{2}, \\boxed{3}.\nThus \\boxed{4}"
    assert len(quality_filter([_row(ok)], QualityConfig())[1]) == 1  # {2,3} and {4} differ
    assert quality_filter([_row(ok.rsplit("\n", 1)[0])], QualityConfig())[1] == []
    # A CJK problem may be answered in CJK; a small share is allowed when the recipe says so.
    assert quality_filter([_row(CASES["language"][0], problem="2加2等于几?")], QualityConfig())[1] == []
    mixed = _row("<think>" + " ".join(f"add{i}" for i in range(300)) + " 等</think> \\boxed{4}")
    assert quality_filter([mixed], QualityConfig(language=LanguageFilter(max_share=0.01)))[1] == []
    assert quality_filter([mixed], QualityConfig())[1][0].reason.startswith("quality.language: 0.11% of the letters")
    with pytest.raises(ValueError, match="quality.length: .*set quality.tokenizer"):
        quality_filter([], QualityConfig(length=LengthFilter(max_tokens=10)))


def test_identical_responses_to_one_problem_are_duplicates():
    rows = [_row(GOOD, sample=0), _row(GOOD.replace("\n\n", "\n  \n"), sample=1), _row(GOOD, sample=2),
            _row(GOOD, item="p2", sample=0)]  # the same text for another problem is no duplicate
    kept, rejects = quality_filter(rows, QualityConfig())
    assert [r["id"] for r in kept] == ["p1-0", "p2-0"]
    assert [r.reason for r in rejects] == ["quality.duplicates: identical to response p1-0 of the same problem"] * 2
    assert filter_counts(rejects) == {"duplicates": 2}


def test_length_and_ngrams_count_tokens_of_the_training_tokenizer(tiny_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    long = "<think>" + " ".join(f"step {i} adds {i % 7}" for i in range(200)) + "</think> \\boxed{4}"
    n_long = len(tok(long, add_special_tokens=False)["input_ids"])
    n_good = len(tok(GOOD, add_special_tokens=False)["input_ids"])
    cfg = QualityConfig(tokenizer=str(tiny_model), length=LengthFilter(min_tokens=n_good, max_tokens=n_long - 1))
    kept, rejects = quality_filter([_row(GOOD, sample=0), _row(long, sample=1)], cfg)
    assert [r["id"] for r in kept] == ["p1-0"]
    assert rejects[0].reason == f"quality.length: {n_long} tokens, limits [{n_good}, {n_long - 1}]"
    # n-grams in tokens: 30 repeats of a phrase -> rejected at 20, kept at 40.
    loop = _row(CASES["repeated_ngrams"][0])
    cfg_rep = QualityConfig(tokenizer=str(tiny_model), repeated_ngrams=NgramFilter(n=8, max_repeats=20))
    (rej,) = quality_filter([loop], cfg_rep)[1]
    assert rej.reason.startswith("quality.repeated_ngrams: a 8-token span occurs 30 times (max 20)")
    assert quality_filter([loop], QualityConfig(tokenizer=str(tiny_model),
                                                repeated_ngrams=NgramFilter(n=8, max_repeats=40)))[1] == []


def _problem(item, results):
    return [_row(GOOD + " " * i, item=item, passed=p, sample=i) for i, p in enumerate(results)]


def test_pass_rate_difficulty_and_seeded_downsampling():
    rows = (_problem("easy1", [True] * 4) + _problem("mixed", [True, False, False, None])
            + _problem("none", [None, None]) + [r for i in range(40) for r in _problem(f"e{i}", [True, True])])
    kept, rejects = difficulty_filter(rows, DifficultyConfig())
    assert rejects == [] and len(kept) == len(rows)
    by_id = {r["id"]: r for r in kept}
    assert (by_id["easy1-0"]["pass_rate"], by_id["easy1-0"]["difficulty"]) == (1.0, "trivial")
    assert (by_id["mixed-3"]["pass_rate"], by_id["mixed-3"]["difficulty"]) == (0.3333, "medium")
    assert "pass_rate" not in by_id["none-0"] and "pass_rate" not in rows[0]  # inputs are not changed
    cfg = DifficultyConfig(downsample=[DownsampleRule(keep=0.25, min_pass_rate=1.0)], seed=7)
    kept, rejects = difficulty_filter(rows, cfg)
    kept_problems = {r["extra"]["item_id"] for r in kept}
    assert {"mixed", "none"} <= kept_problems
    easy_kept = len([p for p in kept_problems if p.startswith("e")])
    assert 3 <= easy_kept <= 20  # about a quarter of 41 easy problems
    assert all(r.reason.startswith("difficulty.downsample: pass_rate 1.00 in [1.0, 1.0], kept with p=0.25")
               for r in rejects)
    # Whole problems go or stay; the same decision in any batch order and on a rerun.
    assert all({r["id"] for r in kept} >= {f"{p}-0", f"{p}-1"} for p in kept_problems if p.startswith("e"))
    again, _ = difficulty_filter(list(reversed(rows)), cfg)
    assert {r["id"] for r in again} == {r["id"] for r in kept}
    other_seed, _ = difficulty_filter(rows, DifficultyConfig(downsample=cfg.downsample, seed=8))
    assert {r["id"] for r in other_seed} != {r["id"] for r in kept}
    with pytest.raises(ValueError, match=r"difficulty.downsample\[0\]"):
        difficulty_filter(rows, DifficultyConfig(downsample=[DownsampleRule(keep=1.5)]))


def test_streaming_exports_and_card_counts(shared, tmp_path):
    am_path = shared / "samples" / "AM-DeepSeek-R1-Distilled-1.4M__am_0.9M_sample_1k__row1.jsonl"
    am_rec = json.loads(am_path.read_text().splitlines()[0])
    nemo = [json.loads(line) for line in (shared / "samples" / "nemo_skills_openmath_outputs" / "output-rs0.jsonl")
            .read_text().splitlines()]
    om_recs = [{"question": r["problem"], "generated_solution": r["generation"], "expected_answer":
                r["expected_answer"], "predicted_answer": r["predicted_answer"], "error_message": r["error_message"],
                "is_correct": r["symbolic_correct"], "dataset": "math", "generation_type": "solution"} for r in nemo]
    ours = _row(GOOD)

    def rows():  # a generator: the exports never need the corpus in memory
        yield am_to_row(am_rec)
        yield from (openmath_to_row(r) for r in om_recs)
        yield ours

    assert export_am(rows(), tmp_path / "am.jsonl") == 52
    assert export_openmath(rows(), tmp_path / "om.jsonl") == 52
    assert sorted(p.name for p in tmp_path.iterdir()) == ["am.jsonl", "om.jsonl"]  # no temporary file left
    am_out = read_jsonl(tmp_path / "am.jsonl")
    om_out = read_jsonl(tmp_path / "om.jsonl")
    assert am_out[0] == am_rec and om_out[1:51] == om_recs  # seed rows come back exactly
    assert am_out[-1]["messages"][-1]["info"]["think_content"] == "\n2 and 2 make 4.\n"
    assert om_out[-1]["predicted_answer"] == "4" and om_out[-1]["is_correct"] is True
    with pytest.raises(KeyError):
        export_openmath([{"broken": True}], tmp_path / "bad.jsonl")
    assert not (tmp_path / "bad.jsonl").exists()

    stats: dict = {}
    kept, rejects = quality_filter([_row(GOOD, sample=0), _row(GOOD, sample=1), _row("no think")], QualityConfig())
    add_counts(stats, kept, rejects)
    add_counts(stats, [dict(openmath_to_row(om_recs[0]), difficulty="easy")], [])
    assert stats == {"by_source": {"t": 1, "math": 1}, "by_category": {"math": 2}, "by_difficulty": {"easy": 1},
                     "by_method": {"math_verify": {"passed": 1, "failed": 0, "unverifiable": 0},
                                   "openmath_is_correct": {"passed": 0, "failed": 1, "unverifiable": 0}},
                     "by_filter": {"quality.duplicates": 1, "quality.think": 1}}
    card = "\n".join(card_counts(stats))
    assert "| math_verify | 1 | 0 | 0 |" in card and "| quality.duplicates | 1 |" in card and "| t | 1 |" in card


def test_quality_filters_on_real_nemo_skills_generations(shared):
    """150 real generations (OpenMath style: no <think>, so `think` is off): only the boxed-answers filter fires."""
    rows = []
    for i in range(3):
        path = shared / "samples" / "nemo_skills_openmath_outputs" / f"output-rs{i}.jsonl"
        for line in path.read_text().splitlines():
            r = json.loads(line)
            row = openmath_to_row({"question": r["problem"], "generated_solution": r["generation"],
                                   "expected_answer": r["expected_answer"], "is_correct": r["symbolic_correct"],
                                   "dataset": "math"})
            row["extra"]["item_id"] = r["id"]
            rows.append(row)
    kept, rejects = quality_filter(rows, QualityConfig(think=False))
    assert len(kept) == 144 and filter_counts(rejects) == {"boxed_answers": 6}
    # Five of the six rambled on to other questions after boxing an answer (NeMo-Skills marks them wrong). The
    # sixth boxes one interval two ways, in words and in interval notation; the grader cannot parse the words.
    assert sum(r.record["verification"]["passed"] for r in rejects) == 1
    # Two boxes of one value in two forms, `\frac{3 + 2\sqrt{3}}{3}` and `1 + \frac{2\sqrt{3}}{3}`, are one answer.
    assert any("1 + \\frac{2\\sqrt{3}}{3}" in r["messages"][-1]["content"] for r in kept)
