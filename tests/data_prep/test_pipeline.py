"""The streaming build: bad input never stops it and loses no good row; cleaning filters; resume after a kill;
the Ray engine writes exactly what the local engine writes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from data_prep.build import build, load_build_recipe
from data_prep.clean import CleanConfig, clean


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().split("\n") if x] if path.exists() else []


def _rows(out: Path) -> list[dict]:
    return [r for p in sorted((out / "data").glob("train-*.jsonl")) for r in _lines(p)]


def test_bad_input_is_reported_and_no_good_row_is_lost(tmp_path, shared):
    gsm = (shared / "samples" / "gsm8k_train.jsonl").read_bytes().splitlines()[:6]
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"\n".join([gsm[0], b'{"question": "caf\xff?", "answer": "#### 1"}', gsm[1], b'{"question": ',
                                gsm[2]]) + b"\n")
    mapped = tmp_path / "mapped.jsonl"
    mapped.write_text(json.dumps({"q": "Ann has 3 apples and buys 4 more. How many now?", "a": "#### 7"}) + "\n"
                      + json.dumps({"q": "Bob has 2 pens and loses 1. How many are left?"}) + "\n")
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 this is not parquet")
    folder = tmp_path / "folder.jsonl"
    folder.mkdir()
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    good = tmp_path / "good.jsonl"
    good.write_bytes(b"\n".join(gsm[3:6]) + b"\n")
    recipe = {
        "name": "bad", "shard_size": 4, "decontaminate": None,
        "sources": [
            {"path": str(bad), "format": "gsm8k", "name": "bad"},
            {"path": str(mapped), "format": "gsm8k", "name": "mapped", "fields": {"problem": "q", "solution": "a"}},
            {"path": str(corrupt), "format": "s1k", "name": "corrupt"},
            {"path": str(folder), "format": "gsm8k", "name": "folder"},
            {"path": str(empty), "format": "gsm8k", "name": "empty"},
            {"path": "hf://no-such-owner/no-such-dataset/train", "format": "gsm8k", "name": "hub"},
            {"path": str(good), "format": "gsm8k", "name": "good"},
        ],
    }
    rp = tmp_path / "r.yaml"
    rp.write_text(yaml.safe_dump(recipe))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "data_prep", "build", str(rp), "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    err = " ".join(proc.stderr.split())
    assert f"source 'corrupt': {corrupt}: not a readable Parquet file" in err
    assert f"source 'folder': {folder}: is a directory" in err
    assert "source 'hub': hub dataset no-such-owner/no-such-dataset/train: cannot be loaded" in err
    assert f"source 'empty' ({empty}) gave 0 rows" in err
    # every good row made it: 3 from bad.jsonl, 1 mapped, 3 from good.jsonl
    got = sorted((r["source"], r["extra"]["origin"]["line"]) for r in _rows(out))
    assert got == [("bad", 1), ("bad", 3), ("bad", 5), ("good", 1), ("good", 2), ("good", 3), ("mapped", 1)]
    rej = {(r["source"], r["line"]): r for r in _lines(out / "rejects" / "ingest.jsonl")}
    assert rej[("bad", 2)]["reason"] == "not UTF-8 (byte 0xff at column 18)" and rej[("bad", 2)]["file"] == str(bad)
    assert rej[("bad", 4)]["reason"].startswith("malformed JSON")
    assert (rej[("mapped", 2)]["field"], rej[("mapped", 2)]["reason"]) == ("a", "mapped field for 'solution' is "
                                                                           "missing")
    stats = json.loads((out / "stats.json").read_text())
    sources = {s["name"]: s for s in stats["sources"]}
    assert sources["empty"]["records"] == 0 and "error" not in sources["empty"]
    assert sources["folder"]["records"] == 0 and "is a directory" in sources["folder"]["error"]
    assert stats["stages"]["ingest"]["by_source"]["bad"] == {"in": 5, "out": 3, "rejected": 2}
    assert stats["rows"] == 7 and "0 rows" in (out / "README.md").read_text()


def test_cleaning_filters_each_name_themselves():
    def item(problem: str, answer: str | None = "5", category: str = "math") -> dict:
        return {"id": problem[:20], "problem": problem, "reference_answer": answer, "category": category,
                "source": "t", "origin": {"file": "f", "line": 1}}

    cases = {
        "empty": item("  ?  "),
        "truncated": item("Let $f(x) = x^2 +"),
        "urls": item("Read https://example.com/problem and compute the sum of the digits."),
        "figures": item("In the figure below, triangle ABC has area 10. Find the height."),
        "multi_part": item("(a) Find the mean of 2 and 4. (b) Find the median of 1, 2, 9."),
        "non_text": item("Compute ■■■■■■ ▲▲▲ ●●● plus 2 ⊕⊕ \ue000\ue001\ue002 now."),
        "proofs": item("Prove that there are infinitely many primes.", answer=None),
        "answer_parse": item("Compute the value of the expression here.", answer="\\frac{{{"),
    }
    fine = [item("What is 2 + 3? Give the number."), item("Find $x$ if $\\frac{x}{2} = 3$.", answer="\\frac{12}{2}"),
            item("Show all work: what is 10 - 4?", answer="6"), item("Write a program that prints 42.", None, "code")]
    kept, rejects = clean([*cases.values(), *fine], CleanConfig())
    assert [k["problem"] for k in kept] == [f["problem"] for f in fine]
    assert [r.detail["filter"] for r in rejects] == list(cases)
    assert all(r.reason.startswith(f"{r.detail['filter']}: ") and r.stage == "clean" for r in rejects)
    off = CleanConfig()
    off.urls.enabled = False
    off.answer_parse.enabled = False
    kept, _ = clean([cases["urls"], cases["answer_parse"]], off)
    assert len(kept) == 2


def _gsm_recipe(tmp_path: Path, shared: Path, n: int, shard: int, **extra) -> Path:
    src = tmp_path / "gsm.jsonl"
    lines = (shared / "samples" / "gsm8k_train.jsonl").read_text().splitlines()[:n]
    src.write_text("\n".join(lines + lines[:5]) + "\n")  # 5 exact duplicates at the end
    rp = tmp_path / "r.yaml"
    rp.write_text(yaml.safe_dump({"name": "g", "shard_size": shard, "decontaminate": None,
                                  "sources": [{"path": str(src), "format": "gsm8k"}], **extra}))
    return rp


def test_resume_after_sigkill_neither_redoes_nor_duplicates(tmp_path, shared):
    rp = _gsm_recipe(tmp_path, shared, 6000, 100)
    ref = tmp_path / "ref"
    build(load_build_recipe(rp), out=ref)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "data_prep", "build", str(rp), "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    marks = out / "work" / "out_done"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(marks.glob("part-*.json"))) < 3 and proc.poll() is None:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p.name: p.stat().st_mtime_ns for p in marks.glob("part-*.json")}
    assert 3 <= len(done_before) < 61, "the kill should land mid-build"
    resumed = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"{len(done_before)} of 61 shards done earlier, skipped" in " ".join(resumed.stderr.split())
    assert {p: (marks / p).stat().st_mtime_ns for p in done_before} == done_before  # not redone
    rows, want = _rows(out), _rows(ref)
    assert len(rows) == len({r["id"] for r in rows}) == len(want) >= 5990  # MinHash drops a few real near-copies
    assert rows == want
    assert _lines(out / "rejects" / "dedup.jsonl") == _lines(ref / "rejects" / "dedup.jsonl")


def test_ray_engine_writes_exactly_what_the_local_engine_writes(tmp_path, shared):
    import ray

    rp = _gsm_recipe(tmp_path, shared, 300, 120, clean={"urls": {"enabled": True}})
    local = tmp_path / "local"
    build(load_build_recipe(rp, ["workers=2"]), out=local)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        via_ray = tmp_path / "ray"
        stats = build(load_build_recipe(rp, ["engine=ray"]), out=via_ray)
    finally:
        ray.shutdown()
    assert stats["rows"] == 300
    assert _rows(via_ray) == _rows(local)
    for stage in ("ingest", "clean", "dedup", "verify"):
        assert _lines(via_ray / "rejects" / f"{stage}.jsonl") == _lines(local / "rejects" / f"{stage}.jsonl")
    assert len(_lines(local / "rejects" / "dedup.jsonl")) == 5
