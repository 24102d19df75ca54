"""The dataset card (README.md) written beside a built corpus: what is in it, how it was made and checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml


def write_card(out: Path, recipe: Any, stats: dict[str, Any]) -> Path:
    """Write `<out>/README.md` with a Hub-style YAML header so `datasets.load_dataset(out)` finds the shards."""
    from eval.recipe import to_dict

    header = {
        "configs": [{"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*.jsonl"}]}],
        "tags": ["reasoning", "distillation", "distillery"],
    }
    lines = [
        "---", yaml.safe_dump(header, sort_keys=False).strip(), "---", "",
        f"# {stats['name']}", "",
        recipe.description or "A reasoning corpus built by distillery.", "",
        f"**{stats['rows']} rows** in {stats['shards']} shard(s) under `data/`. "
        "Every row is one (problem, response) pair; the assistant turn keeps its `<think>…</think>` reasoning.", "",
        "## Verification", "",
        "| source/response | rows | passed | failed | unverifiable | verified share |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, s in stats["verification"].items():
        share = "-" if s["verified_share"] is None else f"{100 * s['verified_share']:.1f}%"
        lines.append(f"| {key} | {s['rows']} | {s['passed']} | {s['failed']} | {s['unverifiable']} | {share} |")
    lines += ["", "Only rows whose verification passed are published; the others are in `rejects/verify.jsonl`.", ""]
    if stats.get("teacher"):
        t = stats["teacher"]
        lines += [f"Teacher: {t['answered']} of {t['requests']} requests answered ({t['stopped']} finished, "
                  f"{t['hit_max_tokens']} cut off at max_tokens and rejected), {t['prompt_tokens']} prompt and "
                  f"{t['completion_tokens']} completion tokens, cost {t['cost_usd']} USD.", ""]
    lines += ["## Sources", "", "| source | input | records read | items | unreadable | note |",
              "|---|---|---:|---:|---:|---|"]
    for s in stats.get("sources", []):
        note = s.get("error") or ("gave 0 rows" if s["records"] == 0 else "")
        lines.append(f"| {s['name']} | `{s['label']}` | {s['records']} | {s['items']} | {s['rejects']} | {note} |")
    lines += ["", "## Stages", "", "| stage | in | kept | rejected | seconds |", "|---|---:|---:|---:|---:|"]
    for name, info in stats["stages"].items():
        lines.append(f"| {name} | {info.get('in', '')} | {info['rows']} | {info['rejects']} | {info['seconds']} |")
    lines += ["", "## Reject reasons", ""]
    for stage, reasons in stats["reject_reasons"].items():
        for reason, n in reasons.items():
            lines.append(f"- {stage}: {reason} — {n}")
    lines += ["", "## Columns", "",
              "`id`, `messages`, `problem`, `source`, `category`, `verification` {method, passed, score, reason}, "
              "and where known `reference_answer`, `test_cases`, `teacher`, `sampling`, `n_tokens`, `extra`.", "",
              "## Recipe", "", "```json", json.dumps(to_dict(recipe), indent=2), "```", ""]
    path = out / "README.md"
    path.write_text("\n".join(lines))
    return path
