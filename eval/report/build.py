"""Putting the report together: discovery of runs in the given folders, the sections in order, and the CLI."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from eval.report import sections
from eval.report.pipeline import corpus_section, sft_section
from eval.report.render import code, esc, note, slug, table, to_html
from eval.report.runs import Run, attach_final_models, load_run, unique_labels

REFERENCE_FILE = Path(__file__).resolve().parents[1] / "reference.json"


@dataclass
class Found:
    evals: list[Path] = field(default_factory=list)
    corpus: list[tuple[str, Path]] = field(default_factory=list)
    sft: list[tuple[str, Path]] = field(default_factory=list)
    pipelines: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _is_eval_dir(folder: Path) -> bool:
    return (folder / "summary.json").exists() or (folder / "run.json").exists() or \
        any(folder.glob("*.samples.jsonl"))


def discover(run_dirs: list[Path]) -> Found:
    """Eval folders and pipeline stages under the given folders; a folder that is neither becomes a note."""
    found = Found()
    for run in run_dirs:
        if not run.exists():
            found.notes.append(f"{code(run)} does not exist; left out.")
            continue
        if not run.is_dir():
            found.notes.append(f"{code(run)} is a file, not a run folder; left out.")
            continue
        if _is_eval_dir(run):
            found.evals.append(run)
            continue
        stages = [p for p in ("corpus", "sft", "eval") if (run / p).is_dir()]
        if not stages:
            found.notes.append(f"{code(run)} holds neither an eval run (summary.json, run.json or samples) nor a "
                               "pipeline folder (corpus/, sft/, eval/); left out.")
            continue
        found.pipelines.append(run)
        label = run.name
        if (run / "corpus").is_dir():
            found.corpus.append((label, run / "corpus"))
        if (run / "sft").is_dir():
            found.sft.append((label, run / "sft"))
        evals = run / "eval"
        subs = sorted(p for p in evals.iterdir() if p.is_dir()) if evals.is_dir() else []
        found.evals += subs
        if (run / "eval").is_dir() and not subs:
            found.notes.append(f"{code(run / 'eval')} holds no eval run folder.")
    return found


def _stage(fn: Any, parts: list[tuple[str, Path]]) -> tuple[str, list[str]]:
    try:
        return fn(parts)
    except ValueError as exc:  # a stage file that is not valid JSON
        return f"unreadable: {exc}", note(esc(exc))


def _eval_status(runs: list[Run]) -> str:
    parts = []
    for r in runs:
        if r.summary is None:
            parts.append(f"{r.label}: no scores")
            continue
        scores = ", ".join(f"{k} {sections.pct((b or {}).get('pass@1'))}" for k, b in r.benchmarks.items())
        parts.append(f"{r.label}: {scores}" + (" (partial)" if r.partial else ""))
    return "; ".join(parts) if parts else "missing: no eval run"


def build_report(run_dirs: list[Path], out_dir: Path, baseline: Path | None = None) -> tuple[str, dict[str, bytes]]:
    """(Markdown text, {image path relative to out_dir: PNG bytes}) of the report for these folders.
    Raises FileNotFoundError when none of the folders exists."""
    if not any(d.exists() for d in run_dirs):
        raise FileNotFoundError(", ".join(str(d) for d in run_dirs) + ": no such folder")
    reference = json.loads(REFERENCE_FILE.read_text())
    found = discover(run_dirs)
    folders = list(dict.fromkeys(found.evals))
    base_index = None
    if baseline is not None:
        resolved = [f.resolve() for f in folders]
        if baseline.resolve() in resolved:
            base_index = resolved.index(baseline.resolve())
        elif baseline.is_dir():
            folders.insert(0, baseline)
            base_index = 0
        else:
            found.notes.append(f"baseline {code(baseline)} does not exist; no Δ column.")
    runs = [load_run(label, folder) for label, folder in zip(unique_labels(folders), folders)]
    attach_final_models(runs)
    base_run = runs[base_index] if base_index is not None else None
    # the baseline first, then the runs as given, the checkpoints of one training run together in step order
    first_of: dict[Path, int] = {}
    for i, r in enumerate(runs):
        if r.series is not None:
            first_of.setdefault(r.series, i)
    runs = [r for _, r in sorted(enumerate(runs), key=lambda ir: (ir[1] is not base_run,
                                                                   first_of.get(ir[1].series, ir[0]) if ir[1].series
                                                                   else ir[0], ir[1].step or 0, ir[0]))]
    for r in runs:
        found.notes += [f"{code(r.label)} ({code(r.folder)}): {n}" for n in r.notes]
    scored = [r for r in runs if r.summary is not None]
    figs = sections.Figures()
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")

    body: list[tuple[str, list[str]]] = []
    if found.pipelines:
        corpus_status, corpus_lines = _stage(corpus_section, found.corpus)
        sft_status, sft_lines = _stage(lambda parts: sft_section(parts, figs), found.sft)
        stage_rows = [["data_prep", "build the verified corpus", corpus_status],
                      ["train", "supervised fine-tuning", sft_status],
                      ["eval", "generate, grade, score", _eval_status(runs)],
                      ["report", "this file", f"written {now} to {out_dir}"]]
        body.append(("Stages", table(["stage", "does", "what happened"],
                                     [[a, b, c.replace("|", "\\|")] for a, b, c in stage_rows])))
    body.append(("Scores", sections.scores_section(runs, base_run, reference, figs)))
    checkpoints = sections.checkpoints_section(scored, base_run, figs)
    if checkpoints:
        body.append(("Checkpoints", checkpoints))
    body += [
        ("pass@k and maj@k", sections.pass_k_section(scored, figs)),
        ("Response lengths: correct vs wrong", sections.lengths_section(scored, figs)),
        ("Truncation and no-answer rates", sections.rates_section(scored, figs)),
        ("Breakdowns by subject and level", sections.breakdowns_section(scored, figs)),
        ("Lineage: what the model was trained on", sections.lineage_section(scored)),
        ("Audits", sections.audits_section(scored)),
        ("Reproducibility", sections.reproducibility_section(scored)),
    ]
    if found.pipelines:
        body += [("data_prep", corpus_lines), ("train", sft_lines)]

    title = "distillery report — " + ", ".join(d.name or str(d) for d in run_dirs)
    lines = [f"# {esc(title)}", "",
             f"Generated by `python -m eval report` at {now} from "
             + ", ".join(code(d) for d in run_dirs)
             + (f", baseline {code(baseline)}" if baseline else "") + f": {len(scored)} eval run(s) with scores.", ""]
    if found.notes:
        lines += ["## Notes", ""] + [f"> **Note:** {n}\n>" for n in found.notes] + [""]
    lines += ["Contents: " + " · ".join(f"[{esc(name)}](#{slug(name)})" for name, _ in body), ""]
    for name, section in body:
        lines += [f"## {name}", "", *section, ""]
    return "\n".join(lines).rstrip() + "\n", figs.images


def write_report(run_dirs: list[Path], out_dir: Path, baseline: Path | None = None) -> tuple[Path, Path]:
    """Write report.md (+ report_files/*.png) and report.html into out_dir; returns their paths."""
    markdown, images = build_report(run_dirs, out_dir, baseline)
    out_dir.mkdir(parents=True, exist_ok=True)
    stale = out_dir / sections.Figures().folder
    for old in stale.glob("*.png") if stale.is_dir() else []:  # figures of an earlier report into this folder
        if f"{stale.name}/{old.name}" not in images:
            old.unlink()
    for rel, png in images.items():
        (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (out_dir / rel).write_bytes(png)
    md_path, html_path = out_dir / "report.md", out_dir / "report.html"
    md_path.write_text(markdown)
    html_path.write_text(to_html(markdown, images, markdown.splitlines()[0].lstrip("# ").replace("\\", "")))
    return md_path, html_path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval report", description="One page (HTML + Markdown) that "
                                 "explains eval runs: scores beside the published tables, plots, lineage, audits.")
    ap.add_argument("run_dirs", nargs="+", type=Path, help="eval output folders, or pipeline folders (corpus/, sft/, "
                    "eval/<name>/)")
    ap.add_argument("--out", type=Path, default=None, help="folder for report.html, report.md and report_files/ "
                    "(default: the first RUN_DIR)")
    ap.add_argument("--baseline", type=Path, default=None, help="eval run the others are compared with (Δ pass@1)")
    args = ap.parse_args(argv)
    out_dir = args.out or args.run_dirs[0]
    try:
        md_path, html_path = write_report(args.run_dirs, out_dir, args.baseline)
    except FileNotFoundError as exc:
        print(f"error: {exc}")
        return 2
    print(f"wrote {md_path}")
    print(f"wrote {html_path}")
    return 0
