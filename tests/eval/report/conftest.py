"""Helpers for the report tests: synthetic eval runs built with the real scoring code, a corpus whose contamination
report comes from the real decontaminator on the real s1K sample, and a headless Chromium (Debian's package,
driven by playwright) that opens a report from disk and says what it saw."""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from eval.jsonl import write_jsonl
from eval.metrics import summarize
from eval.provenance import collect
from eval.summary import write_disagreements

MATH500 = Path(__file__).resolve().parents[3] / "eval" / "benchmarks" / "data" / "math500.jsonl"
CHROMIUM = "/usr/bin/chromium"
# The MATH-500 items that s1K copies (s1K ids 81, 124, 181, 498; tests/data_prep checks the decontaminator finds them).
S1K_COPIES = {81: "test/intermediate_algebra/1849.json", 124: "test/intermediate_algebra/1411.json",
              181: "test/intermediate_algebra/558.json", 498: "test/intermediate_algebra/1063.json"}


def math500_problems(n: int) -> list[dict[str, Any]]:
    """The first n MATH-500 problems plus the four s1K copies (so a report can cross-check them)."""
    rows = [json.loads(x) for x in MATH500.read_text().splitlines()]
    picked = rows[:n] + [r for r in rows if r["unique_id"] in S1K_COPIES.values() and r not in rows[:n]]
    return picked


def make_eval_run(out: Path, model: Path | str, skill: float, seed: int, n_problems: int = 12, samples: int = 4,
                  max_new_tokens: int = 512) -> dict[str, Any]:
    """An eval output folder shaped like `eval run` writes it (samples rows, summary.json from eval.metrics,
    disagreements from eval.summary, provenance from eval.provenance) for a model that answers right with
    probability `skill`."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for p in math500_problems(n_problems):
        for j in range(samples):
            ok = rng.random() < skill
            truncated = not ok and rng.random() < 0.3
            extracted = None if truncated else p["answer"] if ok else str(rng.randint(2, 99))
            tokens = max_new_tokens if truncated else rng.randint(60, max_new_tokens - 20) + (0 if ok else 80)
            tokens = min(tokens, max_new_tokens)
            second = ok if rng.random() > 0.1 else not ok  # the second grader disagrees on about 1 in 10
            rows.append({"benchmark": "math500", "problem_id": p["unique_id"], "sample": j,
                         "prompt": p["problem"], "gold": p["answer"],
                         "response": "<think>" + "let me compute. " * 6 + ("" if truncated else
                                     f"</think>\nSo the answer is $\\boxed{{{extracted}}}$."),
                         "extracted": extracted, "correct": ok, "reason": "ok" if ok else (
                             "truncated" if truncated else "wrong answer"),
                         "how": None if truncated else "boxed", "format_ok": not truncated,
                         "second_correct": second, "second_reason": "equal" if second else "not equal",
                         "n_tokens": tokens, "finish_reason": "length" if truncated else "stop", "truncated": truncated,
                         "meta": {"subject": p["subject"], "level": p["level"]}})
    write_jsonl(out / "math500.samples.jsonl", rows)
    audit = write_disagreements(out / "math500.disagreements.jsonl", rows)
    settings = {"model": str(model), "backend": "hf", "prompt": {"system_prompt": None, "think_prefix": True,
                                                                 "chat_template": None},
                "benchmarks": {"math500": {"benchmark": "math500", "prompt_template": "{question}",
                                           "sampling": {"seed": 0}}}}
    summary = {
        "model": str(model), "backend": "hf", "recipe": "r1", "recipe_path": "recipes/eval/r1.yaml",
        "sampling": {"temperature": 0.6, "top_p": 0.95, "max_new_tokens": max_new_tokens, "seed": 0},
        "prompt": settings["prompt"], "strict_format": False,
        "started": "2026-11-21T06:00:00+00:00", "finished": "2026-11-21T06:40:00+00:00", "elapsed_s": 2400.0,
        "generated_tokens": sum(r["n_tokens"] for r in rows), "generation_s": 2000.0, "tokens_per_s": 123.4,
        "resumed_problems": 0, "provenance": collect(settings),
        "benchmarks": {"math500": {**summarize(rows), "benchmark": "math500", "metric": "pass@1", "grader": "math",
                                   "reference_column": "MATH-500", "samples_file": "math500.samples.jsonl",
                                   "disagreements_file": audit.name, "limit": None, "offset": 0}},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


@pytest.fixture(scope="session")
def s1k_removals(shared) -> list[dict[str, Any]]:
    """Contamination records (contract shape: benchmark, item_id, method, score, row_id, source) from the real
    decontaminator run over the real 1,000-row s1K sample against MATH-500."""
    from data_prep.decontaminate import Decontaminator

    bench = [json.loads(x) for x in (shared / "benchmarks" / "math500.jsonl").read_text().splitlines()]
    index = Decontaminator({"math500": [(b["unique_id"], b["problem"]) for b in bench]})
    s1k = json.loads((shared / "samples" / "s1K__contamination-audit-converted__1000rows.json").read_text())
    out = []
    for r in s1k:
        m = index.match(r["problem"])
        if m:
            out.append({"benchmark": m.benchmark, "item_id": m.problem_id,
                        "method": "exact" if m.method == "exact" else "13-gram coverage",
                        "score": m.score, "row_id": f"s1k-{r['id']}",
                        "source": "s1k"})
    assert {r["row_id"] for r in out} == {f"s1k-{i}" for i in S1K_COPIES}
    return out


def make_corpus(root: Path, removals: list[dict[str, Any]]) -> Path:
    """A data_prep-like corpus folder: one shard, stats.json and contamination.json."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    write_jsonl(root / "data" / "train-00000-of-00001.jsonl",
                [{"id": f"gsm8k-{i}", "source": "gsm8k", "messages": []} for i in range(30)]
                + [{"id": f"s1k-{i}", "source": "s1k", "messages": []} for i in range(12)])
    (root / "stats.json").write_text(json.dumps({
        "name": "s1k-gsm8k-mix", "description": "GSM8K reference traces and s1K", "rows": 42, "shards": 1,
        "by_source": {"gsm8k": 30, "s1k": 12},
        "verification": {"gsm8k/reference": {"rows": 31, "passed": 30, "failed": 1, "unverifiable": 0,
                                             "verified_share": 0.9677},
                         "s1k/reference": {"rows": 12, "passed": 12, "failed": 0, "unverifiable": 0,
                                           "verified_share": 1.0}},
        "rejects": {"decontaminate": len(removals), "verify": 1}}) + "\n")
    (root / "contamination.json").write_text(json.dumps({"benchmarks": ["math500", "aime24"],
                                                         "removed": removals}) + "\n")
    return root


def make_checkpoint(folder: Path, corpus: Path, model: Path | None = None) -> Path:
    """A train.sft checkpoint folder: the model files (copied when given) and the lineage train.lineage writes."""
    from train.lineage import corpus_record, scan_files, write_lineage

    if model is not None:
        shutil.copytree(model, folder, dirs_exist_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    files = sorted((corpus / "data").glob("*.jsonl"))
    write_lineage(folder, corpus_record(str(corpus), "train", scan_files(files, corpus)))
    return folder


def artefact_dir(tmp_path: Path) -> Path:
    """Where screenshots go: $DISTILLERY_ARTEFACTS (kept by CI) or the test's tmp dir."""
    base = os.environ.get("DISTILLERY_ARTEFACTS")
    folder = Path(base) / "report" if base else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def browser():
    """Headless Debian chromium (tests/setup_system.sh installs it), started by the test through playwright."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run tests/setup_system.sh (installs Debian's chromium)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])  # CI runs as root
        yield b
        b.close()


def open_report(browser, html: Path, screenshot: Path) -> dict[str, Any]:
    """Open the report from disk; return every request it made, its tables and images as laid out, and save a
    full-page screenshot."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    context.route("**/*", lambda route: (requests.append(route.request.url),
                                         route.continue_() if route.request.url.startswith(("file:", "data:"))
                                         else route.abort()))
    page = context.new_page()
    page.on("request", lambda req: requests.append(req.url))
    page.goto(html.as_uri(), wait_until="load")
    seen = page.evaluate("""() => ({
        tables: [...document.querySelectorAll('table')].map(t => {const r = t.getBoundingClientRect();
            return {w: r.width, h: r.height, rows: t.rows.length, text: t.innerText.slice(0, 4000)};}),
        images: [...document.images].map(i => {const r = i.getBoundingClientRect();
            return {alt: i.alt, w: r.width, h: r.height, natural: i.naturalWidth, complete: i.complete,
                    data: i.src.startsWith('data:image/png;base64,')};}),
        headings: [...document.querySelectorAll('h2')].map(h => h.innerText),
        pres: document.querySelectorAll('pre').length,
        text: document.body.innerText,
    })""")
    page.screenshot(path=str(screenshot), full_page=True)
    context.close()
    seen["requests"] = requests
    print(f"screenshot: {screenshot}")
    return seen
