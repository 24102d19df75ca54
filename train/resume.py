"""Pick the checkpoint a restarted job resumes from (`resume_from_checkpoint: auto`)."""

from __future__ import annotations

import re
from pathlib import Path

from train.errors import UserError

AUTO = {"auto", "true", "latest", "last"}
OFF = {"", "false", "none", "no"}
_CKPT = re.compile(r"^checkpoint-(\d+)$")


def complete_checkpoints(output_dir: str | Path) -> list[Path]:
    """Checkpoints in `output_dir` that finished saving, oldest first.

    The Trainer writes trainer_state.json after the weights, optimizer and RNG states, so a folder without it
    was cut off mid-save (a killed or pre-empted job) and must not be resumed from.
    """
    out = Path(output_dir)
    if not out.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in out.iterdir() if p.is_dir() and (m := _CKPT.match(p.name))]
    return [p for _, p in sorted(found) if (p / "trainer_state.json").exists()]


def resolve_resume(value: str | bool | None, output_dir: str | Path) -> str | None:
    """None to start fresh, or the checkpoint path to resume from; `auto` means the latest complete one, if any."""
    if value is None or value is False:
        return None
    text = str(value).strip()
    if text.lower() in OFF:
        return None
    if text.lower() in AUTO:
        done = complete_checkpoints(output_dir)
        return str(done[-1]) if done else None
    if not (Path(text) / "trainer_state.json").exists():
        raise UserError(f"resume_from_checkpoint {text}: not a complete checkpoint (no trainer_state.json in it)")
    return text
