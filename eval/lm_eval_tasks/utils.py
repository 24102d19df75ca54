"""lm-evaluation-harness glue for distillery's task files: the data comes from eval.benchmarks (the same files,
ids, prompts and GPQA option order as `eval run`), and every response is graded by eval.grading's one dispatch
path, so lm-eval's per-sample verdicts equal `eval score`'s on the same responses.

    lm_eval --model hf --model_args pretrained=MODEL --include_path eval/lm_eval_tasks \\
        --tasks distillery_math500,distillery_aime24 --apply_chat_template --log_samples --output_path out/

The tasks that follow the DeepSeek-R1 protocol force `<think>\\n` at the start of the answer (`gen_prefix`); the
graded response is that prefix plus the generation, exactly as `eval run` stores it, so a response that never
closes its reasoning counts as truncated.
"""

from __future__ import annotations

from typing import Any

THINK_PREFIX = "<think>\n"


def _dataset(name: str, **kwargs: Any):
    import datasets

    from eval.benchmarks import load_benchmark

    loaded = load_benchmark(name, kwargs.get("path"))
    bench = loaded.benchmark
    rows = [{"problem_id": p.problem_id, "prompt": bench.render(p), "gold": p.gold} for p in loaded.problems]
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})


def load_math500(**kwargs: Any):
    """MATH-500 (shipped with eval)."""
    return _dataset("math500", **kwargs)


def load_aime24(**kwargs: Any):
    """AIME 2024 (shipped with eval)."""
    return _dataset("aime24", **kwargs)


def load_gpqa_diamond(**kwargs: Any):
    """GPQA-Diamond from $DISTILLERY_GPQA_PATH (or `--metadata '{"path": ...}'`), options in eval's order."""
    return _dataset("gpqa_diamond", **kwargs)


def load_gsm8k(**kwargs: Any):
    """GSM8K test from $DISTILLERY_GSM8K_TEST_PATH (or `--metadata '{"path": ...}'`)."""
    return _dataset("gsm8k", **kwargs)


def _grade(grader: str, doc: dict[str, Any], response: str, strict: bool) -> dict[str, float]:
    from eval.grading.dispatch import GradeOptions, grade_samples

    verdict = grade_samples(grader, [doc["gold"]], [response], GradeOptions(strict=strict, second_grader=False))[0]
    return {"correct": float(verdict.correct), "format_ok": float(verdict.format_ok)}


def process_results_math_r1(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """R1 protocol math: the forced `<think>\\n` is part of the graded response."""
    return _grade("math", doc, THINK_PREFIX + results[0], strict=False)


def process_results_choice_r1(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """R1 protocol GPQA: "Answer: X", a boxed letter, else the last standalone letter."""
    return _grade("choice", doc, THINK_PREFIX + results[0], strict=False)


def process_results_openmath(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """OpenMath protocol (GSM8K): only the last `\\boxed{}` counts."""
    return _grade("math", doc, results[0], strict=True)
