"""`python -m data_prep build RECIPE` — sources → clean → dedup → decontaminate → respond → verify → publish.

This module only orchestrates: the recipe and its check (recipe.py), the two streaming passes over shards
(pipeline.py), the engine that runs CPU-heavy stages (engine/), and publishing (publish.py, card.py, stats.py).
Rows stream from the sources to shards on disk; an interrupted build (`--resume`) continues after the last
finished shard. Rejected records go to `<out>/rejects/<stage>.jsonl` with a reason.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from data_prep.engine import make_engine
from data_prep.index_adapters import Decontaminator, Deduplicator, benchmark_problems
from data_prep.pipeline import BuildDir, pass_ingest, pass_rows
from data_prep.publish import print_summary, publish
from data_prep.recipe import BuildRecipe, SourceConfig, check_recipe, load_build_recipe

__all__ = ["BuildRecipe", "SourceConfig", "benchmark_problems", "build", "load_build_recipe"]


def build(recipe: BuildRecipe, out: str | Path | None = None, resume: bool = False,
          recipe_path: str | None = None) -> dict[str, Any]:
    """Run every stage of `recipe` into `out`; return the stats written to stats.json."""
    check_recipe(recipe, recipe_path or "<recipe>")
    t_all = time.monotonic()
    b = BuildDir(recipe, Path(out or recipe.out), resume)
    b.prepare()
    engine = make_engine(recipe.engine, recipe.workers, recipe.ray_address)
    try:
        dedup = Deduplicator(recipe.dedup) if recipe.dedup is not None else None
        ingest = pass_ingest(recipe, b, engine, dedup)
        decon = None
        if recipe.decontaminate is not None and recipe.decontaminate.names():
            decon = Decontaminator.from_config(recipe.decontaminate)
        pass_rows(recipe, b, engine, dedup, decon, ingest["shards"])
    finally:
        engine.close()
    stats = publish(b, recipe, ingest)
    stats["seconds"] = round(time.monotonic() - t_all, 1)
    (b.out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    print_summary(stats, b.out)
    return stats
