"""pass@k, majority vote and the per-benchmark summary, pinned on small hand-checked cases."""

from __future__ import annotations

import math

import pytest

from eval.metrics import ks_for, majority_correct, pass_at_k, summarize


def test_pass_at_k_matches_the_closed_form():
    assert pass_at_k(4, 0, 1) == 0.0
    assert pass_at_k(4, 4, 4) == 1.0
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)
    assert pass_at_k(4, 1, 2) == pytest.approx(1 - math.comb(3, 2) / math.comb(4, 2))  # 0.5
    assert pass_at_k(64, 16, 8) == pytest.approx(1 - math.comb(48, 8) / math.comb(64, 8))
    assert pass_at_k(5, 3, 3) == 1.0  # fewer than k wrong samples: some k-subset must hold a right one
    with pytest.raises(ValueError, match="pass@5 needs at least 5"):
        pass_at_k(4, 1, 5)


def test_majority_vote():
    assert majority_correct(["5", "5", "6"], [True, True, False])
    assert not majority_correct(["6", "5", "6"], [False, True, False])
    assert majority_correct([None, None, "5"], [False, False, True])  # no-answer samples do not vote
    assert not majority_correct([None, None], [False, False])
    assert not majority_correct(["x = 7", "x=7", "5"], [False, False, True])  # spacing does not split a vote
    assert majority_correct(["\\frac{1}{2}", "7", "0.5", "7 "], [True, False, True, False]) is True  # tie, first
    assert majority_correct(["1/2", "7", "7", "0.5", "\\frac12"], [True, False, False, True, True])  # right ones merge
    assert not majority_correct(["7", "5"], [False, True])  # a tie goes to the answer seen first


def test_ks_for():
    assert ks_for(1) == [1]
    assert ks_for(4) == [1, 2, 4]
    assert ks_for(64) == [1, 2, 4, 8, 16, 32, 64]
    assert ks_for(6) == [1, 2, 4, 6]


def test_summarize_pins_every_number():
    rows = [
        {"problem_id": "a", "correct": True, "extracted": "1", "truncated": False, "n_tokens": 10},
        {"problem_id": "a", "correct": False, "extracted": "2", "truncated": False, "n_tokens": 20},
        {"problem_id": "b", "correct": False, "extracted": None, "truncated": True, "n_tokens": 30},
        {"problem_id": "b", "correct": False, "extracted": "3", "truncated": False, "n_tokens": 40},
    ]
    s = summarize(rows)
    assert s == {
        "n_problems": 2, "n_samples": 4, "samples_per_problem": 2,
        "pass@1": 25.0, "pass@1_stderr": 25.0, "pass@2": 50.0, "maj@2": 50.0,
        "truncated_rate": 25.0, "no_answer_rate": 25.0, "mean_tokens": 25.0,
    }
    assert summarize([])["n_problems"] == 0
