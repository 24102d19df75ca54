"""`python -m eval run RECIPE --model PATH_OR_ID [--backend vllm|hf|openai] [--out DIR] [key=value ...]`

Generates n samples per problem for every benchmark in a suite recipe, grades them, and writes
`<out>/<benchmark>.samples.jsonl` (one row per sample) and `<out>/summary.json`. Rerunning with the same
`--out` resumes: problems whose samples are all on disk are not generated again.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import signal
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from eval.benchmarks.loaders import BenchmarkDataError, Problem
from eval.benchmarks.registry import Benchmark, get_benchmark
from eval.generation.base import Backend, Completion, PromptSettings, SamplingParams, build_chat
from eval.generation.hf_generate import HFOptions
from eval.generation.openai_api import OpenAIOptions
from eval.generation.vllm_engine import VLLMOptions
from eval.grading.dispatch import GradeOptions, grade_samples
from eval.jsonl import BadLine, iter_jsonl, write_jsonl
from eval.metrics import summarize
from eval.provenance import collect as collect_provenance
from eval.recipe import RecipeError, load_recipe, to_dict
from eval.summary import print_benchmark_table, write_disagreements

console = Console(stderr=True, soft_wrap=True)  # one-line errors stay one line

# Keys that must match for a rerun to reuse samples already on disk: everything that changes what was generated
# (model, backend, sampling, chat settings, each benchmark's prompt template and loader options) or how it was
# graded. Each stored sample's prompt text is also compared with the one this run would send.
RESUME_KEYS = ("model", "backend", "sampling", "prompt", "benchmarks", "grading")


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
    label: str | None = None  # name of its files and summary entry (default: name); lets one suite run a
    # benchmark twice, e.g. greedy and maj@50
    sampling: dict[str, Any] = field(default_factory=dict)  # overrides of the suite's sampling for this benchmark

    @property
    def key(self) -> str:
        return self.label or self.name


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
    grader_timeout_s: float = 5.0  # per math answer and grader (a hard deadline: the worker is killed)
    code_timeout_s: float = 6.0  # per LiveCodeBench test (the official limit)
    grader_workers: int | None = None  # default: one per CPU
    strict_format: bool = False  # true: only <answer> / last \boxed{} answers count (pass@1_strict is always reported)
    second_grader: bool = True  # run the independent math_equal grader beside math-verify and count disagreements
    hf: HFOptions = field(default_factory=HFOptions)
    openai: OpenAIOptions = field(default_factory=OpenAIOptions)
    vllm: VLLMOptions = field(default_factory=VLLMOptions)


def _check_model(recipe: EvalRecipe) -> None:
    """A local model path that does not exist is named as such (not as a malformed hub repo id)."""
    if recipe.backend == "openai" or not recipe.model:
        return
    model = recipe.model
    if Path(model).expanduser().exists():
        return
    looks_local = model.startswith(("/", "./", "../", "~")) or model.count("/") > 1 or os.sep != "/" and os.sep in model
    if looks_local:
        raise RecipeError(f"--model {model}: no such local folder")
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        from huggingface_hub import try_to_load_from_cache

        try:
            cached = try_to_load_from_cache(model, "config.json")
        except ValueError as exc:  # not even a valid repo id
            raise RecipeError(f"--model {model}: not a local folder nor a hub repo id ({exc})") from exc
        if cached is None:
            raise RecipeError(f"--model {model}: not a local folder, and the hub is offline (HF_HUB_OFFLINE=1) with no "
                              "cached copy of that repo")


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


def grade_options(recipe: EvalRecipe) -> GradeOptions:
    """The grading settings of a recipe."""
    return GradeOptions(timeout_s=recipe.grader_timeout_s, code_timeout_s=recipe.code_timeout_s,
                        workers=recipe.grader_workers, strict=recipe.strict_format,
                        second_grader=recipe.second_grader)


def grade_rows(bench: Benchmark, problems: list[Problem], prompts: list[str], completions: list[list[Completion]],
               options: GradeOptions) -> list[dict[str, Any]]:
    """One row per sample with the grader's verdict (README: "Sample rows")."""
    flat = [(p, prompt, j, c) for p, prompt, row in zip(problems, prompts, completions, strict=True)
            for j, c in enumerate(row)]
    verdicts = grade_samples(bench.grader, [p.gold for p, *_ in flat], [c.text for *_, c in flat], options,
                             [p.payload for p, *_ in flat] if bench.grader == "code" else None)
    rows = []
    for (p, prompt, j, c), v in zip(flat, verdicts, strict=True):
        rows.append({
            "benchmark": bench.name,
            "problem_id": p.problem_id,
            "sample": j,
            "prompt": prompt,
            "gold": p.gold,
            "response": c.text,
            **v.row_fields(),
            "n_tokens": c.n_tokens,
            "finish_reason": c.finish_reason,
            "truncated": c.finish_reason == "length" or v.truncated,
            **({"meta": p.meta} if p.meta else {}),
        })
    return rows


def _finished(path: Path, prompts: dict[str, str], n: int) -> dict[str, list[dict[str, Any]]]:
    """Rows of problems that already have all n samples; the file is rewritten to hold only those.
    `prompts` maps each wanted problem id to the prompt this run sends: a stored sample asked otherwise is refused."""
    if not path.exists():
        return {}
    wanted = set(prompts)
    by_problem: dict[str, list[dict[str, Any]]] = {}
    for line, row in iter_jsonl(path):
        if isinstance(row, BadLine):  # a line cut short by an interrupted write
            console.print(f"[yellow]resume: ignoring {escape(str(row))}")
            continue
        pid = str(row.get("problem_id"))
        if pid in prompts and row.get("prompt") != prompts[pid]:
            raise RecipeError(f"{path}:{line}: problem {pid} was generated with another prompt than this recipe "
                              "sends; choose another --out or delete the folder")
        by_problem.setdefault(pid, []).append(row)
    done = {pid: sorted(rows, key=lambda r: r["sample"])[:n] for pid, rows in by_problem.items()
            if pid in wanted and len({r["sample"] for r in rows}) >= n}
    write_jsonl(path, [r for rows in done.values() for r in rows])
    return done


def _differences(before: Any, now: Any, key: str) -> list[str]:
    """Dotted keys whose values differ (a benchmark only in one of the two runs is no conflict)."""
    if isinstance(before, dict) and isinstance(now, dict):
        if key == "benchmarks":
            names = before.keys() & now.keys()
        else:
            names = before.keys() | now.keys()
        return [d for name in sorted(names) for d in _differences(before.get(name), now.get(name), f"{key}.{name}")]
    return [] if before == now else [key]


def _check_resume(out: Path, settings: dict[str, Any]) -> None:
    path = out / "run.json"
    if path.exists():
        before = json.loads(path.read_text())
        for key in RESUME_KEYS:
            diff = _differences(before.get(key), settings.get(key), key)
            if diff:
                first = diff[0]
                old, new = before, settings
                for part in first.split("."):
                    old = old.get(part) if isinstance(old, dict) else None
                    new = new.get(part) if isinstance(new, dict) else None
                raise RecipeError(
                    f"{out}: holds samples made with a different '{first}' ({old!r} != {new!r});"
                    " choose another --out or delete the folder"
                )
        merged = {**settings, "benchmarks": {**before.get("benchmarks", {}), **settings["benchmarks"]}}
        settings = merged
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
            raise RecipeError(f"benchmark {spec.key}: samples must be >= 1, got {spec.samples}")
        known = {f.name for f in dataclasses.fields(SamplingParams)}
        unknown = sorted(set(spec.sampling) - known)
        if unknown:
            raise RecipeError(f"benchmark {spec.key}: unknown sampling key '{unknown[0]}' (known: {', '.join(sorted(known))})")
        specs.append(spec)
    if not specs:
        raise RecipeError("recipe lists no benchmarks")
    keys = [s.key for s in specs]
    if len(set(keys)) != len(keys):
        raise RecipeError(f"benchmarks: {keys} name one benchmark twice; give each a distinct `label`")
    return specs


def _sampling(recipe: EvalRecipe, spec: BenchmarkSpec) -> SamplingParams:
    """The suite's sampling with this benchmark's overrides."""
    return dataclasses.replace(recipe.sampling, **spec.sampling)


def run(recipe: EvalRecipe, recipe_path: str | None = None) -> dict[str, Any]:
    """Generate, grade and summarise every benchmark of the recipe; returns the summary written to disk.

    Generation and grading overlap: while chunk k+1 is generated, chunk k is graded (math in the grader worker
    processes, code in the sandbox) and appended to its samples file by a background thread.
    """
    if not recipe.model:
        raise RecipeError("no model given: pass --model PATH_OR_ID")
    _check_model(recipe)
    specs = _specs(recipe)
    benches = {s.name: get_benchmark(s.name) for s in specs}
    out = Path(recipe.out or Path("runs") / "eval" / recipe.name / Path(recipe.model.rstrip("/")).name)
    out.mkdir(parents=True, exist_ok=True)
    settings = {
        "model": recipe.model,
        "backend": recipe.backend,
        "sampling": dataclasses.asdict(recipe.sampling),
        "prompt": dataclasses.asdict(recipe.prompt),
        "benchmarks": {s.key: {"benchmark": s.name, "prompt_template": s.prompt_template or benches[s.name].prompt,
                               "path": s.path, "options": s.options,
                               "sampling": dataclasses.asdict(_sampling(recipe, s))} for s in specs},
        "grading": {"strict_format": recipe.strict_format},
        "recipe": recipe.name,
        "recipe_path": recipe_path,
        "recipe_settings": to_dict(recipe),
    }
    _check_resume(out, settings)
    options = grade_options(recipe)

    # Load every benchmark first so a missing file fails before minutes of generation.
    plan = []
    for spec in specs:
        bench = benches[spec.name]
        problems = bench.loader(spec.path, **spec.options)
        end = None if spec.limit is None else spec.offset + spec.limit
        problems = problems[spec.offset:end]
        path = out / f"{spec.key}.samples.jsonl"
        done = _finished(path, {p.problem_id: bench.render(p, spec.prompt_template) for p in problems}, spec.samples)
        plan.append((spec, bench, problems, path, done))

    started = datetime.now(timezone.utc)
    gen_tokens, gen_seconds = 0, 0.0
    backend: Backend | None = None
    columns = [TextColumn("[bold]{task.description:<13}"), BarColumn(), MofNCompleteColumn(), TextColumn("problems"),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    grading = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grade")
    pending: Future | None = None

    def grade_and_write(bench: Benchmark, chunk_problems: list[Problem], prompts: list[str],
                        completions: list[list[Completion]], path: Path, progress: Progress, task: Any) -> None:
        rows = grade_rows(bench, chunk_problems, prompts, completions, options)
        write_jsonl(path, rows, append=True)
        progress.update(task, advance=len(chunk_problems))

    try:
        with Progress(*columns, console=console, transient=False) as progress:
            for spec, bench, problems, path, done in plan:
                task = progress.add_task(spec.key, total=len(problems), completed=len(done), rate="")
                todo = [(i, p) for i, p in enumerate(problems) if p.problem_id not in done]
                for start in range(0, len(todo), max(1, recipe.chunk_problems)):
                    chunk = todo[start:start + max(1, recipe.chunk_problems)]
                    if backend is None:
                        console.print(f"loading {recipe.model} with backend {recipe.backend} …")
                        backend = make_backend(recipe)
                    prompts = [bench.render(p, spec.prompt_template) for _, p in chunk]
                    chats = [build_chat(text, recipe.prompt) for text in prompts]
                    sampling = _sampling(recipe, spec)
                    params = dataclasses.replace(sampling, seed=sampling.seed + 1000 * chunk[0][0])
                    t0 = time.perf_counter()
                    completions = backend.complete(chats, spec.samples, params)
                    gen_seconds += time.perf_counter() - t0
                    gen_tokens += sum(c.n_tokens or 0 for row in completions for c in row)
                    progress.update(task, rate=f"{gen_tokens / gen_seconds:,.0f} tok/s" if gen_seconds else "")
                    if pending is not None:
                        pending.result()  # the previous chunk is graded and on disk before this one is queued
                    pending = grading.submit(grade_and_write, bench, [p for _, p in chunk], prompts, completions,
                                             path, progress, task)
            if pending is not None:
                pending.result()
                pending = None
    finally:
        if pending is not None:  # interrupted: keep the chunk already generated
            try:
                pending.result()
            except Exception as exc:  # noqa: BLE001 - report, the interruption is what propagates
                console.print(f"[yellow]grading of the last chunk failed: {escape(str(exc))}")
        grading.shutdown(wait=True)
        if backend is not None:
            backend.close()

    finished = datetime.now(timezone.utc)
    summary: dict[str, Any] = {
        **{k: settings[k] for k in ("model", "backend", "recipe", "recipe_path", "sampling", "prompt")},
        "strict_format": recipe.strict_format,
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "elapsed_s": round((finished - started).total_seconds(), 2),
        "generated_tokens": gen_tokens,
        "generation_s": round(gen_seconds, 2),
        "tokens_per_s": round(gen_tokens / gen_seconds, 1) if gen_seconds else None,
        "resumed_problems": sum(len(d) for *_, d in plan),
        "host": {"python": platform.python_version(), "platform": platform.platform()},
        "settings": settings["recipe_settings"],
        "provenance": collect_provenance(settings),
        "benchmarks": {},
    }
    for spec, bench, problems, path, _ in plan:
        wanted = {p.problem_id for p in problems}
        rows = [r for _, r in iter_jsonl(path) if not isinstance(r, BadLine) and r.get("problem_id") in wanted]
        audit = write_disagreements(out / f"{spec.key}.disagreements.jsonl", rows)
        summary["benchmarks"][spec.key] = {
            **summarize(rows),
            "benchmark": spec.name,
            **({"sampling": spec.sampling} if spec.sampling else {}),
            "metric": bench.metric,
            "grader": bench.grader,
            "reference_column": bench.reference_column,
            "samples_file": path.name,
            **({"disagreements_file": audit.name} if audit else {}),
            "limit": spec.limit,
            "offset": spec.offset,
        }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print_summary(summary, out)
    return summary


def print_summary(summary: dict[str, Any], out: Path) -> None:
    """One screen: scores per benchmark and where the files are."""
    samp = summary["sampling"]
    print_benchmark_table(summary["benchmarks"], console, title=f"{summary['model']} · {summary['backend']} · "
                          f"T={samp['temperature']} top-p={samp['top_p']} max={samp['max_new_tokens']}")
    rate = summary["tokens_per_s"]
    console.print(f"pass@1 in %, ± standard error over problems; strict = only <answer>/\\boxed{{}} answers count "
                  f"(strict_format: {str(summary['strict_format']).lower()}); graders≠ = samples where math-verify "
                  f"and the second grader disagree (listed in <benchmark>.disagreements.jsonl)")
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
    from eval.sandbox import SandboxUnavailable

    def stop(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, stop) if threading_main() else None
    try:
        recipe = load_recipe(EvalRecipe, recipe_path, overrides)
        run(recipe, recipe_path)
    except (RecipeError, BenchmarkDataError, FileNotFoundError, ImportError) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        return 2
    except KeyError as exc:  # unknown benchmark name
        console.print(f"[red]error:[/red] {escape(str(exc.args[0]))}")
        return 2
    except SandboxUnavailable as exc:
        console.print(f"[red]error:[/red] sandbox unavailable: {escape(str(exc))}")
        return 3
    except OSError as exc:  # a model that cannot be loaded (missing files, hub unreachable)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        console.print(f"[red]error:[/red] could not load model: {escape(first)}")
        return 2
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: finished chunks are saved; rerun with the same --out to resume")
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


def threading_main() -> bool:
    """Signal handlers can only be installed from the main thread."""
    import threading

    return threading.current_thread() is threading.main_thread()
