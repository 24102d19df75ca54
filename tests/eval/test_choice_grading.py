"""Multiple-choice grading with synthetic questions (GPQA text is never committed)."""

from __future__ import annotations

from collections import Counter

import pytest

from eval.grading.choice import extract_choice, grade_choice, permutation, shuffle_options


def test_permutation_is_deterministic_and_pinned():
    assert permutation("recABC123") == permutation("recABC123")
    # pinned: a change of hash or RNG would silently reorder every stored GPQA run
    assert permutation("recABC123") == [0, 3, 1, 2]
    assert permutation("rec000") == [3, 0, 2, 1]
    assert sorted(permutation("anything")) == [0, 1, 2, 3]


def test_correct_answer_lands_on_every_letter_about_equally():
    letters = Counter(shuffle_options(f"rec{i}", "right", ["w1", "w2", "w3"])[1] for i in range(400))
    assert set(letters) == set("ABCD")
    assert all(70 <= c <= 130 for c in letters.values()), letters


def test_shuffle_options_strips_and_tracks_the_correct_one():
    options, letter, perm = shuffle_options("recXYZ", "4 m/s\n", ["2 m/s", " 8 m/s", "16 m/s\n"])
    assert options[ord(letter) - ord("A")] == "4 m/s"
    assert sorted(options) == sorted(["4 m/s", "2 m/s", "8 m/s", "16 m/s"])
    assert [["4 m/s", "2 m/s", "8 m/s", "16 m/s"][i] for i in perm] == options


@pytest.mark.parametrize(
    "response, letter, how",
    [
        ("<think>A or B?</think>\nThe mass doubles.\n\nAnswer: C", "C", "answer_line"),
        ("<think>x</think>**Answer:** (d)", None, "none"),  # lowercase is not a letter option
        ("<think>x</think>**Answer:** (D)", "D", "answer_line"),
        ("Answer: $B$", "B", "answer_line"),
        ("The answer is B. Wait, actually Answer: A", "A", "answer_line"),
        ("so the final choice is $\\boxed{B}$", "B", "boxed"),
        ("so the final choice is $\\boxed{\\text{(C)}}$", "C", "boxed"),
        ("I pick option (D) here.", "D", "standalone"),
        ("<think>x</think><answer>B</answer>", "B", "answer_tag"),
        ("<think>x</think><answer>Answer: D</answer> Answer: A", "D", "answer_tag"),
        ("<think>I'd say Answer: A but", None, "truncated"),
        ("<think>x</think>no idea", None, "none"),
    ],
)
def test_extract_choice(response, letter, how):
    got, got_how, _ = extract_choice(response)
    assert (got, got_how) == (letter, how)


def test_grade_choice_reasons():
    assert grade_choice("C", "<think>.</think>Answer: C").reason == "ok"
    assert grade_choice("C", "<think>.</think>Answer: B").reason == "wrong answer"
    assert grade_choice("C", "<think>Answer: C").reason == "truncated"
    assert grade_choice("C", "nothing").reason == "no answer"
    g = grade_choice("B", "Answer: B")
    assert (g.correct, g.extracted, g.how) == (True, "B", "answer_line")
