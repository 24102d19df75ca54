"""The data_prep and train stages of a pipeline folder such as runs/demo/ (`corpus/`: stats.json, README.md;
`sft/`: train.sft's distillery_train.json or the Trainer's trainer_state.json / train_results.json). Whatever
exists is reported; a stage whose files are missing is said to be missing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eval.report import plots
from eval.report.render import num, table


def _load(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A Markdown table of raw values: numbers formatted, text escaped (render.num)."""
    return table(header, [[num(x) for x in row] for row in rows])


# --- stages ------------------------------------------------------------------------------------------------

def corpus_section(parts: list[tuple[str, Path]]) -> tuple[str, list[str]]:
    """(one-line status, Markdown lines) for the data_prep stage."""
    if not parts:
        return "missing: no corpus/ folder", ["No `corpus/` folder was found, so data_prep left nothing to report."]
    lines: list[str] = []
    statuses = []
    for label, folder in parts:
        stats = _load(folder / "stats.json")
        lines += [f"### Corpus `{label}` (`{folder}`)", ""]
        if stats is None:
            lines.append(f"`{folder}/stats.json` is missing: the build did not finish (look in `{folder}/work/`).")
            statuses.append(f"{label}: stats.json missing")
            continue
        rejects = stats.get("rejects") or {}
        verification = stats.get("verification") or {}
        passed = sum(v.get("passed", 0) for v in verification.values())
        failed = sum(v.get("failed", 0) for v in verification.values())
        share = f"{100 * passed / (passed + failed):.1f}%" if passed + failed else "—"
        statuses.append(f"{label}: {num(stats.get('rows'))} rows kept, verified share {share}, "
                        f"{num(sum(rejects.values()))} rejects")
        lines.append(f"- rows kept: **{num(stats.get('rows'))}** in {num(stats.get('shards'))} shard(s); "
                     f"build time {num(stats.get('seconds'))} s")
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


def sft_section(parts: list[tuple[str, Path]], figs: Any = None) -> tuple[str, list[str]]:
    """(one-line status, Markdown lines) for the train stage (train.sft's distillery_train.json and/or the
    Trainer's trainer_state.json / train_results.json); with `figs` (sections.Figures), a loss plot per run."""
    if not parts:
        return "missing: no sft/ folder", ["No `sft/` folder was found, so training left nothing to report."]
    lines: list[str] = []
    statuses = []
    for label, folder in parts:
        lines += [f"### Training `{label}` (`{folder}`)", ""]
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
        statuses.append(f"{label}: {num(steps)} steps, loss {num(first[1], 3)} → {num(last[1], 3)}"
                        + (f", {num(runtime)} s" if runtime is not None else ""))
        throughput = (ours.get("throughput") or {}).get("tokens_per_second_per_device")
        lines += _table(["steps", f"loss first ({loss_unit})", f"loss last ({loss_unit})", "train loss (mean)",
                         "runtime s", "tokens/s/device"],
                        [[steps, f"{num(first[1], 4)} ({num(first[0])})", f"{num(last[1], 4)} ({num(last[0])})",
                          num(train_loss, 4), runtime, throughput]])
        data = ours.get("data") or {}
        if ours:
            lines += ["", f"- base model `{ours.get('model')}`, corpus `{ours.get('dataset')}`, loss on "
                      f"{ours.get('loss_on')}, LoRA/PEFT {num(ours.get('peft'))}"]
        if data:
            lines.append(f"- {num(data.get('examples'))} examples, {num(data.get('tokens'))} tokens "
                         f"({num(data.get('trained_tokens'))} trained), max length {num(data.get('max_length'))}, "
                         f"{num(data.get('dropped_overlong'))} dropped as too long")
        if figs is not None and len(losses) > 1:
            lines += ["", *figs.add(f"loss_{_safe(label)}", plots.losses(losses, label), f"training loss of {label}")]
        if len(losses) > 2:
            lines += ["", "Loss every logged step: " + ", ".join(f"{s}: {v:.3f}" for s, v in losses[:40])
                      + (" …" if len(losses) > 40 else "")]
        lines.append("")
    return "; ".join(statuses), lines
