"""`python -m eval run RECIPE --model PATH_OR_ID [--backend vllm|hf|openai] [--out DIR] [key=value ...]`

Generates n samples per problem for every benchmark in a suite recipe, grades them, and writes
`<out>/<benchmark>.samples.jsonl` (one row per sample) and `<out>/summary.json`. Rerunning with the same
`--out` resumes: problems whose samples are all on disk are not generated again.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from eval.benchmarks.loaders import BenchmarkDataError, Problem
from eval.benchmarks.registry import Benchmark, get_benchmark
from eval.generation.base import Backend, Completion, PromptSettings, SamplingParams, build_chat
from eval.generation.hf_generate import HFOptions
from eval.generation.openai_api import OpenAIOptions
from eval.generation.vllm_engine import VLLMOptions
from eval.grading.choice import grade_choice
from eval.grading.math import grade_many
from eval.jsonl import BadLine, iter_jsonl, write_jsonl
from eval.metrics import summarize
from eval.recipe import RecipeError, load_recipe, to_dict

console = Console(stderr=True)

# Keys that must match for a rerun to reuse samples already on disk.
RESUME_KEYS = ("model", "backend", "sampling", "prompt")


@dataclass
class BenchmarkSpec:
    """One benchmark of a suite: which problems, how many samples each."""

    name: str
    samples: int = 1
    limit: int | None = None  # first `limit` problems after `offset`; None = all
    offset: int = 0
    path: str | None = None  # local data file (required for gpqa_diamond / gsm8k unless the hub is reachable)
    prompt_template: str | None = None  # replaces the benchmark's template; `{question}` etc. are filled in
    options: dict[str, Any] = field(default_factory=dict)  # loader options, e.g. livecodebench release / dates


@dataclass
class EvalRecipe:
    """A benchmark suite and how to run it (recipes/eval/*.yaml)."""

    name: str = "eval"
    model: str | None = None
    backend: Literal["hf", "vllm", "openai"] = "hf"
    out: str | None = None  # default: runs/eval/<name>/<model folder name>
    benchmarks: list[BenchmarkSpec] = field(default_factory=list)
    limit: int | None = None  # caps every benchmark (smoke runs): `limit=3`
    samples: int | None = None  # overrides every benchmark's sample count: `samples=2`
    sampling: SamplingParams = field(default_factory=SamplingParams)
    prompt: PromptSettings = field(default_factory=PromptSettings)
    chunk_problems: int = 8  # problems per generate call = the resume granularity
    grader_timeout_s: float = 5.0  # per math answer
    code_timeout_s: float = 6.0  # per LiveCodeBench test (the official limit)
    grader_workers: int | None = None  # default: one per CPU
    hf: HFOptions = field(default_factory=HFOptions)
    openai: OpenAIOptions = field(default_factory=OpenAIOptions)
    vllm: VLLMOptions = field(default_factory=VLLMOptions)


def make_backend(recipe: EvalRecipe) -> Backend:
    """The generation backend the recipe names (heavy imports happen only here)."""
    assert recipe.model is not None
    if recipe.backend == "hf":
        from eval.generation.hf_generate import HFBackend

        return HFBackend(recipe.model, recipe.hf, recipe.prompt)
    if recipe.backend == "openai":
        from eval.generation.openai_api import OpenAIBackend

        return OpenAIBackend(recipe.model, recipe.openai, recipe.prompt)
    from eval.generation.vllm_engine import VLLMBackend

    return VLLMBackend(recipe.model, recipe.vllm, recipe.prompt, seed=recipe.sampling.seed)


def grade_rows(bench: Benchmark, problems: list[Problem], prompts: list[str], completions: list[list[Completion]],
               timeout_s: float, workers: int | None, code_timeout_s: float = 6.0) -> list[dict[str, Any]]:
    """One row per sample with the grader's verdict."""
    flat = [(p, prompt, j, c) for p, prompt, row in zip(problems, prompts, completions, strict=True)
            for j, c in enumerate(row)]
    if bench.grader == "math":
        verdicts = [(g.correct, g.extracted, g.reason)
                    for g in grade_many([(p.gold, c.text) for p, _, _, c in flat], timeout_s=timeout_s,
                                        workers=workers)]
    elif bench.grader == "choice":
        verdicts = [(g.correct, g.extracted, g.reason) for g in (grade_choice(p.gold, c.text) for p, _, _, c in flat)]
    elif bench.grader == "code":
        verdicts = _grade_code([(p, c) for p, _, _, c in flat], code_timeout_s, workers)
    else:
        raise ValueError(f"benchmark {bench.name}: unknown grader {bench.grader!r}")
    rows = []
    for (p, prompt, j, c), (correct, extracted, reason) in zip(flat, verdicts, strict=True):
        rows.append({
            "benchmark": bench.name,
            "problem_id": p.problem_id,
            "sample": j,
            "prompt": prompt,
            "gold": p.gold,
            "response": c.text,
            "extracted": extracted,
            "correct": bool(correct),
            "reason": reason,
            "n_tokens": c.n_tokens,
            "finish_reason": c.finish_reason,
            "truncated": c.finish_reason == "length" or reason == "truncated",
            **({"meta": p.meta} if p.meta else {}),
        })
    return rows


def _grade_code(pairs: list[tuple[Problem, Completion]], timeout_s: float,
                workers: int | None) -> list[tuple[bool, str | None, str]]:
    """LiveCodeBench: run the last fenced program of the final answer on every test in the sandbox."""
    from eval.grading.extract import final_part
    from eval.livecodebench import GradeJob, extract_code
    from eval.livecodebench import grade_many as grade_programs

    jobs, verdicts = [], []
    for p, c in pairs:
        text, truncated = final_part(c.text)
        program = "" if text is None else extract_code(text)
        jobs.append(GradeJob(program, p.payload.tests, p.payload.func_name, {"timeout": timeout_s}))
        verdicts.append("truncated" if truncated else ("no answer" if not program else None))
    results = grade_programs([j for j, v in zip(jobs, verdicts, strict=True) if v is None], workers=workers)
    it = iter(results)
    out = []
    for job, verdict in zip(jobs, verdicts, strict=True):
        if verdict is not None:
            out.append((False, None, verdict))
            continue
        r = next(it)
        failure = next((v for v in r.verdicts if v.verdict != "passed"), None)
        reason = "ok" if r.passed else (r.error or (failure.verdict if failure else "no tests"))
        out.append((r.passed, job.program, reason))
    return out


def _finished(path: Path, wanted: set[str], n: int) -> dict[str, list[dict[str, Any]]]:
    """Rows of problems that already have all n samples; the file is rewritten to hold only those."""
    if not path.exists():
        return {}
    by_problem: dict[str, list[dict[str, Any]]] = {}
    for _, row in iter_jsonl(path):
        if isinstance(row, BadLine):  # a line cut short by an interrupted write
            console.print(f"[yellow]resume: ignoring {escape(str(row))}")
            continue
        by_problem.setdefault(str(row.get("problem_id")), []).append(row)
    done = {pid: sorted(rows, key=lambda r: r["sample"])[:n] for pid, rows in by_problem.items()
            if pid in wanted and len({r["sample"] for r in rows}) >= n}
    write_jsonl(path, [r for rows in done.values() for r in rows])
    return done


def _check_resume(out: Path, settings: dict[str, Any]) -> None:
    path = out / "run.json"
    if path.exists():
        before = json.loads(path.read_text())
        for key in RESUME_KEYS:
            if before.get(key) != settings.get(key):
                raise RecipeError(
                    f"{out}: holds samples made with a different '{key}' ({before.get(key)!r} != {settings.get(key)!r});"
                    " choose another --out or delete the folder"
                )
    path.write_text(json.dumps(settings, indent=2) + "\n")


def _specs(recipe: EvalRecipe) -> list[BenchmarkSpec]:
    specs = []
    for spec in recipe.benchmarks:
        spec = dataclasses.replace(spec)
        if recipe.limit is not None:
            spec.limit = recipe.limit if spec.limit is None else min(spec.limit, recipe.limit)
        if recipe.samples is not None:
            spec.samples = recipe.samples
        if spec.samples < 1:
            raise RecipeError(f"benchmark {spec.name}: samples must be >= 1, got {spec.samples}")
        specs.append(spec)
    if not specs:
        raise RecipeError("recipe lists no benchmarks")
    return specs


def run(recipe: EvalRecipe, recipe_path: str | None = None) -> dict[str, Any]:
    """Generate, grade and summarise every benchmark of the recipe; returns the summary written to disk."""
    if not recipe.model:
        raise RecipeError("no model given: pass --model PATH_OR_ID")
    specs = _specs(recipe)
    benches = {s.name: get_benchmark(s.name) for s in specs}
    out = Path(recipe.out or Path("runs") / "eval" / recipe.name / Path(recipe.model.rstrip("/")).name)
    out.mkdir(parents=True, exist_ok=True)
    settings = {
        "model": recipe.model,
        "backend": recipe.backend,
        "sampling": dataclasses.asdict(recipe.sampling),
        "prompt": dataclasses.asdict(recipe.prompt),
        "recipe": recipe.name,
        "recipe_path": recipe_path,
        "recipe_settings": to_dict(recipe),
    }
    _check_resume(out, settings)

    # Load every benchmark first so a missing file fails before minutes of generation.
    plan = []
    for spec in specs:
        bench = benches[spec.name]
        problems = bench.loader(spec.path, **spec.options)
        end = None if spec.limit is None else spec.offset + spec.limit
        problems = problems[spec.offset:end]
        path = out / f"{spec.name}.samples.jsonl"
        done = _finished(path, {p.problem_id for p in problems}, spec.samples)
        plan.append((spec, bench, problems, path, done))

    started = datetime.now(timezone.utc)
    gen_tokens, gen_seconds = 0, 0.0
    backend: Backend | None = None
    columns = [TextColumn("[bold]{task.description:<13}"), BarColumn(), MofNCompleteColumn(), TextColumn("problems"),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*columns, console=console, transient=False) as progress:
        for spec, bench, problems, path, done in plan:
            task = progress.add_task(spec.name, total=len(problems), completed=len(done), rate="")
            todo = [(i, p) for i, p in enumerate(problems) if p.problem_id not in done]
            for start in range(0, len(todo), max(1, recipe.chunk_problems)):
                chunk = todo[start:start + max(1, recipe.chunk_problems)]
                if backend is None:
                    console.print(f"loading {recipe.model} with backend {recipe.backend} …")
                    backend = make_backend(recipe)
                prompts = [bench.render(p, spec.prompt_template) for _, p in chunk]
                chats = [build_chat(text, recipe.prompt) for text in prompts]
                params = dataclasses.replace(recipe.sampling, seed=recipe.sampling.seed + 1000 * chunk[0][0])
                t0 = time.perf_counter()
                completions = backend.complete(chats, spec.samples, params)
                gen_seconds += time.perf_counter() - t0
                gen_tokens += sum(c.n_tokens or 0 for row in completions for c in row)
                rows = grade_rows(bench, [p for _, p in chunk], prompts, completions, recipe.grader_timeout_s,
                                  recipe.grader_workers, recipe.code_timeout_s)
                write_jsonl(path, rows, append=True)
                rate = f"{gen_tokens / gen_seconds:,.0f} tok/s" if gen_seconds else ""
                progress.update(task, advance=len(chunk), rate=rate)
    if backend is not None:
        backend.close()

    finished = datetime.now(timezone.utc)
    summary: dict[str, Any] = {
        **{k: settings[k] for k in ("model", "backend", "recipe", "recipe_path", "sampling", "prompt")},
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "elapsed_s": round((finished - started).total_seconds(), 2),
        "generated_tokens": gen_tokens,
        "generation_s": round(gen_seconds, 2),
        "tokens_per_s": round(gen_tokens / gen_seconds, 1) if gen_seconds else None,
        "resumed_problems": sum(len(d) for *_, d in plan),
        "host": {"python": platform.python_version(), "platform": platform.platform()},
        "settings": settings["recipe_settings"],
        "benchmarks": {},
    }
    for spec, bench, problems, path, _ in plan:
        wanted = {p.problem_id for p in problems}
        rows = [r for _, r in iter_jsonl(path) if not isinstance(r, BadLine) and r.get("problem_id") in wanted]
        summary["benchmarks"][spec.name] = {
            **summarize(rows),
            "metric": bench.metric,
            "grader": bench.grader,
            "reference_column": bench.reference_column,
            "samples_file": path.name,
            "limit": spec.limit,
            "offset": spec.offset,
        }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print_summary(summary, out)
    return summary


def _fmt(value: Any) -> str:
    return "—" if value is None else (f"{value:.1f}" if isinstance(value, float) else str(value))


def print_summary(summary: dict[str, Any], out: Path) -> None:
    """One screen: scores per benchmark and where the files are."""
    table = Table(title=f"{summary['model']} · {summary['backend']} · T={summary['sampling']['temperature']} "
                        f"top-p={summary['sampling']['top_p']} max={summary['sampling']['max_new_tokens']}")
    for col in ("benchmark", "problems", "n", "pass@1", "maj@n", "pass@n", "trunc%", "tokens"):
        table.add_column(col, justify="left" if col == "benchmark" else "right", no_wrap=True)
    for name, b in summary["benchmarks"].items():
        n = b.get("samples_per_problem") or 0
        table.add_row(name, _fmt(b["n_problems"]), _fmt(n), _fmt(b["pass@1"]), _fmt(b.get(f"maj@{n}")),
                      _fmt(b.get(f"pass@{n}")), _fmt(b.get("truncated_rate")), _fmt(b.get("mean_tokens")))
    console.print(table)
    rate = summary["tokens_per_s"]
    console.print(f"generated {summary['generated_tokens']:,} tokens in {summary['generation_s']:.1f} s"
                  f"{f' ({rate:,.0f} tok/s)' if rate else ''}; resumed {summary['resumed_problems']} problems; "
                  f"wrote {out}/summary.json")


def _usage() -> str:
    keys = ", ".join(f.name for f in dataclasses.fields(EvalRecipe))
    return (__doc__ or "") + f"\nRecipe keys (override any with key=value or --key value; nested: sampling.top_p=0.9):\n  {keys}\n"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    recipe_path = None if argv[0].startswith("-") or "=" in argv[0] else argv[0]
    overrides = argv[1:] if recipe_path else argv
    try:
        recipe = load_recipe(EvalRecipe, recipe_path, overrides)
        run(recipe, recipe_path)
    except (RecipeError, BenchmarkDataError, FileNotFoundError, ImportError) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        return 2
    except KeyError as exc:  # unknown benchmark name
        console.print(f"[red]error:[/red] {escape(str(exc.args[0]))}")
        return 2
    return 0
