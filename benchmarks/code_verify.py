"""Verification throughput: code test executions/s and reward-model rows/s on this machine.

    python -m benchmarks.code_verify [--programs 40] [--tests 10] [--workers N] [--rm-rows 64] [--rm MODEL]

Code: `--programs` programs (stdin/stdout and call-based, half of them wrong) with `--tests` tests each, verified
by data_prep.verifiers.code (one pooled sandbox per program, every test forked from the loaded program).
Printed beside it, measured in the same process on the same programs:
- baseline: one sandbox started per program (bwrap per run, `pool=False`), the same driver and tests;
- for scale: eval.livecodebench.grade_program (LiveCodeBench's path: a pooled sandbox per *test*).
Reward model: rows/s of data_prep.verifiers.reward on CPU, batched (batch 16) vs one row at a time, with the tiny
offline reward model (data_prep.verifiers.tiny_reward) unless `--rm` names another.
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from data_prep.verifiers.code import parse_test_cases, run_tests, verify_code_many
from eval.livecodebench.grade import grade_program
from eval.livecodebench.problems import TestCase
from eval.sandbox.isolation import probe
from eval.sandbox.pool import shared_pool
from eval.sandbox.runner import default_workers

STDIO = "```python\na, b = map(int, input().split())\nprint(a + b{wrong})\n```"
CALL = "```python\nclass Solution:\n    def add(self, a, b):\n        return a + b{wrong}\n```"


def workload(programs: int, tests: int) -> list[tuple[str, object]]:
    items = []
    for p in range(programs):
        wrong = " + 1" if p % 2 else ""
        if p % 4 < 2:
            tc = [{"input": f"{i} {p}\n", "output": f"{i + p}\n"} for i in range(tests)]
            items.append(("<think>plan</think>\n" + STDIO.format(wrong=wrong), tc))
        else:
            tc = {"fn_name": "add", "inputs": [[i, p] for i in range(tests)], "outputs": [i + p for i in range(tests)]}
            items.append(("<think>plan</think>\n" + CALL.format(wrong=wrong), tc))
    return items


def bench_code(args) -> None:
    items = workload(args.programs, args.tests)
    n_exec = args.programs * args.tests
    workers = args.workers or default_workers(2)
    verify_code_many(items[:workers], workers=workers)  # warm the pool's zygotes
    t0 = time.perf_counter()
    verdicts = verify_code_many(items, workers=workers)
    ours = n_exec / (time.perf_counter() - t0)
    assert sum(v.passed for v in verdicts) == args.programs // 2, [v.reason for v in verdicts]

    def program_of(item):
        return item[0].split("```python\n")[1].split("```")[0]

    def own_sandbox(item):
        tests, fn = parse_test_cases(item[1])
        return run_tests(program_of(item), tests, fn, pool=False)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as threads:
        list(threads.map(own_sandbox, items))
    baseline = n_exec / (time.perf_counter() - t0)

    def lcb(item):
        tests, fn = parse_test_cases(item[1])
        return grade_program(program_of(item), [TestCase(t.input, t.output) for t in tests], fn,
                             stop_on_first_failure=False)

    shared_pool(probe()).grow(workers)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as threads:
        list(threads.map(lcb, items))
    per_test = n_exec / (time.perf_counter() - t0)
    print(f"code verification: {args.programs} programs x {args.tests} tests, {workers} sandboxes at a time")
    print(f"  data_prep.verifiers.code (pooled sandbox per program): {ours:7.1f} test executions/s")
    print(f"  baseline, one sandbox started per program (bwrap):      {baseline:7.1f} test executions/s"
          f"  -> ratio {ours / baseline:.2f}x")
    print(f"  LiveCodeBench grade_program (pooled sandbox per test):  {per_test:7.1f} test executions/s"
          f"  -> ratio {ours / per_test:.2f}x")


def bench_rm(args) -> None:
    from data_prep.verifiers.reward import RewardModelConfig, load_reward_model, score_rows

    if args.rm:
        model = args.rm
    else:
        from data_prep.verifiers.tiny_reward import build_tiny_reward_model

        cache = Path(os.environ.get("DISTILLERY_CACHE", Path(__file__).resolve().parents[1] / ".cache"))
        model = str(build_tiny_reward_model(cache / "models" / "tiny-reward"))
    pairs = [(f"Explain why the sky looks blue at noon ({i}).",
              "<think>" + "Sunlight scatters off air molecules; shorter wavelengths scatter more. " * (8 + i % 8)
              + "</think>\nRayleigh scattering.") for i in range(args.rm_rows)]
    tok, _ = load_reward_model(model, "cpu", "float32")
    mean_tokens = sum(len(tok(p + r)["input_ids"]) for p, r in pairs) / len(pairs)
    score_rows(pairs[:4], RewardModelConfig(model=model))  # load and warm up
    rates = {}
    for bs in (16, 1):
        t0 = time.perf_counter()
        score_rows(pairs, RewardModelConfig(model=model, batch_size=bs))
        rates[bs] = len(pairs) / (time.perf_counter() - t0)
    print(f"reward model ({Path(model).name}, CPU, {len(pairs)} rows of ~{mean_tokens:.0f} tokens): "
          f"{rates[16]:.1f} rows/s batched (16), {rates[1]:.1f} rows/s one at a time -> ratio {rates[16] / rates[1]:.2f}x")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.code_verify", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--programs", type=int, default=40)
    parser.add_argument("--tests", type=int, default=10)
    parser.add_argument("--workers", type=int, default=None, help="sandboxes at a time (default: 2 per CPU)")
    parser.add_argument("--rm-rows", type=int, default=64)
    parser.add_argument("--rm", default=None, help="a reward model folder (default: the tiny offline one)")
    args = parser.parse_args(argv)
    print(f"load average before: {os.getloadavg()}")
    bench_code(args)
    bench_rm(args)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
