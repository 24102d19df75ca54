"""The build recipe: its dataclasses and the whole-recipe check that runs before any work starts.

`load_build_recipe(path, overrides)` parses the YAML (eval/recipe.py: unknown keys and wrong types are errors
naming the file and key), then `check_recipe` looks at every value: each source's path, format, fields mapping
and response mode, the teacher section when a source needs it, thresholds, benchmark names and the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from data_prep.clean import CleanConfig
from data_prep.difficulty import DifficultyConfig
from data_prep.index_adapters import DecontaminateConfig, DedupConfig
from data_prep.quality import QualityConfig
from data_prep.sources.adapters import CANONICAL, FORMATS
from data_prep.sources.readers import HUB_PREFIX, SUFFIXES, expand, parse_hub
from data_prep.teacher import TeacherConfig, check_teacher
from data_prep.verify import VerifyConfig
from eval.recipe import RecipeError, load_recipe

RESPONSE_MODES = ("reference", "teacher", "own")


@dataclass
class SourceConfig:
    """One input: a file, a glob of files, or a hub dataset, and how its problems get responses."""

    path: str | None = None  # file, glob (data/*.jsonl) or hf://<repo>[:<config>]/<split>
    format: str = "fields"  # an adapter (see data_prep/sources/adapters.py); `fields`: only the mapping
    name: str | None = None  # the rows' `source` (default: the format name)
    hub: str | None = None  # hub dataset name, instead of path
    config: str | None = None
    split: str = "train"
    revision: str | None = None
    fields: dict[str, str | None] = field(default_factory=dict)  # canonical name -> record key (dotted path)
    category: str | None = None  # force every row's category (math|code|science|other)
    offset: int = 0
    limit: int | None = None  # cap on records read from this source
    weight: float = 1.0  # mixing weight: share of the stream, and of `max_items` when set
    response: Literal["reference", "teacher", "own"] = "reference"  # own: the source's own response


@dataclass
class BuildRecipe:
    """A corpus build: every stage's settings; `python -m data_prep build --help` lists them."""

    name: str
    sources: list[SourceConfig]
    description: str = ""
    teacher: TeacherConfig | None = None
    clean: CleanConfig | None = field(default_factory=CleanConfig)
    dedup: DedupConfig | None = field(default_factory=DedupConfig)
    decontaminate: DecontaminateConfig | None = field(default_factory=DecontaminateConfig)
    verify: VerifyConfig = field(default_factory=VerifyConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    difficulty: DifficultyConfig = field(default_factory=DifficultyConfig)
    max_items: int | None = None  # total records over all sources, split by weight
    shard_size: int = 5000  # problems per shard (a shard holds at most shard_size x samples rows)
    engine: Literal["local", "ray"] = "local"
    workers: int = 1  # local engine: processes for the CPU-heavy stages (1: in the build process)
    ray_address: str | None = None  # ray engine: cluster address (default: RAY_ADDRESS, else a local Ray)
    out: str = "runs/data"


def check_recipe(recipe: BuildRecipe, where: str) -> None:
    """Every problem the recipe has that can be seen without reading data; RecipeError naming file and key."""

    def fail(key: str, msg: str) -> None:
        raise RecipeError(f"{where}: key '{key}' {msg}")

    if not recipe.sources:
        fail("sources", "is empty: give at least one source")
    for i, src in enumerate(recipe.sources):
        k = f"sources[{i}]"
        if src.format not in FORMATS:
            fail(f"{k}.format", f"must be one of {list(FORMATS)}, got {src.format!r}")
        if (src.path is None) == (src.hub is None):
            fail(f"{k}.path", "give exactly one of path (a file, glob or hf://...) and hub (a dataset name)")
        if src.path is not None:
            if src.path.startswith(HUB_PREFIX):
                try:
                    parse_hub(src.path)
                except ValueError as exc:
                    fail(f"{k}.path", str(exc))
            else:
                files = expand(src.path)
                if not files:
                    fail(f"{k}.path", f"{src.path!r} matches no file")
                for p in files:
                    if not p.exists():
                        fail(f"{k}.path", f"{str(p)!r}: file not found (relative paths start at {Path.cwd()})")
                    if p.is_file() and p.suffix not in SUFFIXES:
                        fail(f"{k}.path", f"{str(p)!r}: unsupported file type (use {', '.join(SUFFIXES)})")
        for name in src.fields:
            if name not in CANONICAL:
                fail(f"{k}.fields.{name}", f"is not a field adapters read (known: {', '.join(CANONICAL)})")
        if src.format == "fields" and "problem" not in src.fields:
            fail(f"{k}.fields", "format 'fields' needs fields.problem (the record key holding the problem)")
        if src.response == "own" and not FORMATS[src.format].has_response and "response" not in src.fields:
            fail(f"{k}.response", f"is 'own' but format {src.format!r} carries no response; map fields.response "
                                  f"or use reference/teacher")
        if src.category is not None and src.category not in ("math", "code", "science", "other"):
            fail(f"{k}.category", f"must be math, code, science or other, got {src.category!r}")
        if src.offset < 0:
            fail(f"{k}.offset", f"must be >= 0, got {src.offset}")
        if src.limit is not None and src.limit < 0:
            fail(f"{k}.limit", f"must be >= 0 or null, got {src.limit}")
        if src.weight < 0:
            fail(f"{k}.weight", f"must be >= 0, got {src.weight}")
    if any(s.response == "teacher" for s in recipe.sources):
        if recipe.teacher is None:
            i = next(i for i, s in enumerate(recipe.sources) if s.response == "teacher")
            fail(f"sources[{i}].response", "is 'teacher' but the recipe has no 'teacher' section")
        t = recipe.teacher
        try:  # the teacher's own check: base_url or serve_model, ${DISTILLERY_CACHE} in paths, modes, prompts
            check_teacher(t, [s.response for s in recipe.sources], where)
        except ValueError as exc:
            raise RecipeError(str(exc)) from None
        if t.samples < 1:
            fail("teacher.samples", f"must be >= 1, got {t.samples}")
    if recipe.clean is not None:
        c = recipe.clean
        if not 0 <= c.non_text.max_ratio <= 1:
            fail("clean.non_text.max_ratio", f"must be between 0 and 1, got {c.non_text.max_ratio}")
        if c.multi_part.max_parts < 1:
            fail("clean.multi_part.max_parts", f"must be >= 1, got {c.multi_part.max_parts}")
        if c.empty.min_chars < 0:
            fail("clean.empty.min_chars", f"must be >= 0, got {c.empty.min_chars}")
        if c.answer_parse.timeout_s <= 0:
            fail("clean.answer_parse.timeout_s", f"must be > 0, got {c.answer_parse.timeout_s}")
    if recipe.decontaminate is not None:
        from eval.benchmarks import BENCHMARKS

        for j, b in enumerate(recipe.decontaminate.names()):
            if b not in BENCHMARKS and not Path(b).exists():  # a name eval knows, or a benchmark file
                fail(f"decontaminate.benchmarks[{j}]", f"unknown benchmark {b!r} (known: {', '.join(BENCHMARKS)})")
        if not 0 < recipe.decontaminate.min_coverage <= 1:
            fail("decontaminate.min_coverage", f"must be in (0, 1], got {recipe.decontaminate.min_coverage}")
    if recipe.shard_size < 1:
        fail("shard_size", f"must be >= 1, got {recipe.shard_size}")
    if recipe.max_items is not None and recipe.max_items < 0:
        fail("max_items", f"must be >= 0 or null, got {recipe.max_items}")
    if recipe.workers < 1:
        fail("workers", f"must be >= 1, got {recipe.workers}")
    if recipe.verify.timeout_s <= 0:
        fail("verify.timeout_s", f"must be > 0, got {recipe.verify.timeout_s}")


def load_build_recipe(path: str | Path | None, overrides: Sequence[str] | dict = ()) -> BuildRecipe:
    """Parse and check a build recipe; any problem is a RecipeError naming the file and the key."""
    recipe = load_recipe(BuildRecipe, path, overrides)
    check_recipe(recipe, str(path) if path else "<command line>")
    return recipe
