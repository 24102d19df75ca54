"""Reading corpora: verified rows only, bad rows quarantined with file/line/field, long examples dropped and listed."""

from __future__ import annotations

import json

import pytest
from transformers import AutoTokenizer

from train.corpus import check_row, load_corpus, source_fingerprint
from train.pretokenize import build_tokenized, load_or_build


def test_load_corpus_keeps_verified_rows_and_quarantines_bad_ones(corpus_dir, tmp_path):
    rejects = tmp_path / "rejects.jsonl"
    rows, stats = load_corpus(corpus_dir, rejects_path=rejects)
    assert (stats.read, stats.kept, stats.unverified) == (66, 56, 8)
    assert [r["id"] for r in rows[:2]] == ["gsm8k-train-0", "gsm8k-train-1"]
    assert "gsm8k-train-7" not in {r["id"] for r in rows}  # verification.passed false
    assert set(rows[0]) == {"id", "messages"} and rows[0]["messages"][2]["content"].startswith("<think>\n")
    bad = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(b["file"].rsplit("/", 1)[-1], b["line"], b["id"]) for b in bad] == [
        ("train-00000.jsonl", 33, None),
        ("train-00001.jsonl", 33, "no-answer"),
    ]
    assert bad[0]["reason"].startswith("not valid JSON")
    assert bad[1]["reason"] == "messages[1].role: the last turn must be the assistant's (the training target)"
    everything, stats = load_corpus(corpus_dir, require_verified=False)
    assert stats.kept == len(everything) == 64


def test_check_row_names_the_field():
    ok = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    assert check_row(ok) is None
    assert check_row({"messages": []}) == "messages: missing or empty"
    assert check_row({"messages": [{"role": "bot", "content": "x"}]}).startswith("messages[0].role: 'bot'")
    assert check_row({"messages": [{"role": "user", "content": ["x"]}]}) == (
        "messages[0].content: expected a string, got list"
    )
    assert check_row({"conversations": [{"from": "human", "value": "x"}]}).startswith("conversations: ShareGPT")


def test_missing_corpus_and_unverifiable_rows_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such corpus"):
        load_corpus(tmp_path / "nope.jsonl")
    f = tmp_path / "rows.jsonl"
    f.write_text(
        json.dumps({"id": "a", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "x"}]})
        + "\n"
    )
    with pytest.raises(ValueError, match=r"rows.jsonl:1: verification.passed: missing"):
        load_corpus(f)
    rows, _ = load_corpus(f, require_verified=False)
    assert rows == [{"id": "a", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "x"}]}]


def test_overlong_examples_are_dropped_and_listed_not_truncated(corpus_dir, tiny_model, tmp_path):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    rows, _ = load_corpus(corpus_dir)
    rejects = tmp_path / "overlong.jsonl"
    ds, summary = build_tokenized(
        rows,
        tok,
        tok.chat_template,
        max_length=256,
        loss_on="assistant",
        overlong="drop",
        num_proc=None,
        rejects_path=rejects,
    )
    assert summary["examples"] + summary["dropped_overlong"] == 56
    assert summary["dropped_overlong"] == 28 and summary["max_tokens"] <= 256
    assert all(n <= 256 for n in ds["n_tokens"]) and all(
        len(x) == n for x, n in zip(ds["input_ids"], ds["n_tokens"], strict=True)
    )
    listed = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert len(listed) == 28 and all(r["reason"].startswith("n_tokens: ") for r in listed)
    with pytest.raises(
        ValueError, match=r"28 examples exceed max_length=256, e.g. id 'gsm8k-train-\d+' with \d+ tokens"
    ):
        build_tokenized(
            rows,
            tok,
            tok.chat_template,
            max_length=256,
            loss_on="assistant",
            overlong="error",
            num_proc=None,
            rejects_path=None,
        )


def test_tokenised_corpus_is_cached_once(corpus_dir, tiny_model, tmp_path):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    calls = []

    def build():
        calls.append(1)
        rows, _ = load_corpus(corpus_dir)
        return build_tokenized(
            rows,
            tok,
            tok.chat_template,
            max_length=512,
            loss_on="assistant",
            overlong="drop",
            num_proc=None,
            rejects_path=None,
        )

    first, s1 = load_or_build(tmp_path / "cache" / "k", build)
    again, s2 = load_or_build(tmp_path / "cache" / "k", build)
    assert calls == [1] and s1 == s2 and again["input_ids"] == first["input_ids"]
    assert s1["examples"] == 56 and s1["trained_tokens"] < s1["tokens"]
    before = source_fingerprint(corpus_dir)
    assert source_fingerprint(corpus_dir) == before
    copy = tmp_path / "copy"
    (copy / "data").mkdir(parents=True)
    for shard in (corpus_dir / "data").iterdir():
        (copy / "data" / shard.name).write_text(shard.read_text())
    assert source_fingerprint(copy) != before  # another corpus (path, size or mtime) gets another cache key
