"""Dedup on real problems: exact, MinHash and semantic finders, the keep rule, resume, and the stand-alone command
(bad input, lines kept byte for byte, Ray engine == local engine)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from data_prep.dedup import DedupConfig, Deduplicator
from data_prep.standalone import run_dedup

REPO = Path(__file__).resolve().parents[2]


def _gsm8k(shared: Path, n: int) -> list[dict]:
    lines = (shared / "samples" / "gsm8k_train.jsonl").read_text().splitlines()[:n]
    return [{"id": f"gsm8k-{i}", "problem": json.loads(x)["question"], "source": "gsm8k"} for i, x in enumerate(lines)]


def _near_copy(text: str) -> str:
    """A light edit: one word dropped near the end, different spacing and case."""
    words = text.split()
    del words[-3]
    return "  ".join(words).upper()


def _run(dd: Deduplicator, rows: list[dict], batch: int = 100) -> tuple[list[dict], list]:
    for i in range(0, len(rows), batch):
        dd.add(rows[i:i + batch])
    dd.finalize()
    kept, rejects = [], []
    for i in range(0, len(rows), batch):
        k, r = dd.filter(rows[i:i + batch])
        kept += k
        rejects += r
    return kept, rejects


def test_exact_and_minhash_find_the_copies_and_keep_by_rule(shared):
    rows = _gsm8k(shared, 400)
    copies = [
        {"id": "exact-of-5", "problem": rows[5]["problem"].lower() + "  ", "source": "other"},
        {"id": "near-of-7", "problem": _near_copy(rows[7]["problem"]), "source": "other"},
        # has a reference answer, so it wins its cluster although it comes last
        {"id": "ref-of-9", "problem": rows[9]["problem"] + " ", "source": "other", "reference_answer": "42"},
        # same text from a preferred source wins over the first seen
        {"id": "pref-of-11", "problem": rows[11]["problem"], "source": "numina"},
    ]
    cfg = DedupConfig(methods=["exact", "minhash"], source_priority=["numina", "gsm8k"])
    kept, rejects = _run(Deduplicator(cfg), rows + copies)
    got = {r.id: (r.detail["duplicate_of"], r.detail["method"]) for r in rejects}
    assert got == {"exact-of-5": ("gsm8k-5", "exact"), "near-of-7": ("gsm8k-7", "minhash"),
                   "gsm8k-9": ("ref-of-9", "exact"), "gsm8k-11": ("pref-of-11", "exact")}
    near = next(r for r in rejects if r.id == "near-of-7")
    assert 0.6 <= near.detail["score"] < 1.0 and near.record["id"] == "near-of-7" and near.field == "problem"
    assert len(kept) == len(rows) + len(copies) - 4


def test_exact_only_leaves_near_copies(shared):
    rows = _gsm8k(shared, 50) + [{"id": "near", "problem": _near_copy(_gsm8k(shared, 3)[2]["problem"])}]
    kept, rejects = _run(Deduplicator(DedupConfig(methods=["exact"])), rows)
    assert rejects == [] and len(kept) == 51


def test_save_load_resumes_both_passes_with_the_same_result(shared, tmp_path):
    rows = _gsm8k(shared, 300) + [{"id": f"copy-{i}", "problem": _near_copy(r["problem"])}
                                  for i, r in enumerate(_gsm8k(shared, 40))]
    cfg = DedupConfig()
    _, whole = _run(Deduplicator(cfg), rows)

    first = Deduplicator(cfg)
    first.add(rows[:150])
    first.save(tmp_path / "state")  # interrupted in pass 1
    resumed = Deduplicator.load(tmp_path / "state", cfg)
    resumed.add(rows[150:])
    resumed.finalize()
    k1, r1 = resumed.filter(rows[:200])
    resumed.save(tmp_path / "state")  # interrupted in pass 2
    again = Deduplicator.load(tmp_path / "state", cfg)
    k2, r2 = again.filter(rows[200:])
    assert [(r.id, r.detail) for r in r1 + r2] == [(r.id, r.detail) for r in whole]
    assert len(whole) >= 38  # nearly all 40 light edits are found
    with pytest.raises(ValueError, match="different dedup config"):
        Deduplicator.load(tmp_path / "state", DedupConfig(minhash_threshold=0.5))


def test_pass_two_must_see_the_rows_of_pass_one(shared):
    rows = _gsm8k(shared, 20)
    dd = Deduplicator(DedupConfig())
    dd.add(rows)
    dd.finalize()
    with pytest.raises(ValueError, match=r"row 1 of pass 2 has id 'gsm8k-1', pass 1 had 'gsm8k-0'"):
        dd.filter(rows[1:])


def test_semantic_dedup_finds_paraphrases_with_the_real_model(embedder):
    rows = [
        {"id": "a", "problem": "What is the sum of the interior angles of a regular hexagon?"},
        {"id": "b", "problem": "Find the sum of interior angles in a regular hexagon."},
        {"id": "c", "problem": "A train travels 60 miles per hour for 3 hours. How far does it go?"},
        {"id": "d", "problem": "Compute the derivative of x^3 + 2x."},
    ]
    kept, rejects = _run(Deduplicator(DedupConfig(methods=["semantic"], semantic_threshold=0.9), embedder), rows)
    assert [r.id for r in rejects] == ["b"] and rejects[0].detail["method"] == "semantic"
    assert rejects[0].detail["duplicate_of"] == "a" and rejects[0].detail["score"] >= 0.9
    assert [k["id"] for k in kept] == ["a", "c", "d"]


def test_config_errors_name_the_key():
    with pytest.raises(ValueError, match="dedup.methods: unknown fuzzy"):
        DedupConfig(methods=["fuzzy"])
    with pytest.raises(ValueError, match="dedup.bands: 7 does not divide num_perm 128"):
        DedupConfig(bands=7)


def _input(tmp_path: Path, shared: Path) -> tuple[Path, list[bytes]]:
    rows = [{"qid": f"q{i}", "question": r["problem"], "extra": {"n": i}} for i, r in enumerate(_gsm8k(shared, 300))]
    rows.append({"qid": "near", "question": _near_copy(rows[4]["question"])})
    good = [(json.dumps(r) + "\n").encode() for r in rows]
    bad = [b'{"qid": "x", "question": "caf\xff au lait"}\n', b'{"qid": "y", "question": \n', b'{"qid": "z"}\n',
           b'{"question": "no id"}\n']
    lines = good[:100] + bad + good[100:]
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"".join(lines))
    return path, good


def test_dedup_command_on_any_jsonl_with_bad_lines(shared, tmp_path):
    src, good = _input(tmp_path, shared)
    out = tmp_path / "out.jsonl"
    proc = subprocess.run([sys.executable, "-m", "data_prep", "dedup", str(src), "--out", str(out), "--field",
                           "question", "--id-field", "qid"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    kept = out.read_bytes().splitlines(keepends=True)
    assert kept == [g for g in good if b'"near"' not in g]  # kept lines byte for byte, nothing else lost
    removed = [json.loads(x) for x in (tmp_path / "out.removed.jsonl").read_text().splitlines()]
    assert [(r["id"], r["line"], r["duplicate_of"], r["method"]) for r in removed] == [("near", 305, "q4", "minhash")]
    assert removed[0]["row"]["question"].startswith("JAMES  WRITES")
    rejects = [json.loads(x) for x in (tmp_path / "out.rejects.jsonl").read_text().splitlines()]
    assert [(r["line"], r.get("field"), r["reason"].split(" (")[0]) for r in rejects] == [
        (101, None, "not UTF-8"), (102, None, "malformed JSON"), (103, "question", "missing or empty text field "
                                                                  "'question'"), (104, "qid", "missing id field 'qid'")]
    assert all(r["file"] == str(src) for r in rejects)


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing.jsonl", "missing.jsonl: no such file"),
    (lambda p: p, "is a directory, expected a JSONL file"),
])
def test_dedup_command_unreadable_input_is_one_line(tmp_path, make, message):
    proc = subprocess.run([sys.executable, "-m", "data_prep", "dedup", str(make(tmp_path)), "--out",
                           str(tmp_path / "o.jsonl")], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2 and message in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_ray_engine_writes_what_the_local_engine_writes(shared, tmp_path):
    src, _ = _input(tmp_path, shared)
    for engine in ("local", "ray"):
        run_dedup(src, tmp_path / f"{engine}.jsonl", field="question", id_field="qid", engine=engine, batch_size=128)
    for suffix in (".jsonl", ".removed.jsonl", ".rejects.jsonl"):
        assert (tmp_path / f"local{suffix}").read_bytes() == (tmp_path / f"ray{suffix}").read_bytes()
    assert (tmp_path / "ray.removed.jsonl").read_text().count("\n") == 1


def test_minhash_signatures_are_stable_across_processes(shared):
    """The index and a resumed run must agree: signatures do not depend on Python's per-process hash seed."""
    from data_prep.dedup.features import minhash_signatures

    text = _gsm8k(shared, 1)[0]["problem"]
    here = minhash_signatures([text])[0]
    code = ("import sys; from data_prep.dedup.features import minhash_signatures as m; "
            "print(','.join(map(str, m([sys.argv[1]])[0][:8])))")
    other = subprocess.run([sys.executable, "-c", code, text], cwd=REPO, capture_output=True, text=True,
                           env={"PYTHONHASHSEED": "123", "PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert other.stdout.strip() == ",".join(map(str, here[:8])) and np.unique(here).size > 100
