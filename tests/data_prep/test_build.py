"""`data_prep build` end to end: shards, rejects with reasons, stats, card, resume; a real teacher server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from data_prep.build import BuildRecipe, build
from eval.recipe import load_recipe


def _recipe(tmp_path: Path, shared: Path, **extra) -> Path:
    src = tmp_path / "gsm8k.jsonl"
    lines = (shared / "samples" / "gsm8k_train.jsonl").read_text().splitlines()[:30]
    lines.insert(5, '{"question": "broken line"')  # line 6: malformed JSON
    lines.insert(10, json.dumps({"answer": "#### 1"}))  # line 11: no problem
    lines.append(lines[0])  # line 33: exact duplicate of line 1
    src.write_text("\n".join(lines) + "\n")
    recipe = {
        "name": "t", "out": str(tmp_path / "unused"), "shard_size": 10,
        "sources": [{"path": str(src), "format": "gsm8k", "response": "reference"}],
        "decontaminate": None, **extra,
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_build_writes_shards_rejects_stats_and_card(tmp_path, shared):
    out = tmp_path / "corpus"
    stats = build(load_recipe(BuildRecipe, _recipe(tmp_path, shared)), out=out)
    assert stats["rows"] == 30
    assert stats["verification"]["gsm8k/reference"]["verified_share"] == 1.0
    # shard_size counts records read: 33 lines → item shards of 10, 10, 10, 3 → row shards of 9, 9, 10, 2
    shards = sorted((out / "data").iterdir())
    assert [p.name for p in shards] == [f"train-0000{i}-of-00004.jsonl" for i in range(4)]
    assert [len(p.read_text().splitlines()) for p in shards] == [9, 9, 10, 2]
    ingest_rej = [json.loads(x) for x in (out / "rejects" / "ingest.jsonl").read_text().splitlines()]
    assert [(r["line"], r.get("field")) for r in ingest_rej] == [(6, None), (11, "question")]
    dedup_rej = [json.loads(x) for x in (out / "rejects" / "dedup.jsonl").read_text().splitlines()]
    assert len(dedup_rej) == 1 and dedup_rej[0]["line"] == 33 and "duplicate of" in dedup_rej[0]["reason"]
    assert dedup_rej[0]["detail"]["method"] == "exact" and dedup_rej[0]["detail"]["duplicate_of"]
    assert stats["rejects"] == {"dedup": 1, "ingest": 2}
    assert "**30 rows**" in (out / "README.md").read_text()
    assert stats["stages"]["ingest"]["by_source"] == {"gsm8k": {"in": 33, "out": 31, "rejected": 2}}
    assert stats["stages"]["dedup"]["by_source"] == {"gsm8k": {"in": 31, "out": 30, "rejected": 1}}
    row = json.loads(shards[0].read_text().splitlines()[0])
    assert row["messages"][-1]["content"].startswith("<think>\n") and row["verification"]["method"] == "math_verify"

    import datasets

    ds = datasets.load_dataset(str(out), split="train")
    assert len(ds) == 30 and ds[0]["id"] == row["id"]


def test_build_refuses_to_overwrite_and_resumes_without_redoing(tmp_path, shared):
    recipe_path = _recipe(tmp_path, shared)
    out = tmp_path / "corpus"
    build(load_recipe(BuildRecipe, recipe_path), out=out)
    with pytest.raises(FileExistsError, match="--resume"):
        build(load_recipe(BuildRecipe, recipe_path), out=out)
    marks = sorted((out / "work").glob("*_done/part-*.json"))
    stamps = [m.stat().st_mtime_ns for m in marks]
    stats = build(load_recipe(BuildRecipe, recipe_path), out=out, resume=True)
    assert [m.stat().st_mtime_ns for m in marks] == stamps  # finished shards are not redone
    assert stats["rows"] == 30
    with pytest.raises(ValueError, match="different recipe"):
        build(load_recipe(BuildRecipe, recipe_path, ["shard_size=5"]), out=out, resume=True)


def test_teacher_through_transformers_serve_and_resume(tmp_path, shared, tiny_model):
    """The tiny model behind a real `transformers serve`; its junk answers are rejected with reasons."""
    teacher = {"serve_model": str(tiny_model), "max_tokens": 24, "temperature": 1.0, "concurrency": 2,
               "samples": 1, "request_timeout_s": 120, "retries": 0}
    recipe_path = _recipe(tmp_path, shared, teacher=teacher)
    spec = yaml.safe_load(recipe_path.read_text())
    spec["sources"] = [{**spec["sources"][0], "limit": 4, "response": "teacher"}]
    recipe_path.write_text(yaml.safe_dump(spec))
    out = tmp_path / "corpus"
    proc = subprocess.run([sys.executable, "-m", "data_prep", "build", str(recipe_path), "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = out / "work" / "teacher.results.jsonl"
    first = [json.loads(x) for x in results.read_text().splitlines()]
    assert len(first) == 4 and all("error" not in r for r in first), first
    assert all(r["completion_tokens"] > 0 for r in first)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["teacher"]["requests"] == 4 and stats["teacher"]["answered"] == 4
    assert stats["teacher"]["completion_tokens"] == sum(r["completion_tokens"] for r in first)
    # a random tiny model never produces a verified answer: every response is rejected, with a reason
    assert stats["rows"] == 0
    reasons = stats["reject_reasons"]
    assert sum(stats["rejects"].get(s, 0) for s in ("respond", "verify")) == 4, reasons
    # sampled random tokens run to max_tokens, or (parsed with Qwen3's response template) leave no content
    junk = {"teacher hit max_tokens=24 (truncated response)", "teacher returned no text (content and reasoning empty)"}
    assert sum(reasons["respond"].values()) == 4 and set(reasons["respond"]) <= junk, reasons

    # Simulate a crash inside the teacher stage: one answer lost, stage markers gone. Resume asks only for it.
    results.write_text("\n".join(json.dumps(r) for r in first[:3]) + "\n")
    for mark in (out / "work" / "out_done").glob("part-*.json"):
        mark.unlink()
    proc = subprocess.run([sys.executable, "-m", "data_prep", "build", str(recipe_path), "--out", str(out),
                           "--resume"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "teacher: 1 requests" in proc.stderr and "(3 already answered)" in proc.stderr
    again = [json.loads(x) for x in results.read_text().splitlines()]
    assert len(again) == 4 and len({r["item_id"] for r in again}) == 4
