"""`python -m eval report` on synthetic checkpoint runs and on real runs of the tiny model, checked as a person
would see it: the HTML opened in headless Chromium (tables and every figure laid out, no network request, a
screenshot kept), the Markdown holding the same sections, lineage carrying the s1K contamination removals, and
missing or unfinished runs reported as notes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from eval.report import main as report_main
from eval.report.lineage import CONTAMINATION_COPY, LINEAGE_FILE, STATS_COPY
from eval.run import main as run_main

from .conftest import S1K_COPIES, artefact_dir, make_checkpoint, make_corpus, make_eval_run, open_report


def check_page(seen: dict, html: Path, md: str) -> None:
    """Every table and figure visible, every figure decoded from embedded data, nothing fetched."""
    assert seen["tables"] and all(t["w"] > 0 and t["h"] > 0 for t in seen["tables"])
    figures = re.findall(r"!\[[^\]]*\]\((report_files/[^)]+\.png)\)", md)
    assert len(seen["images"]) == len(figures) > 0
    for img in seen["images"]:
        assert img["data"] and img["complete"] and img["natural"] > 0 and img["w"] > 0 and img["h"] > 0, img
    assert set(seen["requests"]) <= {html.as_uri()}, seen["requests"]
    text = html.read_text()
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?!data:|#)""", text)  # no URL of any kind to fetch
    assert "http://" not in text and "https://" not in text


@pytest.fixture(scope="module")
def checkpoint_runs(tmp_path_factory, s1k_removals):
    """A base model and three checkpoints of one training run (output_dir/checkpoint-N), each evaluated."""
    root = tmp_path_factory.mktemp("ckpt_runs")
    corpus = make_corpus(root / "corpus", s1k_removals)
    sft = root / "sft"
    (root / "models" / "base").mkdir(parents=True)
    make_eval_run(root / "eval" / "base", root / "models" / "base", skill=0.2, seed=1)
    for i, step in enumerate((100, 200, 300)):
        ckpt = make_checkpoint(sft / f"checkpoint-{step}", corpus)
        make_eval_run(root / "eval" / f"step{step}", ckpt, skill=0.3 + 0.15 * i, seed=10 + i)
    return root


def test_checkpoint_runs_in_chromium(checkpoint_runs, browser, tmp_path, capsys):
    root = checkpoint_runs
    evals = [root / "eval" / n for n in ("step300", "step100", "step200")]  # any order: steps sort them
    out = tmp_path / "report"
    assert report_main([*map(str, evals), "--baseline", str(root / "eval" / "base"), "--out", str(out)]) == 0
    assert f"wrote {out / 'report.html'}" in capsys.readouterr().out
    md = (out / "report.md").read_text()
    # headline: pass@1 ± standard error (problems × samples), published rows, Δ to the baseline, paired
    assert re.search(r"\| \*\*step300\*\* \(`\S+checkpoint-300`\) \| — \| \d+\.\d ± \d+\.\d \(16×4\) \|", md)
    assert "| AM-Distill-Qwen-32B (published) | 72.7 | 96.2 | 64.3 | 59.1 |" in md
    assert re.search(r"\| \*\*step100\*\* \| — \| [+-]\d+\.\d ± \d+\.\d \(16 problems\) \|", md)
    scores = md.split("## Scores")[1].split("### ")[0]
    assert re.findall(r"^\| \*\*(\w+)\*\*", scores, flags=re.M) == ["base", "step100", "step200", "step300"]
    # checkpoint table in step order, with the final figure of each kind
    steps = re.findall(r"^\| (\d+) \| step\d+ \|", md.split("## Checkpoints")[1], flags=re.M)
    assert steps == ["100", "200", "300"]
    for fig in ("scores", "checkpoints_0", "pass_maj_at_k", "lengths_0", "rates", "by_0_math500_level",
                "by_1_math500_subject"):
        assert f"(report_files/{fig}.png)" in md and (out / "report_files" / f"{fig}.png").stat().st_size > 1000
    # lineage: corpus, rows per source, the four s1K copies of MATH-500, and which scored problems they are
    lineage = md.split("## Lineage")[1].split("\n## ")[0]
    assert "### Corpus `s1k-gsm8k-mix`" in lineage and "| s1k | 12 |" in lineage
    assert "**4** training row(s) removed" in lineage
    for s1k_id, item in S1K_COPIES.items():
        assert re.search(rf"\| math500 \| `{re.escape(item)}` \| [^|]+ \| [\d.]+ \| `s1k-{s1k_id}` \| s1k \|", lineage)
    assert "4 of the 16 problems scored were among the removed items" in lineage
    assert "`base`: " in lineage and "not trained by `train.sft`" in lineage
    # audits and reproducibility
    assert re.search(r"`step100` / math500: \*\*\d+\*\* disagreement", md)
    assert "samples truncated" in md and "wrong samples, e.g.:" in md
    assert re.search(r"\| harness \| distillery 0\.1\.0, commit `[0-9a-f]{12}`", md)
    assert re.search(r"\| prompt sha256 \| math500 `[0-9a-f]{12}` \|", md)

    shot = artefact_dir(tmp_path) / "report_checkpoints.png"
    html = out / "report.html"
    seen = open_report(browser, html, shot)
    check_page(seen, html, md)
    assert seen["headings"][:3] == ["Scores", "Checkpoints", "pass@k and maj@k"]
    assert "test/intermediate_algebra/1849.json" in seen["text"]  # the lineage reaches the page
    assert shot.stat().st_size > 10_000


def test_lineage_of_a_checkpoint_lists_the_s1k_copies(tmp_path, s1k_removals):
    """A checkpoint folder holding only the lineage copies (the corpus folder gone) still names the corpus build
    and its removals; the names are the ones train/lineage.py writes."""
    from train import lineage as train_lineage

    assert (LINEAGE_FILE, {"stats.json": STATS_COPY, "contamination.json": CONTAMINATION_COPY}) == \
        (train_lineage.LINEAGE_FILE, train_lineage.REPORTS)
    corpus = make_corpus(tmp_path / "corpus", s1k_removals)
    ckpt = make_checkpoint(tmp_path / "out" / "checkpoint-50", corpus)
    shutil.rmtree(corpus)
    assert {p.name for p in ckpt.iterdir()} == {LINEAGE_FILE, STATS_COPY, CONTAMINATION_COPY}
    make_eval_run(tmp_path / "eval", ckpt, skill=0.5, seed=3, n_problems=2, samples=1)
    (tmp_path / "rep" / "report_files").mkdir(parents=True)
    (tmp_path / "rep" / "report_files" / "checkpoints_0.png").write_bytes(b"a figure of an earlier report")
    assert report_main([str(tmp_path / "eval"), "--out", str(tmp_path / "rep")]) == 0
    assert sorted(p.name for p in (tmp_path / "rep" / "report_files").iterdir()) == [
        "by_0_math500_level.png", "by_1_math500_subject.png", "lengths_0.png", "rates.png", "scores.png"]
    md = (tmp_path / "rep" / "report.md").read_text()
    assert f"report `{ckpt / CONTAMINATION_COPY}`" in md and "against `math500`, `aime24`" in md
    assert sorted(re.findall(r"`s1k-(\d+)`", md), key=int) == [str(i) for i in S1K_COPIES]
    assert "| math500 | exact | 3 |" in md and "| math500 | 13-gram coverage | 1 |" in md
    assert "Every run drew one sample per problem" in md  # samples=1: no pass@k curve, said so


def test_missing_and_partial_runs_are_notes(tmp_path, browser):
    good = tmp_path / "good"
    make_eval_run(good, "Qwen/Qwen2.5-7B-Instruct", skill=0.5, seed=4, n_problems=3, samples=2)
    partial = tmp_path / "partial"  # interrupted: run.json and samples, no summary.json, one torn last line
    make_eval_run(partial, "Qwen/Qwen2.5-7B-Instruct", skill=0.5, seed=5, n_problems=3, samples=2)
    (partial / "summary.json").unlink()
    (partial / "run.json").write_text(json.dumps({"model": "Qwen/Qwen2.5-7B-Instruct", "backend": "hf",
                                                  "benchmarks": {"math500": {"benchmark": "math500"},
                                                                 "aime24": {"benchmark": "aime24"}}}))
    with (partial / "math500.samples.jsonl").open("a") as f:
        f.write('{"problem_id": "test/x.json", "sam')
    broken = tmp_path / "broken"  # summary.json cut short, no samples
    broken.mkdir()
    (broken / "summary.json").write_text('{"model": "m", "benchmarks": {')
    odd = tmp_path / "odd"  # valid JSON of the wrong shape
    odd.mkdir()
    (odd / "summary.json").write_text('{"model": "m", "benchmarks": {"math500": 3}}')
    empty = tmp_path / "empty"
    empty.mkdir()
    gone = tmp_path / "gone"
    out = tmp_path / "rep"
    assert report_main([str(good), str(partial), str(broken), str(odd), str(empty), str(gone), "--baseline",
                        str(tmp_path / "nobase"), "--out", str(out)]) == 0
    md = (out / "report.md").read_text()
    notes = md.split("## Notes")[1].split("\n## ")[0]
    assert f"`{gone}` does not exist; left out." in notes
    assert f"`{empty}` holds neither an eval run" in notes
    assert f"`{tmp_path / 'nobase'}`" in notes and "no Δ column" in notes
    assert f"`{broken / 'summary.json'}` is not valid JSON" in notes
    assert f"`{odd / 'summary.json'}`: benchmarks.math500 is not an object; left out" in notes
    assert "the run did not finish (or was interrupted)" in notes and "benchmark `aime24`: no samples on disk yet" \
        in notes
    assert re.search(r"\| \*\*partial\*\* \(partial\) \(`Qwen/Qwen2\.5-7B-Instruct`\) \| — \| \d+\.\d ± \d+\.\d "
                     r"\(7×2\) \|", md)
    html = out / "report.html"
    seen = open_report(browser, html, artefact_dir(tmp_path) / "report_partial.png")
    check_page(seen, html, md)
    assert "does not exist; left out." in seen["text"]
    assert report_main([str(gone), "--out", str(out)]) == 2  # nothing at all to report: an error, not a page


def test_real_runs_of_the_tiny_model(tmp_path, tiny_model, repo, browser, s1k_removals):
    """`eval run` for real on the tiny model as base and as a train.sft checkpoint with lineage, then the report."""
    ckpt = make_checkpoint(tmp_path / "sft" / "checkpoint-4", make_corpus(tmp_path / "corpus", s1k_removals),
                           model=tiny_model)
    args = ["limit=3", "samples=2", "sampling.max_new_tokens=16", "hf.batch_size=6", "chunk_problems=3"]
    recipe = str(repo / "recipes" / "eval" / "quick.yaml")
    assert run_main([recipe, "--model", str(tiny_model), "--out", str(tmp_path / "eval" / "base"), *args]) == 0
    assert run_main([recipe, "--model", str(ckpt), "--out", str(tmp_path / "eval" / "sft"), *args]) == 0
    summary = json.loads((tmp_path / "eval" / "sft" / "summary.json").read_text())
    prov = summary["provenance"]
    assert prov["model"]["config_sha256"] and prov["libraries"]["transformers"] and prov["seeds"] == {
        "math500": 0, "aime24": 0}
    out = tmp_path / "rep"
    assert report_main([str(tmp_path / "eval" / "base"), str(tmp_path / "eval" / "sft"), "--baseline",
                        str(tmp_path / "eval" / "base"), "--out", str(out)]) == 0
    md = (out / "report.md").read_text()
    assert "## Notes" not in md  # nothing missing
    assert re.search(r"\| \*\*sft\*\* \(`\S+checkpoint-4`\) \| \d+\.\d ± \d+\.\d \(3×2\) \| \d+\.\d ± \d+\.\d \(3×2\)",
                     md)
    assert "**4** training row(s) removed" in md and "0 of the 3 problems scored were among the removed" in md
    assert f"| model | `{tiny_model}` |" in md
    html = out / "report.html"
    shot = artefact_dir(tmp_path) / "report_tiny_model.png"
    seen = open_report(browser, html, shot)
    check_page(seen, html, md)
    # every truncated response's end is one code block of its own (fences closed, whatever the model wrote)
    assert re.search(r"`base` / math500: \*\*\d+\*\* of 6 samples truncated", md)
    assert seen["pres"] == len(re.findall(r"^```+text$", md, flags=re.M)) > 0


def test_pipeline_folder_traces_the_demo_corpus_through_its_rejects(tmp_path, shared):
    """The `make demo` layout (corpus/, sft/, eval/base, eval/sft) with a corpus built before data_prep wrote
    contamination.json: the removals come from corpus/rejects/decontaminate.jsonl, written here by the real
    decontaminator over the real s1K sample."""
    from data_prep.decontaminate import Decontaminator
    from eval.jsonl import write_jsonl

    run = tmp_path / "demo"
    corpus = make_corpus(run / "corpus", [])
    (corpus / "contamination.json").unlink()
    bench = [json.loads(x) for x in (shared / "benchmarks" / "math500.jsonl").read_text().splitlines()]
    s1k_file = shared / "samples" / "s1K__contamination-audit-converted__1000rows.json"
    items = [{"problem": r["problem"], "item_id": f"s1k-{r['id']}", "origin": {"file": str(s1k_file), "line": i + 1}}
             for i, r in enumerate(json.loads(s1k_file.read_text()))]
    _, rejects = Decontaminator({"math500": [(b["unique_id"], b["problem"]) for b in bench]}).filter(items)
    write_jsonl(corpus / "rejects" / "decontaminate.jsonl", [r.to_json() for r in rejects])
    sft = make_checkpoint(run / "sft", corpus)
    (sft / "distillery_train.json").write_text(json.dumps({"global_step": 12, "losses": [1.4, 0.9]}))
    (run / "models" / "base").mkdir(parents=True)
    make_eval_run(run / "eval" / "base", run / "models" / "base", skill=0.2, seed=7, n_problems=4, samples=2)
    make_eval_run(run / "eval" / "sft", sft, skill=0.4, seed=8, n_problems=4, samples=2)
    assert report_main([str(run), "--baseline", str(run / "eval" / "base"), "--out", str(run)]) == 0
    md = (run / "report.md").read_text()
    assert "| train | supervised fine-tuning | demo: 12 steps, loss 1.400 → 0.900 |" in md
    assert "![training loss of demo](report_files/loss_demo.png)" in md
    assert f"report `{corpus / 'rejects' / 'decontaminate.jsonl'}`. **4** training row(s) removed" in md
    assert "| math500 | `test/intermediate_algebra/1849.json` | exact | 1.000 | `s1k-81` | " \
           "s1K\\_\\_contamination-audit-converted\\_\\_1000rows.json:82 |" in md
    assert "`sft` / math500: 4 of the 8 problems scored were among the removed items" in md
    assert re.search(r"### Δ pass@1 vs baseline `base`\n\n.*\n\n.*\n\|---\|---\|---\|---\|---\|\n\| \*\*sft\*\* \| — "
                     r"\| [+-]\d+\.\d ± \d+\.\d \(8 problems\) \|", md)


@pytest.mark.parametrize("report", [
    [{"benchmark": "math500", "item_id": "test/a.json", "method": "exact", "score": 1.0, "row_id": "r1",
      "source": "s1k"}],
    {"benchmarks": ["math500"], "records": [{"benchmark": "math500", "benchmark_item": "test/a.json", "how": "exact",
                                             "score": 1.0, "row": {"id": "r1", "source": "s1k"}}]},
    {"benchmarks": ["math500"], "by_benchmark": {"math500": [{"item_id": "test/a.json", "method": "exact",
                                                              "score": 1.0, "id": "r1", "source": "s1k"}]}},
    {"removed": [{"stage": "decontaminate", "reason": "x", "detail": {"contamination": {
        "benchmark": "math500", "item_id": "test/a.json", "method": "exact", "score": 1.0}}, "id": "r1",
        "source": "s1k"}]},
])
def test_contamination_report_shapes(report):
    """The shapes a contamination report may take (a list, named records, grouped per benchmark, Reject rows with
    `detail.contamination`) all read as the same removal."""
    from eval.report.lineage import parse_contamination

    removals, _ = parse_contamination(report)
    assert removals == [{"benchmark": "math500", "item_id": "test/a.json", "method": "exact", "score": 1.0,
                         "row_id": "r1", "source": "s1k"}]


def test_contamination_report_without_items():
    from eval.report.lineage import parse_contamination

    assert parse_contamination({"benchmarks": ["math500", "aime24"], "removed": 0}) == ([], ["math500", "aime24"])
    assert parse_contamination({"benchmarks": ["math500"], "note": "n/a"}) == (None, ["math500"])
