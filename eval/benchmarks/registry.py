"""The benchmark registry: a benchmark is data (loader, prompt template, grader, metric, default samples)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from eval.benchmarks.loaders import (
    Problem,
    load_aime24,
    load_gpqa_diamond,
    load_gsm8k_test,
    load_livecodebench,
    load_math500,
    load_math_file,
)

# DeepSeek-R1 README: no system prompt, this instruction in the user turn.
MATH_PROMPT = "{question}\nPlease reason step by step, and put your final answer within \\boxed{}."
# simple-evals / lighteval GPQA prompt; the grader reads "Answer: X" first.
CHOICE_PROMPT = (
    "Answer the following multiple choice question. The last line of your response should be of the following "
    "format: 'Answer: $LETTER' (without quotes) where LETTER is one of ABCD. Think step by step before "
    "answering.\n\n{question}\n\nA) {A}\nB) {B}\nC) {C}\nD) {D}"
)


@dataclass(frozen=True)
class Benchmark:
    """What a benchmark is: where problems come from, how to ask, how to grade, how to score."""

    name: str
    loader: Callable[..., list[Problem]]  # (path or None, **options) -> problems
    prompt: str  # `{question}` (and `{A}`..`{D}` for choice) are filled in; other braces are literal
    grader: str  # "math" | "choice" | "code"
    metric: str  # the headline number in summaries and reports
    default_samples: int  # AM protocol (arXiv 2503.19633 §3.1)
    reference_column: str | None  # column of the published table in eval/reference.json
    source: str

    def render(self, problem: Problem, template: str | None = None) -> str:
        """The user message for one problem (placeholders replaced literally, so LaTeX braces survive)."""
        text = template or self.prompt
        for key, value in problem.fields.items():
            text = text.replace("{" + key + "}", value)
        return text


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in [
        Benchmark("math500", load_math500, MATH_PROMPT, "math", "pass@1", 4, "MATH-500",
                  "shipped: eval/benchmarks/data/math500.jsonl"),
        Benchmark("aime24", load_aime24, MATH_PROMPT, "math", "pass@1", 16, "AIME24",
                  "shipped: eval/benchmarks/data/aime24.jsonl"),
        Benchmark("gpqa_diamond", load_gpqa_diamond, CHOICE_PROMPT, "choice", "pass@1", 4, "GPQA-D",
                  "path, $DISTILLERY_GPQA_PATH, or hub Idavidrein/gpqa (gated)"),
        Benchmark("gsm8k", load_gsm8k_test, MATH_PROMPT, "math", "pass@1", 1, None,
                  "path, $DISTILLERY_GSM8K_TEST_PATH, or hub openai/gsm8k (test)"),
        # Any other math file a user has: the full MATH test (OpenMath's MATH column), AMC, OlympiadBench, …
        Benchmark("math", load_math_file, MATH_PROMPT, "math", "pass@1", 1, None,
                  "path or $DISTILLERY_MATH_PATH: a JSONL/JSON/CSV/Parquet file with problem and answer (or a boxed solution)"),
        # The official LiveCodeBench prompt is built per problem by eval.livecodebench; graded in the sandbox.
        Benchmark("livecodebench", load_livecodebench, "{question}", "code", "pass@1", 4, "LCB",
                  "path (code_generation_lite files with tests), $DISTILLERY_LCB_PATH, or hub "
                  "livecodebench/code_generation_lite"),
    ]
}


def get_benchmark(name: str) -> Benchmark:
    """Look a benchmark up by name; the error lists the known names."""
    if name not in BENCHMARKS:
        raise KeyError(f"unknown benchmark {name!r} (known: {', '.join(sorted(BENCHMARKS))})")
    return BENCHMARKS[name]
