"""`python -m eval report RUN_DIR... [--out DIR]` — a Markdown report of a pipeline run or of eval runs.

A RUN_DIR is either one eval output folder (it holds summary.json) or a pipeline folder such as runs/demo/
with `corpus/` (data_prep: stats.json, README.md), `sft/` (Trainer output: trainer_state.json,
train_results.json / all_results.json) and `eval/<name>/summary.json`. Whatever exists is reported; a stage
whose files are missing is said to be missing. Scores stand beside the published reference table.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REFERENCE_FILE = Path(__file__).resolve().parent / "reference.json"


def _load(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(x: Any) -> str:
        return _num(x).replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(x) for x in row) + " |" for row in rows]
    return lines


# --- discovery ---------------------------------------------------------------------------------------------

def find_parts(run_dirs: list[Path]) -> dict[str, list[tuple[str, Path]]]:
    """{"corpus": [(label, dir)], "sft": [...], "eval": [...]} found under the given folders."""
    parts: dict[str, list[tuple[str, Path]]] = {"corpus": [], "sft": [], "eval": []}
    for run in run_dirs:
        if not run.is_dir():
            raise FileNotFoundError(f"{run}: not a directory")
        if (run / "summary.json").exists():
            parts["eval"].append((run.name, run))
            continue
        if (run / "corpus").is_dir():
            parts["corpus"].append((run.name, run / "corpus"))
        if (run / "sft").is_dir():
            parts["sft"].append((run.name, run / "sft"))
        evals = run / "eval"
        if evals.is_dir():
            for sub in sorted(p for p in evals.iterdir() if p.is_dir()):
                parts["eval"].append((sub.name if len(run_dirs) == 1 else f"{run.name}/{sub.name}", sub))
    return parts


# --- stages ------------------------------------------------------------------------------------------------

def corpus_section(parts: list[tuple[str, Path]]) -> tuple[str, list[str]]:
    """(one-line status, Markdown lines) for the data_prep stage."""
    if not parts:
        return "missing: no corpus/ folder", ["No `corpus/` folder was found, so data_prep left nothing to report."]
    lines: list[str] = []
    statuses = []
    for label, folder in parts:
        stats = _load(folder / "stats.json")
        lines += [f"### Corpus `{label}` ({folder})", ""]
        if stats is None:
            lines.append(f"`{folder}/stats.json` is missing: the build did not finish (look in `{folder}/work/`).")
            statuses.append(f"{label}: stats.json missing")
            continue
        rejects = stats.get("rejects") or {}
        verification = stats.get("verification") or {}
        passed = sum(v.get("passed", 0) for v in verification.values())
        failed = sum(v.get("failed", 0) for v in verification.values())
        share = f"{100 * passed / (passed + failed):.1f}%" if passed + failed else "—"
        statuses.append(f"{label}: {_num(stats.get('rows'))} rows kept, verified share {share}, "
                        f"{_num(sum(rejects.values()))} rejects")
        lines.append(f"- rows kept: **{_num(stats.get('rows'))}** in {_num(stats.get('shards'))} shard(s); "
                     f"build time {_num(stats.get('seconds'))} s")
        stages = stats.get("stages") or {}
        if stages:
            lines += ["", "Stages:", ""]
            lines += _table(["stage", "rows out", "rejects", "seconds"],
                            [[k, v.get("rows"), v.get("rejects"), v.get("seconds")] for k, v in stages.items()])
        if verification:
            lines += ["", "Verification (verified share = passed / (passed + failed)):", ""]
            lines += _table(["source/response", "rows", "passed", "failed", "unverifiable", "verified share"],
                            [[k, v.get("rows"), v.get("passed"), v.get("failed"), v.get("unverifiable"),
                              "—" if v.get("verified_share") is None else f"{100 * v['verified_share']:.1f}%"]
                             for k, v in verification.items()])
        reasons = stats.get("reject_reasons") or {}
        if rejects:
            lines += ["", "Rejects by stage (top reasons):", ""]
            lines += _table(["stage", "rejects", "top reasons"],
                            [[k, n, "; ".join(f"{r} ({c})" for r, c in list((reasons.get(k) or {}).items())[:3])]
                             for k, n in rejects.items()])
        card = folder / "README.md"
        lines += ["", f"Dataset card: `{card}`" if card.exists() else f"Dataset card `{card}` is missing.", ""]
    return "; ".join(statuses), lines


def _trainer_state(folder: Path) -> dict[str, Any] | None:
    state = _load(folder / "trainer_state.json")
    if state is not None:
        return state
    checkpoints = sorted(folder.glob("checkpoint-*/trainer_state.json"), key=lambda p: int(p.parent.name.split("-")[-1])
                         if p.parent.name.split("-")[-1].isdigit() else -1)
    return _load(checkpoints[-1]) if checkpoints else None


def sft_section(parts: list[tuple[str, Path]]) -> tuple[str, list[str]]:
    """(one-line status, Markdown lines) for the train stage (train.sft's distillery_train.json and/or the
    Trainer's trainer_state.json / train_results.json)."""
    if not parts:
        return "missing: no sft/ folder", ["No `sft/` folder was found, so training left nothing to report."]
    lines: list[str] = []
    statuses = []
    for label, folder in parts:
        lines += [f"### Training `{label}` ({folder})", ""]
        ours = _load(folder / "distillery_train.json") or {}
        state = _trainer_state(folder)
        results = _load(folder / "train_results.json") or _load(folder / "all_results.json") or {}
        if not ours and state is None:
            lines += [f"Neither `{folder}/distillery_train.json` nor a `trainer_state.json` exists: training did not "
                      "finish or did not save.", ""]
            statuses.append(f"{label}: no training summary")
            continue
        history = (state or {}).get("log_history") or []
        if ours.get("losses"):
            losses = list(enumerate(ours["losses"], start=1))
            loss_unit = "logged loss #"
        else:
            losses = [(h.get("step"), h["loss"]) for h in history if "loss" in h]
            loss_unit = "step"
        final = next((h for h in reversed(history) if "train_runtime" in h), {})
        runtime = results.get("train_runtime", ours.get("train_runtime", final.get("train_runtime")))
        steps = ours.get("global_step", (state or {}).get("global_step"))
        train_loss = ours.get("train_loss", results.get("train_loss", final.get("train_loss")))
        first, last = (losses[0], losses[-1]) if losses else ((None, None), (None, None))
        statuses.append(f"{label}: {_num(steps)} steps, loss {_num(first[1], 3)} → {_num(last[1], 3)}"
                        + (f", {_num(runtime)} s" if runtime is not None else ""))
        throughput = (ours.get("throughput") or {}).get("tokens_per_second_per_device")
        lines += _table(["steps", f"loss first ({loss_unit})", f"loss last ({loss_unit})", "train loss (mean)",
                         "runtime s", "tokens/s/device"],
                        [[steps, f"{_num(first[1], 4)} ({_num(first[0])})", f"{_num(last[1], 4)} ({_num(last[0])})",
                          _num(train_loss, 4), runtime, throughput]])
        data = ours.get("data") or {}
        if ours:
            lines += ["", f"- base model `{ours.get('model')}`, corpus `{ours.get('dataset')}`, loss on "
                      f"{ours.get('loss_on')}, LoRA/PEFT {_num(ours.get('peft'))}"]
        if data:
            lines.append(f"- {_num(data.get('examples'))} examples, {_num(data.get('tokens'))} tokens "
                         f"({_num(data.get('trained_tokens'))} trained), max length {_num(data.get('max_length'))}, "
                         f"{_num(data.get('dropped_overlong'))} dropped as too long")
        if len(losses) > 2:
            lines += ["", "Loss every logged step: " + ", ".join(f"{s}: {v:.3f}" for s, v in losses[:40])
                      + (" …" if len(losses) > 40 else "")]
        lines.append("")
    return "; ".join(statuses), lines


def eval_section(parts: list[tuple[str, Path]], reference: dict[str, Any]) -> tuple[str, list[str]]:
    """(one-line status, Markdown lines) for the eval stage: our scores beside the published ones."""
    if not parts:
        return "missing: no eval summary.json", ["No eval `summary.json` was found, so there are no scores."]
    summaries = []
    missing = []
    for label, folder in parts:
        s = _load(folder / "summary.json")
        if s is None:
            missing.append(f"`{folder}/summary.json` is missing (the eval run did not finish).")
        else:
            summaries.append((label, folder, s))
    columns = reference["columns"]
    col_of = reference["benchmark_columns"]
    lines = ["Scores are pass@1 in % (mean over samples, averaged over problems). A score on a slice of a "
             "benchmark, or with a short token budget, is not comparable with the published numbers; the "
             "problems × samples under each score say what was run.", ""]
    rows = []
    for label, _, s in summaries:
        cells: dict[str, str] = {}
        for name, b in (s.get("benchmarks") or {}).items():
            col = b.get("reference_column") or col_of.get(name) or name
            cells[col] = f"{_num(b.get('pass@1'))} ({b.get('n_problems')}×{b.get('samples_per_problem')})"
            if col not in columns:
                columns = [*columns, col]
        rows.append([f"**{label}** ({s.get('model')})", *[cells.get(c, "—") for c in columns]])
    rows += [[f"{r['model']} (published)", *[r.get(c, "—") for c in columns]] for r in reference["rows"]]
    lines += _table(["model", *columns], rows)
    lines += ["", f"Published numbers: {reference['source']}.", ""]
    if any("gsm8k" in (s.get("benchmarks") or {}) for _, _, s in summaries):
        om = reference["openmath"]
        ours = []
        for label, _, s in summaries:
            b = (s.get("benchmarks") or {})
            g, m = b.get("gsm8k") or {}, b.get("math") or b.get("math500") or {}
            # recipes/eval/openmath.yaml runs maj@50 as separate entries (gsm8k_maj50, math_maj50)
            gm, mm = b.get("gsm8k_maj50") or g, b.get("math_maj50") or m
            gn, mn = gm.get("samples_per_problem"), mm.get("samples_per_problem")
            ours.append([f"**{label}**", g.get("pass@1"), m.get("pass@1"), gm.get(f"maj@{gn}"), mm.get(f"maj@{mn}")])
        lines += ["OpenMath-style (greedy = pass@1 at temperature 0; our MATH column is MATH-500, theirs the full "
                  "5,000-problem MATH test; our maj@n uses the run's n samples):", ""]
        lines += _table(["model", *om["columns"]],
                        ours + [[f"{r['model']} (published)", *[r.get(c) for c in om["columns"]]] for r in om["rows"]])
        lines += ["", f"Published numbers: {om['source']}.", ""]
    for label, folder, s in summaries:
        samp = s.get("sampling") or {}
        prompt = s.get("prompt") or {}
        lines += [f"### `{label}` settings ({folder})", ""]
        lines += _table(
            ["model", "backend", "temperature", "top-p", "max new tokens", "seed", "think prefix", "system prompt",
             "tokens/s", "finished"],
            [[s.get("model"), s.get("backend"), str(samp.get("temperature")), str(samp.get("top_p")),
              samp.get("max_new_tokens"), samp.get("seed"), prompt.get("think_prefix"),
              "yes" if prompt.get("system_prompt") else "none", s.get("tokens_per_s"), s.get("finished")]])
        lines += [""]
        bench_rows = []
        for name, b in (s.get("benchmarks") or {}).items():
            n = b.get("samples_per_problem") or 0
            bench_rows.append([name, b.get("n_problems"), n, b.get("pass@1"), b.get(f"maj@{n}"), b.get(f"pass@{n}"),
                               b.get("truncated_rate"), b.get("no_answer_rate"), b.get("mean_tokens")])
        lines += _table(["benchmark", "problems", "samples", "pass@1", "maj@n", "pass@n", "truncated %",
                         "no answer %", "mean tokens"], bench_rows)
        lines += [""]
    lines += missing
    status = "; ".join(
        f"{label}: " + ", ".join(f"{n} {_num((b or {}).get('pass@1'))}" for n, b in (s.get("benchmarks") or {}).items())
        for label, _, s in summaries
    )
    return status + ("; " + " ".join(missing) if missing else ""), lines


def build_report(run_dirs: list[Path], out_path: Path) -> str:
    """The Markdown text of the report for these folders."""
    reference = json.loads(REFERENCE_FILE.read_text())
    parts = find_parts(run_dirs)
    stages = [
        ("data_prep", "build the verified corpus", *corpus_section(parts["corpus"])),
        ("train", "supervised fine-tuning", *sft_section(parts["sft"])),
        ("eval", "generate, grade, score", *eval_section(parts["eval"], reference)),
    ]
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    stages.append(("report", "this file", f"written {now} to {out_path}", []))
    lines = [f"# distillery report — {', '.join(str(d) for d in run_dirs)}", "", "## Stages", ""]
    lines += _table(["stage", "does", "what happened"], [[n, d, s] for n, d, s, _ in stages])
    for name, _, _, body in stages[:3]:
        lines += ["", f"## {name}", "", *body]
    lines += ["", "## report", "", f"Generated by `python -m eval report` at {now} from: "
              + ", ".join(f"`{d}`" for d in run_dirs) + "."]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval report", description=(__doc__ or "").splitlines()[0])
    ap.add_argument("run_dirs", nargs="+", type=Path, help="pipeline folders (corpus/, sft/, eval/) or eval outputs")
    ap.add_argument("--out", type=Path, default=None, help="folder for report.md (default: the first RUN_DIR)")
    args = ap.parse_args(argv)
    out_dir = args.out or args.run_dirs[0]
    out_path = out_dir / "report.md"
    try:
        text = build_report(args.run_dirs, out_path)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}")
        return 2
    out_dir.mkdir(parents=True, exist_ok=True)
    out_path.write_text(text)
    print(f"wrote {out_path}")
    return 0
