"""Difficulty: the pass rate over the samples of each problem, stored on its rows, and recipe rules that keep
only a share of easy problems.

`pass_rate` = samples that passed verification / samples with a verdict (null when none has one), counted over
the rows given — so run it on verified rows before failed ones are dropped. `difficulty` buckets it:
trivial (1.0), easy [0.75, 1), medium [0.25, 0.75), hard (0, 0.25), unsolved (0).

Downsampling is decided per problem (all its rows go or stay together) from a hash of (seed, problem key):
deterministic, independent of batch order, and the same on a resumed build. Batches: the samples of one
problem must arrive in the same batch (the pipeline keeps them together).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from data_prep.verify import problem_key

try:
    from data_prep.reject import Reject
except ImportError:  # before issue 7's reject.py lands
    from data_prep.ingest import Reject


@dataclass
class DownsampleRule:
    """Keep problems whose pass rate lies in [min_pass_rate, max_pass_rate] with probability `keep`."""

    keep: float
    min_pass_rate: float = 1.0
    max_pass_rate: float = 1.0


@dataclass
class DifficultyConfig:
    """Recipe section `difficulty:`; e.g. `downsample: [{min_pass_rate: 1.0, keep: 0.3}]`."""

    downsample: list[DownsampleRule] = field(default_factory=list)
    seed: int = 0

    def check(self) -> None:
        for i, r in enumerate(self.downsample):
            if not (0.0 <= r.keep <= 1.0) or not (0.0 <= r.min_pass_rate <= r.max_pass_rate <= 1.0):
                raise ValueError(f"difficulty.downsample[{i}]: need 0 <= keep <= 1 and "
                                 f"0 <= min_pass_rate <= max_pass_rate <= 1, got {r}")


def bucket(pass_rate: float | None) -> str | None:
    if pass_rate is None:
        return None
    if pass_rate >= 1.0:
        return "trivial"
    if pass_rate >= 0.75:
        return "easy"
    if pass_rate >= 0.25:
        return "medium"
    return "hard" if pass_rate > 0 else "unsolved"


def annotate(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows (copies) with `pass_rate` and `difficulty` of their problem."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        groups[problem_key(r)].append(i)
    out = [dict(r) for r in rows]
    for idxs in groups.values():
        verdicts = [out[i]["verification"].get("passed") for i in idxs]
        judged = [v for v in verdicts if v is not None]
        rate = round(sum(judged) / len(judged), 4) if judged else None
        for i in idxs:
            if rate is None:
                out[i].pop("pass_rate", None)
                out[i].pop("difficulty", None)
            else:
                out[i]["pass_rate"], out[i]["difficulty"] = rate, bucket(rate)
    return out


def _uniform(seed: int, key: str) -> float:
    h = hashlib.sha256(f"{seed}\x1f{key}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def difficulty_filter(rows: list[dict[str, Any]], cfg: DifficultyConfig) -> tuple[list[dict[str, Any]], list[Reject]]:
    """Annotate pass rates, then drop the problems the downsampling rules do not keep: (kept, rejects)."""
    cfg.check()
    fields = {f.name for f in dataclasses.fields(Reject)}
    kept, rejects = [], []
    # rows the pipeline already annotated (over all samples, failed ones included) keep their rates
    for row in rows if rows and all("pass_rate" in r or r["verification"].get("passed") is None for r in rows) \
            else annotate(rows):
        rate = row.get("pass_rate")
        rule = next((r for r in cfg.downsample if rate is not None and r.min_pass_rate <= rate <= r.max_pass_rate),
                    None)
        if rule is None or _uniform(cfg.seed, problem_key(row)) < rule.keep:
            kept.append(row)
            continue
        origin = (row.get("extra") or {}).get("origin") or {}
        kw = {"stage": "difficulty", "reason": f"difficulty.downsample: pass_rate {rate:.2f} in "
                                                 f"[{rule.min_pass_rate}, {rule.max_pass_rate}], kept with p={rule.keep}",
              "record": row, "file": origin.get("file"), "line": origin.get("line"), "id": row.get("id"),
              "source": row.get("source")}
        rejects.append(Reject(**{k: v for k, v in kw.items() if k in fields}))
    return kept, rejects
