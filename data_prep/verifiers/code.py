"""Code verification: take the program out of the response and run the row's test cases in the sandbox.

The pieces are LiveCodeBench's: the program is the last fenced block after the reasoning (eval.livecodebench
extract, via eval.grading.code's truncation rule), every test runs in the LiveCodeBench harness driver
(eval/livecodebench/harness_driver.py: stdin/stdout or call-based, a fresh fork per test, its per-test time
limit), outputs are compared with the official rules (eval.livecodebench.compare, through grade.py's
`_verdict_from_run`) and sandboxes come from the zygote pool (eval/sandbox/pool.py).

One difference from `eval.livecodebench.grade_program`, for speed: that function starts the driver once per
*test* (its one-shot mode, as the remote backend needs); here the driver's own framed protocol runs all tests
of a program in one pooled sandbox (the program is loaded once, each test forks from it), which is what the
driver was written for. Measured on 2 cores: about 4x the tests per second (benchmarks/code_verify.py). All
tests run (no stop at the first failure), so `score` is the share of tests passed.

Row `test_cases` shapes accepted (anything else fails the row with a reason naming the field):
- `[{"input": str, "output": str}, ...]` — stdin/stdout (LiveCodeBench `testtype: stdin`);
- `{"fn_name": str, "tests": [{"input": "<JSON args, one per line>", "output": "<JSON>"}]}` — call-based
  (LiveCodeBench functional);
- `{"inputs": [...], "outputs": [...], "fn_name"?: str}` — APPS / TACO / AM `test_case`: with `fn_name` the
  inputs are argument lists and, as APPS's checker allows, a one-element list output also matches its element.
"""

from __future__ import annotations

import json
import struct
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from eval.grading.extract import final_part
from eval.livecodebench.compare import call_match
from eval.livecodebench.extract import extract_code
from eval.livecodebench.grade import DRIVER, TestVerdict, _verdict_from_run, official_global_timeout
from eval.sandbox.limits import Limits, MiB

MAX_OUTPUT_MB = 64


class BadTestCases(ValueError):
    """`test_cases` of a row has a shape this module does not read; the message names the part."""


@dataclass
class Test:
    input: str
    output: str
    alternatives: tuple[str, ...] = ()  # other accepted expected outputs (APPS: the unwrapped one-element list)


@dataclass
class CodeVerdict:
    passed: bool
    score: float | None
    reason: str
    tests_run: int = 0


def parse_test_cases(raw: Any, max_tests: int | None = None) -> tuple[list[Test], str | None]:
    """Normalise a row's `test_cases` to (tests, fn_name); raises BadTestCases naming what is wrong."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise BadTestCases(f"test_cases: a string that is not JSON ({exc.msg})") from None
    fn_name = None
    tests: list[Test] = []
    if isinstance(raw, dict) and "inputs" in raw:
        fn_name = raw.get("fn_name") or None
        ins, outs = raw.get("inputs"), raw.get("outputs")
        if not isinstance(ins, list) or not isinstance(outs, list) or len(ins) != len(outs):
            raise BadTestCases("test_cases: 'inputs' and 'outputs' must be lists of the same length")
        for i, (a, b) in enumerate(zip(ins, outs)):
            if fn_name:
                args = a if isinstance(a, list) else [a]
                alt = (json.dumps(b[0]),) if isinstance(b, list) and len(b) == 1 else ()
                tests.append(Test("\n".join(json.dumps(x) for x in args), json.dumps(b), alt))
            else:
                if isinstance(a, list):
                    a = "\n".join(map(str, a))
                if isinstance(b, list):
                    b = "\n".join(map(str, b))
                if not isinstance(a, str) or not isinstance(b, str):
                    raise BadTestCases(f"test_cases: inputs[{i}] / outputs[{i}] must be strings")
                tests.append(Test(a, b))
    else:
        if isinstance(raw, dict):
            fn_name = raw.get("fn_name") or None
            raw = raw.get("tests")
        if not isinstance(raw, list):
            raise BadTestCases("test_cases: expected a list of {input, output}, {fn_name, tests} or "
                                "{inputs, outputs[, fn_name]}")
        for i, t in enumerate(raw):
            if not isinstance(t, dict) or not isinstance(t.get("input"), str) or not isinstance(t.get("output"), str):
                raise BadTestCases(f"test_cases[{i}]: expected string 'input' and 'output'")
            tests.append(Test(t["input"], t["output"]))
    if not tests:
        raise BadTestCases("test_cases: no tests")
    return (tests[:max_tests] if max_tests else tests), fn_name


def _frame(message: dict) -> bytes:
    body = json.dumps(message).encode()
    return struct.pack(">I", len(body)) + body


def _replies(text: str) -> list[dict]:
    """The driver's JSON replies from its framed stdout.

    The sandbox hands stdout back as text decoded with errors="replace", which mangles the 4-byte length
    prefixes, so the frames are found by their JSON bodies instead (json.dumps writes ASCII, so the bodies
    survive the decoding): each is the next `{` that starts a whole JSON object.
    """
    decoder = json.JSONDecoder()
    out, pos = [], 0
    while (i := text.find("{", pos)) >= 0:
        try:
            obj, pos = decoder.raw_decode(text, i)
        except ValueError:
            pos = i + 1  # a prefix byte that happens to be "{", or a reply cut off when the driver died
            continue
        if isinstance(obj, dict) and ("status" in obj or "ok" in obj):
            out.append(obj)
    return out


def run_tests(program: str, tests: list[Test], fn_name: str | None, timeout_s: float = 6.0,
              memory_mb: int = 4096, pool: bool = True) -> tuple[list[TestVerdict], str]:
    """Run `program` on every test in one sandbox (the harness driver's framed protocol); (verdicts, load error).

    `pool=False` starts a sandbox of its own (bwrap) instead of forking from the zygote pool (the benchmark's
    baseline). Raises eval.sandbox.SandboxUnavailable where the host cannot isolate code.
    """
    from eval.sandbox import run as sandbox_run

    # Output cap per test: twice the longest expected output plus 1 MiB (LiveCodeBench allows 64 MiB; a reply
    # for each of 50 tests held at once must not be GBs). Longer output cannot match and is a wrong answer.
    longest = max(max(len(t.output), *(len(a) for a in t.alternatives)) if t.alternatives else len(t.output)
                  for t in tests)
    max_output = min(MAX_OUTPUT_MB * MiB, 2 * longest + MiB)
    stdin = _frame({"code": program, "fn_name": fn_name, "max_output": max_output})
    stdin += b"".join(_frame({"input": t.input, "timeout": timeout_s}) for t in tests)
    budget = official_global_timeout(timeout_s, len(tests))
    # Replies are JSON: escaping can grow output up to 6x (\uXXXX), hence the margin.
    limits = Limits(timeout=budget, cpu=int(budget) + 1, memory_mb=memory_mb,
                    max_output=len(tests) * (6 * max_output + 4096) + MiB, max_processes=64)
    run = sandbox_run(DRIVER.read_text(), stdin=stdin, limits=limits, pool=pool)
    replies = _replies(run.stdout)
    if replies and not replies[0].get("ok"):
        error = replies[0].get("error", "").strip()
        return [TestVerdict("runtime_error", 0.0, error.splitlines()[-1][:500] if error else "")] + \
            [TestVerdict("not_run")] * (len(tests) - 1), error
    verdicts: list[TestVerdict] = []
    for test, reply in zip(tests, replies[1:]):
        v = _verdict_from_run(reply, test.output, fn_name)
        if v.verdict == "wrong_answer" and fn_name and test.alternatives and reply["status"] == "ok":
            if any(call_match(reply["stdout"], alt)[0] for alt in test.alternatives):
                v = TestVerdict("passed", v.time)
        verdicts.append(v)
    if len(verdicts) < len(tests):
        # The driver itself died or ran out of the global budget: the tests it never answered failed.
        why = "global_timeout" if run.status == "timeout" else "runtime_error"
        detail = f"sandbox {run.status}: {run.stderr[-300:]}".strip()
        verdicts += [TestVerdict(why, 0.0, detail)] * (len(tests) - len(verdicts))
    return verdicts, ""


def verify_code(response: str, test_cases: Any, timeout_s: float = 6.0, max_tests: int | None = None,
                memory_mb: int = 4096) -> CodeVerdict:
    """Verdict for one response against its test cases."""
    try:
        tests, fn_name = parse_test_cases(test_cases, max_tests)
    except BadTestCases as exc:
        return CodeVerdict(False, None, str(exc))
    text, truncated = final_part(response)
    if truncated:
        return CodeVerdict(False, 0.0, "truncated: reasoning never closed")
    program = extract_code(text or "")
    if not program.strip():
        return CodeVerdict(False, 0.0, "no answer: no fenced code block after the reasoning")
    verdicts, error = run_tests(program, tests, fn_name, timeout_s, memory_mb)
    n_ok = sum(v.verdict == "passed" for v in verdicts)
    if error:
        return CodeVerdict(False, 0.0, f"runtime_error: program does not load: {error.splitlines()[-1][:200]}",
                           len(tests))
    if n_ok == len(tests):
        return CodeVerdict(True, 1.0, f"ok: {n_ok}/{len(tests)} tests passed", len(tests))
    first = next(v for v in verdicts if v.verdict != "passed")
    return CodeVerdict(False, round(n_ok / len(tests), 4),
                       f"{first.verdict}: {n_ok}/{len(tests)} tests passed; {first.message[:200]}".rstrip("; "),
                       len(tests))


def verify_code_many(items: list[tuple[str, Any]], timeout_s: float = 6.0, max_tests: int | None = None,
                     workers: int | None = None, memory_mb: int = 4096) -> list[CodeVerdict]:
    """Verdicts for (response, test_cases) pairs, `workers` sandboxes at a time (default: 2 per CPU); in order."""
    from eval.sandbox.isolation import probe
    from eval.sandbox.pool import shared_pool
    from eval.sandbox.runner import default_workers

    if not items:
        return []
    workers = workers or default_workers(2)
    found = probe()
    if found.ok and found.as_root:
        shared_pool(found).grow(workers)
    with ThreadPoolExecutor(max_workers=workers) as threads:
        return list(threads.map(lambda it: verify_code(it[0], it[1], timeout_s, max_tests, memory_mb), items))
