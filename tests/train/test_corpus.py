"""Reading corpora: verified rows only, bad rows quarantined with file/line/field, long examples dropped and listed;
the same result with one or two map workers; rows whose optional fields vary in type and presence load as well."""

from __future__ import annotations

import json

import pytest
from transformers import AutoTokenizer

from train.corpus import check_row, read_corpus, source_fingerprint
from train.errors import UserError
from train.pretokenize import build_tokenized, load_or_build


def read(source, tmp_path, **kw):
    return read_corpus(source, rejects_dir=tmp_path / "rejects", work_dir=tmp_path / "work", **kw)


def test_read_corpus_keeps_verified_rows_and_quarantines_bad_ones(corpus_dir, tmp_path):
    rows, stats, lineage = read(corpus_dir, tmp_path)
    assert (stats.read, stats.kept, stats.unverified) == (66, 56, 8)
    assert rows.column_names == ["id", "messages"] and len(rows) == 56
    assert rows[:2]["id"] == ["gsm8k-train-0", "gsm8k-train-1"]
    assert "gsm8k-train-7" not in set(rows["id"])  # verification.passed false
    assert rows[0]["messages"][2]["content"].startswith("<think>\n")
    bad = [json.loads(line) for line in (tmp_path / "rejects" / "corpus.jsonl").read_text().splitlines()]
    assert [(b["file"].rsplit("/", 1)[-1], b["line"], b["id"]) for b in bad] == [
        ("train-00000.jsonl", 33, None),
        ("train-00001.jsonl", 33, "no-answer"),
    ]
    assert bad[0]["reason"].startswith("not valid JSON")
    assert bad[1]["reason"] == "messages[1].role: the last turn must be the assistant's (the training target)"
    unverified = [json.loads(line) for line in (tmp_path / "rejects" / "unverified.jsonl").read_text().splitlines()]
    assert [u["id"] for u in unverified] == [f"gsm8k-train-{i}" for i in range(7, 64, 8)]
    assert [u["line"] for u in unverified[:2]] == [8, 16]
    assert not list((tmp_path / "rejects").glob(".*part*"))  # the workers' part files were merged away
    assert lineage["rows"] == {"read": 66, "kept": 56, "unverified": 8, "rejected": 2}
    everything, stats, _ = read(corpus_dir, tmp_path / "all", require_verified=False)
    assert stats.kept == len(everything) == 64


def test_two_workers_read_the_same_rows_and_rejects_as_one(corpus_dir, tmp_path):
    one, _, _ = read(corpus_dir, tmp_path / "one")
    two, stats, _ = read(corpus_dir, tmp_path / "two", num_proc=2)
    assert two["id"] == one["id"] and two["messages"] == one["messages"]
    for name in ("corpus.jsonl", "unverified.jsonl"):
        assert (tmp_path / "two" / "rejects" / name).read_text() == (tmp_path / "one" / "rejects" / name).read_text()
    assert sorted((tmp_path / "two" / "work").iterdir()) == [
        tmp_path / "two" / "work" / "rows_00000_of_00002.arrow",
        tmp_path / "two" / "work" / "rows_00001_of_00002.arrow",
    ]  # the raw text copy is deleted once the rows are checked


def test_rows_whose_optional_fields_vary_load_and_line_numbers_hold(shared, tmp_path):
    # The AM sample row carries a nested `info` per message with nulls; later rows add optional fields of other shapes
    # (reference_answer null then text, test_cases a list then an object, extra nested dicts) and a verification with
    # extra keys: a schema inferred from the first rows would not fit the later ones.
    am = json.loads((shared / "samples" / "AM-DeepSeek-R1-Distilled-1.4M__am_0.9M_sample_1k__row1.jsonl").read_text())
    verified = {"method": "math_verify", "passed": True, "score": 1.0, "reason": "ok"}
    rows = [
        {"id": "am-0", **am, "verification": verified},
        {"id": "am-1", **am, "verification": {**verified, "judge": {"model": "x", "votes": [1, 0]}}, "test_cases": [1]},
        {"id": "am-2", **am, "verification": verified, "reference_answer": "42", "test_cases": {"inputs": ["1"]}},
        {"id": "am-3", **am, "verification": verified, "extra": {"origin": {"file": "a", "line": 3}}, "n_tokens": 9.5},
    ]
    text = "\ufeff" + "\r\n".join(json.dumps(r, ensure_ascii=False) for r in rows[:2]) + "\r\n\r\n"
    text += json.dumps(rows[2]) + "\n" + '{"id": "cut-off", "messages": [' + "\n" + json.dumps(rows[3])  # no final \n
    f = tmp_path / "am.jsonl"
    f.write_text(text, encoding="utf-8", newline="")
    got, stats, lineage = read(f, tmp_path)
    assert got["id"] == ["am-0", "am-1", "am-2", "am-3"] and stats.read == 5
    assert got[0]["messages"][1]["content"] == am["messages"][1]["content"]
    assert set(got[0]["messages"][0]) == {"role", "content"}  # only what training needs
    bad = json.loads((tmp_path / "rejects" / "corpus.jsonl").read_text())
    assert (bad["line"], bad["reason"].split(" (")[0]) == (5, "not valid JSON")  # the blank line 3 still counts
    assert lineage["kind"] == "jsonl" and lineage["files"][0]["lines"] == 6 and lineage["reports"] == {}


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
    with pytest.raises(UserError, match=r"dataset_name .*nope.jsonl: no such corpus file or folder"):
        read(tmp_path / "nope.jsonl", tmp_path)
    with pytest.raises(UserError, match=r"dataset_name runs/demo/corpus: no such corpus"):
        read("runs/demo/corpus", tmp_path)  # two slashes: a path, not a hub id
    with pytest.raises(UserError, match=r"dataset_name someone/corpus: not a local file or folder, and loading it"):
        read("someone/corpus", tmp_path)  # a hub id; the hub is offline here
    f = tmp_path / "rows.jsonl"
    row = {"id": "a", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "x"}]}
    f.write_text(json.dumps(row) + "\n")
    with pytest.raises(UserError, match=r"no trainable rows .*first reject: .*rows.jsonl:1: verification.passed: miss"):
        read(f, tmp_path)
    got, _, _ = read(f, tmp_path, require_verified=False)
    assert got.to_list() == [row]


def tokenize(rows, tok, tmp_path, **kw):
    args = dict(max_length=256, loss_on="assistant", overlong="drop", num_proc=None)
    args.update(kw)
    return build_tokenized(
        rows, tok, tok.chat_template, rejects_dir=tmp_path / "rejects", out_dir=tmp_path / "tok", **args
    )


def test_overlong_examples_are_dropped_and_listed_not_truncated(corpus_dir, tiny_model, tmp_path):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    rows, _, _ = read(corpus_dir, tmp_path)
    ds, summary = tokenize(rows, tok, tmp_path)
    assert summary["examples"] + summary["dropped_overlong"] == 56
    assert summary["dropped_overlong"] == 28 and summary["max_tokens"] <= 256
    assert all(n <= 256 for n in ds["n_tokens"])
    assert all(len(x) == n for x, n in zip(ds["input_ids"], ds["n_tokens"], strict=True))
    assert summary["tokens"] == sum(ds["n_tokens"]) and summary["trained_tokens"] == sum(ds["n_trained"])
    listed = [json.loads(line) for line in (tmp_path / "rejects" / "overlong.jsonl").read_text().splitlines()]
    assert len(listed) == 28 and all(r["reason"].startswith("n_tokens: ") for r in listed)
    two, summary2 = tokenize(rows, tok, tmp_path / "two", num_proc=2)
    assert two["input_ids"] == ds["input_ids"] and two["labels"] == ds["labels"]
    assert summary2["arrow_files"] == ["tokens_00000_of_00002.arrow", "tokens_00001_of_00002.arrow"]
    assert (tmp_path / "two" / "rejects" / "overlong.jsonl").read_text().splitlines() == [
        json.dumps(r, ensure_ascii=False) for r in listed
    ]
    with pytest.raises(
        UserError, match=r"28 examples exceed max_length=256, e.g. id 'gsm8k-train-\d+' with \d+ tokens"
    ):
        tokenize(rows, tok, tmp_path / "err", overlong="error")


def test_tokenised_corpus_is_cached_once(corpus_dir, tiny_model, tmp_path):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    calls = []

    def build(work, ready):
        calls.append(1)
        rows, _, _ = read_corpus(corpus_dir, rejects_dir=tmp_path / "rejects", work_dir=work)
        args = dict(max_length=512, loss_on="assistant", overlong="drop", num_proc=None)
        return build_tokenized(rows, tok, tok.chat_template, rejects_dir=tmp_path / "rejects", out_dir=ready, **args)[1]

    first, s1 = load_or_build(tmp_path / "cache" / "k", build)
    again, s2 = load_or_build(tmp_path / "cache" / "k", build)
    assert calls == [1] and s1 == s2 and again["input_ids"] == first["input_ids"]
    assert first.column_names == ["id", "input_ids", "labels", "n_tokens"]
    assert s1["examples"] == 56 and s1["trained_tokens"] < s1["tokens"]
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["k"]  # work files and temp folder removed
    before = source_fingerprint(corpus_dir)
    assert source_fingerprint(corpus_dir) == before
    copy = tmp_path / "copy"
    (copy / "data").mkdir(parents=True)
    for shard in (corpus_dir / "data").iterdir():
        (copy / "data" / shard.name).write_text(shard.read_text())
    assert source_fingerprint(copy) != before  # another corpus (path, size or mtime) gets another cache key


def test_prepare_only_fills_the_cache_and_records_lineage_on_a_cpu(tiny_model, corpus_dir, tmp_path, capsys):
    from train.sft import cli

    from .conftest import TINY_RECIPE

    out = tmp_path / "prep"
    argv = ["--config", str(TINY_RECIPE), "--model_name_or_path", str(tiny_model), "--dataset_name", str(corpus_dir)]
    # bf16 as in a GPU recipe: preparing needs no accelerator, so it is switched off rather than refused
    assert cli([*argv, "--output_dir", str(out), "--bf16", "true", "--prepare_only", "true"]) == 0
    printed = capsys.readouterr().out
    assert "66 rows read, 56 kept, 8 unverified, 2 rejected (not valid JSON 1, messages[1].role 1)" in printed
    (cache,) = (out / "tokenized").iterdir()
    summary = json.loads((cache / "summary.json").read_text())
    assert summary["examples"] == 56 and summary["lineage"]["content_sha256"]
    assert json.loads((out / "distillery_corpus.json").read_text()) == summary["lineage"]
    assert (out / "corpus_stats.json").exists() and not (out / "config.json").exists()
