"""Decontamination on real data: the s1K copies of MATH-500 with GPQA-Diamond in the index, hand-reworded
benchmark problems among clean training problems, the LLM judge over HTTP, the stand-alone command and the report."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from data_prep.decontaminate import (
    DecontaminateConfig,
    Decontaminator,
    JudgeConfig,
    JudgeError,
    load_items,
    write_contamination_report,
)

REPO = Path(__file__).resolve().parents[2]
REWORDED = Path(__file__).parent / "data" / "reworded_benchmarks.jsonl"
S1K_COPIES = {81: "test/intermediate_algebra/1849.json", 124: "test/intermediate_algebra/1411.json",
              181: "test/intermediate_algebra/558.json", 498: "test/intermediate_algebra/1063.json"}


def _s1k(shared: Path) -> list[dict]:
    return json.loads((shared / "samples" / "s1K__contamination-audit-converted__1000rows.json").read_text())


@pytest.fixture(scope="module")
def bench_items(shared):
    return load_items(["math500", "aime24", "gpqa_diamond"], shared / "benchmarks")


def test_s1k_copies_of_math500_with_gpqa_in_the_index(shared, bench_items):
    dc = Decontaminator(bench_items)
    assert {b.benchmark for b in bench_items} == {"math500", "aime24", "gpqa_diamond"}
    rows = [{"id": r["id"], "problem": r["problem"]} for r in _s1k(shared)]
    kept, rejects = dc.filter(rows)
    got = {r.id: r.detail["contamination"] for r in rejects}
    assert {int(k): v["item_id"] for k, v in got.items()} == S1K_COPIES
    assert got["81"]["method"] == "exact" and got["498"]["method"] == "ngram" and got["498"]["score"] == 0.88
    assert len(kept) == 996
    # boilerplate shared with AIME ("relatively prime positive integers. Find m+n") is not contamination
    assert dc.match("Let x be 3/7 = m/n where m and n are relatively prime positive integers. Find m+n.") is None


def test_digit_stripped_match_catches_changed_numbers_only_for_long_texts(bench_items):
    dc = Decontaminator(bench_items)
    bench = next(b for b in bench_items if b.item_id == "test/prealgebra/1247.json")
    changed = bench.text.replace("50", "60").replace("28", "30")
    m = dc.match(changed)
    assert (m.benchmark, m.item_id, m.method) == ("math500", "test/prealgebra/1247.json", "digits")
    assert dc.match("Compute $\\dbinom{17}{2}$.") is None  # too short for a template match


def _reworded_and_clean(shared: Path) -> tuple[list[dict], list[dict]]:
    reworded = [json.loads(x) for x in REWORDED.read_text().splitlines()]
    gsm = (shared / "samples" / "gsm8k_train.jsonl").read_text().splitlines()[:880]
    clean = [{"id": f"gsm8k-{i}", "problem": json.loads(x)["question"]} for i, x in enumerate(gsm)]
    clean += [{"id": f"s1k-{r['id']}", "problem": r["problem"]} for r in _s1k(shared)
              if r["id"] not in S1K_COPIES][:140]
    return reworded, clean


def test_reworded_set_is_well_formed(bench_items):
    """>= 40 rewordings of MATH-500 / AIME24 items (never GPQA), no 8-word run of the original kept."""
    from data_prep.textnorm import normalize, words

    reworded = [json.loads(x) for x in REWORDED.read_text().splitlines()]
    text = {(b.benchmark, b.item_id): b.text for b in bench_items}
    assert len(reworded) >= 40 and {r["benchmark"] for r in reworded} == {"math500", "aime24"}
    assert {r["split"] for r in reworded} == {"tune", "report"}
    for r in reworded:
        a, b = words(normalize(text[(r["benchmark"], r["item_id"])])), words(normalize(r["problem"]))
        runs = {tuple(a[i:i + 8]) for i in range(len(a) - 7)} & {tuple(b[i:i + 8]) for i in range(len(b) - 7)}
        assert not runs, (r["id"], runs)


def test_reworded_copies_caught_at_low_false_flag_rate(shared, bench_items, embedder):
    """Report half: recall >= 0.90 with <= 0.5% of >= 1,000 clean problems flagged, no judge. The n-gram rule
    alone catches none of the rewordings."""
    reworded, clean = _reworded_and_clean(shared)
    assert len(clean) >= 1000
    cfg = DecontaminateConfig(methods=["lexical", "embedding"])
    dc = Decontaminator(bench_items, cfg=cfg, embedder=embedder)
    _, rej = dc.filter(reworded)
    hit = {r.id: r.detail["contamination"] for r in rej}
    report = [r for r in reworded if r["split"] == "report"]
    right = [r for r in report if r["id"] in hit and hit[r["id"]]["item_id"] == r["item_id"]]
    recall = len(right) / len(report)
    _, flagged = dc.filter(clean)
    false_rate = len(flagged) / len(clean)
    print(f"reworded report half: recall {recall:.2f}; clean flagged {len(flagged)}/{len(clean)}")
    assert recall >= 0.90 and false_rate <= 0.005
    assert all(hit[r.id]["method"] == "embedding" for r in rej)
    lexical_only = Decontaminator(bench_items)
    assert lexical_only.filter(reworded)[1] == []


class _ScriptedJudge(BaseHTTPRequestHandler):
    """An OpenAI-compatible /v1/chat/completions that answers from a script. A test double on purpose: no judge
    model runs here that follows the True/False format (the tiny test models answer noise), and the test is about
    the client side: which pairs are sent, with which prompt, and what the answer does."""

    script: dict[str, str] = {}
    seen: list[str] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][0]["content"]
        type(self).seen.append(prompt)
        answer = next((a for key, a in self.script.items() if key in prompt), "False")
        data = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                           "choices": [{"index": 0, "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": answer}}],
                           "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture()
def judge_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ScriptedJudge)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _ScriptedJudge.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_judge_decides_the_pairs_in_the_band(bench_items, embedder, judge_server):
    reworded = [json.loads(x) for x in REWORDED.read_text().splitlines()][:3]
    _ScriptedJudge.script = {reworded[1]["problem"]: "True", reworded[2]["problem"]: "Sure!"}
    judge = JudgeConfig(base_url=judge_server, model="judge", low=0.0)
    # threshold above any score: every pair with a neighbour goes to the judge, none is removed by embedding alone
    cfg = DecontaminateConfig(methods=["lexical", "judge"], threshold=99.0, judge=judge)
    dc = Decontaminator(bench_items, cfg=cfg, embedder=embedder)
    kept, rej = dc.filter(reworded[:2])
    assert [r["id"] for r in kept] == [reworded[0]["id"]]
    c = rej[0].detail["contamination"]
    assert (rej[0].id, c["method"], c["item_id"]) == (reworded[1]["id"], "judge", reworded[1]["item_id"])
    assert len(_ScriptedJudge.seen) == 2 and "Help me determine if the following two math problems are the same" \
        in _ScriptedJudge.seen[1] and reworded[1]["problem"] in _ScriptedJudge.seen[1]
    with pytest.raises(JudgeError, match="expected True or False, got 'sure!'"):
        dc.filter(reworded[2:3])
    dead = DecontaminateConfig(methods=["judge"], threshold=99.0,
                               judge=JudgeConfig(base_url="http://127.0.0.1:9/v1", model="m", low=0.0, timeout_s=2))
    with pytest.raises(JudgeError, match=r"judge http://127.0.0.1:9/v1 \(m\): APIConnectionError"):
        Decontaminator(bench_items, cfg=dead, embedder=embedder).filter(reworded[:1])


def test_decontaminate_command_with_benchmark_dir_and_a_user_file(shared, tmp_path):
    src = tmp_path / "s1k.jsonl"
    lines = [json.dumps({"id": r["id"], "problem": r["problem"]}) for r in _s1k(shared)[:200]]
    lines.insert(50, '{"id": 9999, "problem": "unterminated')
    mine = tmp_path / "my_bench.jsonl"
    mine.write_text(json.dumps({"id": "mine-1", "problem": _s1k(shared)[7]["problem"]}) + "\n")
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "clean.jsonl"
    proc = subprocess.run([sys.executable, "-m", "data_prep", "decontaminate", str(src), "--out", str(out),
                           "--benchmarks", f"aime24,math500,gpqa_diamond,livecodebench,{mine}",
                           "--benchmark-dir", str(shared / "benchmarks"), "--methods", "lexical"],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    removed = [json.loads(x) for x in (tmp_path / "clean.removed.jsonl").read_text().splitlines()]
    assert [(r["id"], r["benchmark"], r["item_id"], r["method"]) for r in removed] == [
        (7, "my_bench", "mine-1", "exact"), (81, "math500", S1K_COPIES[81], "exact"),
        (124, "math500", S1K_COPIES[124], "exact"), (181, "math500", S1K_COPIES[181], "exact")]
    assert out.read_text().count("\n") == 200 - 4
    assert json.loads((tmp_path / "clean.rejects.jsonl").read_text())["line"] == 51
    report = json.loads((tmp_path / "clean.contamination" / "contamination.json").read_text())
    assert report["removed"] == 4 and report["checked"] == 200 and report["by_benchmark"] == {"math500": 3,
                                                                                               "my_bench": 1}
    bad = subprocess.run([sys.executable, "-m", "data_prep", "decontaminate", str(src), "--out", str(out),
                          "--benchmarks", "nope"], cwd=REPO, capture_output=True, text=True)
    assert bad.returncode == 2 and "benchmark nope: unknown benchmark 'nope'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_report_files_match_what_lineage_copies(tmp_path):
    from train.lineage import REPORTS

    records = [{"id": "r1", "benchmark": "math500", "item_id": "test/x.json", "method": "ngram", "score": 0.8}]
    report = write_contamination_report(tmp_path, records, ["math500", "aime24"], checked=10, methods=["lexical"])
    assert "contamination.json" in REPORTS
    assert json.loads((tmp_path / "contamination.json").read_text()) == report
    assert report["removed"] == 1 and report["by_method"] == {"ngram": 1}
    md = (tmp_path / "contamination.md").read_text()
    assert "| r1 | math500 | test/x.json | ngram | 0.8 |" in md
