"""Verification by category on real components: eval's grader, the sandbox's zygote pool, a tiny reward model
built offline, and a local OpenAI-compatible judge endpoint."""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from data_prep.convert import am_to_row, openmath_to_row
from data_prep.row import make_row, row_errors
from data_prep.verifiers.code import BadTestCases, parse_test_cases
from data_prep.verifiers.judge import JudgeConfig
from data_prep.verifiers.majority import MajorityConfig
from data_prep.verifiers.reward import RewardModelConfig, score_rows
from data_prep.verify import CodeConfig, VerifyConfig, verify_rows


def _nemo(shared):
    recs = []
    for i in range(3):
        path = shared / "samples" / "nemo_skills_openmath_outputs" / f"output-rs{i}.jsonl"
        recs += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [openmath_to_row({"question": r["problem"], "generated_solution": r["generation"],
                             "expected_answer": r["expected_answer"], "is_correct": r["symbolic_correct"],
                             "dataset": "math"}) for r in recs]
    return recs, rows


def test_math_rows_agree_with_nemo_skills_labels(shared):
    """150 real NeMo-Skills generations: our verdict against NeMo-Skills' stored `symbolic_correct`."""
    recs, rows = _nemo(shared)
    out = verify_rows(rows, VerifyConfig())
    assert all(row_errors(r) == [] and r["verification"]["method"] == "math_verify" for r in out)
    disagree = sorted((r["expected_answer"], o["verification"]["passed"]) for r, o in zip(recs, out)
                      if o["verification"]["passed"] != r["symbolic_correct"])
    # 147/150 agree. The three differences are NeMo-Skills' errors: `\fbox{958}` (it reads only \boxed),
    # "1320 km" for 1320 (a unit) and "(x+y)^2=81" when the question asks for (x+y)^2.
    assert disagree == [("1320", True), ("81", True), ("958", True)]
    assert rows[0]["verification"]["method"] == "openmath_is_correct"  # inputs untouched


def test_majority_vote_without_references(shared):
    """The same 150 rows with references removed: 3 samples per problem vote; 2 of 3 must agree."""
    recs, rows = _nemo(shared)
    for r in rows:
        del r["reference_answer"]
    out = verify_rows(rows, VerifyConfig(majority=MajorityConfig(min_samples=2, min_agreement=0.5)))
    assert {r["verification"]["method"] for r in out} == {"majority"}
    pairs = Counter((o["verification"]["passed"], r["symbolic_correct"]) for o, r in zip(out, recs))
    assert pairs == {(True, True): 100, (False, False): 12, (None, False): 29, (None, True): 7, (True, False): 2}
    # The two majority passes NeMo-Skills marks wrong are its own errors again: the unit, and "(x+y)^2=81".
    wrong = sorted((r["expected_answer"], o["reference_answer"]) for o, r in zip(out, recs)
                   if o["verification"]["passed"] and not r["symbolic_correct"])
    assert wrong == [("1320", "1320 km"), ("81", "81")]
    assert all(o["reference_answer"] is not None for o in out if o["verification"]["passed"] is not None)
    # No majority without enough samples.
    lone = verify_rows(rows[:1], VerifyConfig())[0]["verification"]
    assert lone["passed"] is None and "1 sample(s), need 2" in lone["reason"]


class _ScriptedJudge(BaseHTTPRequestHandler):
    """A test double for a judge model: no model small enough to run here follows the judge format, so this
    local OpenAI-compatible endpoint answers by script (first request: a 500, so the client's retry is real)."""

    requests: list[str] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][-1]["content"]
        type(self).requests.append(prompt)
        if len(self.requests) == 1:
            self.send_response(500)
            self.end_headers()
            return
        if "1320 km" in prompt or "Answer: 7" in prompt:
            reply = "Same value with a unit.\nVERDICT: EQUIVALENT"
        elif "ramble" in prompt:
            reply = "I am not sure what to say."
        else:
            reply = "Different values.\nVERDICT: DIFFERENT"
        data = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                           "choices": [{"index": 0, "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def judge_url():
    _ScriptedJudge.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ScriptedJudge)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_llm_judge_second_opinion_for_rejected_math_rows(judge_url):
    def row(response, ref="1320", think="<think>hm</think>"):
        return make_row(problem="How far is it?", response=f"{think}{response}", source="t",
                        category="math", reference_answer=ref)

    rows = [row("The distance is \\boxed{1320 km}."),  # grader: ok (strips the unit) -> no question asked
            row("Answer: 7", ref="7"),  # grader: no boxed answer (strict) -> judge says equivalent
            row("\\boxed{12}", ref="13"),  # grader: wrong -> judge agrees it is wrong
            row("I ramble \\boxed{5}", ref="6"),  # judge reply without a verdict line: the grader's verdict stands
            row("<think>cut off", ref="6", think="")]  # truncated: never judged
    cfg = VerifyConfig(judge=JudgeConfig(base_url=judge_url, model="judge", max_retries=2, concurrency=2,
                                         timeout_s=10))
    out = [r["verification"] for r in verify_rows(rows, cfg)]
    assert [(v["method"], v["passed"]) for v in out] == [
        ("math_verify", True), ("llm_judge", True), ("math_verify", False), ("math_verify", False),
        ("math_verify", False)]
    assert out[1]["reason"].startswith("judge (judge): equivalent; grader said no answer")
    assert "judge (judge): different" in out[2]["reason"]
    assert "judge reply has no verdict line" in out[3]["reason"]
    # Three rows asked, plus the one retry after the scripted 500.
    assert len(_ScriptedJudge.requests) == 4


def _code_row(response, tests, category="code"):
    return make_row(problem="Add two numbers.", response=f"<think>plan</think>\n{response}", source="t",
                    category=category, test_cases=tests)


ADD = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
STDIO = [{"input": f"{i} {i + 1}\n", "output": f"{2 * i + 1}\n"} for i in range(6)]


def test_code_rows_run_their_tests_in_the_sandbox():
    call_lcb = {"fn_name": "add", "tests": [{"input": "1\n2", "output": "3"}, {"input": "5\n5", "output": "10"}]}
    call_apps = {"fn_name": "add", "inputs": [[1, 2], [3, 4]], "outputs": [[3], [7]]}
    solution = "```python\nclass Solution:\n    def add(self, a, b):\n        return a + b\n```"
    rows = [
        _code_row(ADD, STDIO),
        _code_row(ADD.replace("a + b", "a + b if a < 3 else 0"), STDIO),  # passes 3 of 6
        _code_row(solution, call_lcb),
        _code_row(solution, call_apps),  # APPS wraps call results in a one-element list
        _code_row(solution, json.dumps(call_apps)),  # AM stores test_case as a JSON string
        _code_row("```python\nwhile True:\n    pass\n```", STDIO[:1]),
        _code_row("```python\nimport os\nos.kill(os.getppid(), 9)\n```", STDIO[:3]),  # kills the harness
        _code_row("```python\ndef broken(:\n```", STDIO[:2]),
        _code_row("no code here", STDIO),
        _code_row(ADD, {"inputs": ["1 2\n"], "outputs": []}),
        _code_row(ADD, None),
    ]
    out = [r["verification"] for r in verify_rows(rows, VerifyConfig(code=CodeConfig(timeout_s=1.0, workers=2)))]
    got = [(v["method"], v["passed"], v["score"], v["reason"].split(":")[0]) for v in out]
    assert got == [
        ("code_tests", True, 1.0, "ok"),
        ("code_tests", False, 0.5, "wrong_answer"),
        ("code_tests", True, 1.0, "ok"),
        ("code_tests", True, 1.0, "ok"),
        ("code_tests", True, 1.0, "ok"),
        ("code_tests", False, 0.0, "time_limit"),
        ("code_tests", False, 0.0, "runtime_error"),
        ("code_tests", False, 0.0, "runtime_error"),
        ("code_tests", False, 0.0, "no answer"),
        ("code_tests", False, None, "test_cases"),
        ("none", None, None, "unverifiable"),
    ]
    assert "3/6 tests passed" in out[1]["reason"] and "does not load" in out[7]["reason"]
    assert "same length" in out[9]["reason"]


def test_code_test_case_shapes():
    tests, fn = parse_test_cases({"inputs": [["a", "b"]], "outputs": [["x"]]})
    assert fn is None and (tests[0].input, tests[0].output) == ("a\nb", "x")
    tests, fn = parse_test_cases(STDIO, max_tests=2)
    assert len(tests) == 2 and fn is None
    with pytest.raises(BadTestCases, match=r"test_cases\[0\]: expected string 'input' and 'output'"):
        parse_test_cases([{"input": 1, "output": "2"}])
    with pytest.raises(BadTestCases, match="no tests"):
        parse_test_cases([])


@pytest.fixture(scope="module")
def tiny_rm(tmp_path_factory):
    from data_prep.verifiers.tiny_reward import build_tiny_reward_model
    from tests.conftest import CACHE

    return build_tiny_reward_model(CACHE / "models" / "tiny-reward")


def test_reward_model_scores_science_and_other_rows(tiny_rm, shared):
    am_path = shared / "samples" / "AM-DeepSeek-R1-Distilled-1.4M__am_0.9M_sample_1k__row1.jsonl"
    am = am_to_row(json.loads(am_path.read_text().splitlines()[0]))
    rows = [am] + [make_row(problem=f"Why is the sky blue? ({i})", response="<think>light</think>" + "Rayleigh " * i,
                            source="t", category="science") for i in range(1, 8)]
    pairs = [(r["problem"], r["messages"][-1]["content"]) for r in rows]
    one_by_one = score_rows(pairs, RewardModelConfig(model=str(tiny_rm), batch_size=1))
    batched = score_rows(pairs, RewardModelConfig(model=str(tiny_rm), batch_size=8))
    # Padding must not change a score: batched equals one at a time (the AM row is ~2,000 tokens longer).
    assert batched == pytest.approx(one_by_one, abs=1e-4)
    assert len(set(round(s, 4) for s in batched)) > 1
    threshold = sorted(batched)[len(batched) // 2]
    out = verify_rows(rows, VerifyConfig(reward_model=RewardModelConfig(model=str(tiny_rm), threshold=threshold)))
    vers = [r["verification"] for r in out]
    assert {v["method"] for v in vers} == {"reward_model"}
    assert [v["passed"] for v in vers] == [s >= threshold for s in batched]
    assert vers[0]["score"] == pytest.approx(batched[0], abs=1e-5) and "threshold" in vers[0]["reason"]
    # Without a reward model, such rows are unverifiable (and the AM row has no stored verdict to compare).
    assert verify_rows([am], VerifyConfig())[0]["verification"]["passed"] is None


SUM_TESTS = [("1 2\n", "3\n"), ("5 7\n", "12\n"), ("-4 4\n", "0\n"), ("1000000000 1000000000\n", "2000000000\n")]
HEAD_TESTS = [("[1, 2, 3]\n2", "[1, 2]"), ("[4]\n0", "[]"), ("[5, 6, 7, 8]\n3", "[5, 6, 7]")]
PAIRS_TESTS = [("[1, 2, 3]", "[[1, 2], [2, 3]]"), ("[7, 8]", "[[7, 8]]")]
AGREEMENT_CASES = [  # (program, tests, fn_name): the LiveCodeBench suite's tricky cases
    ("a, b = map(int, input().split())\nprint(a + b)", SUM_TESTS, None),
    ("import sys\na, b = map(int, sys.stdin.buffer.read().split())\nprint(a + b, '  ')\nprint()", SUM_TESTS, None),
    ("a, b = map(int, input().split())\nprint(a + b)\nexit()\nprint('unreachable')", SUM_TESTS, None),
    ("a, b = map(int, input().split())\nprint(a + b if a > 0 else 1)", SUM_TESTS, None),
    ("a, b = map(int, input().split())\nprint(a + b)\nprint(0)", SUM_TESTS, None),
    ("a, b = map(int, input().split())\nprint(a + b if b != 7 else a // (b - 7))", SUM_TESTS, None),
    ("a, b = map(int, input().split()\nprint(a + b)", SUM_TESTS, None),
    ("import time\ntime.sleep(3)\nprint(3)", SUM_TESTS[:1], None),
    ("class Solution:\n    def headK(self, nums, k):\n        print('debug')\n        return tuple(nums[:k])",
     HEAD_TESTS, "headK"),
    ("class Solution:\n    def headK(self, nums, k):\n        return list(islice(deque(nums), k))", HEAD_TESTS, "headK"),
    ("class Solution:\n    def headK(self, nums, k):\n        return nums[:k + 1]", HEAD_TESTS, "headK"),
    ("class Solution:\n    def firstK(self, nums, k):\n        return nums[:k]", HEAD_TESTS, "headK"),
    ("class Solution:\n    def pairs(self, nums):\n        return [(a, b) for a, b in zip(nums, nums[1:])]",
     PAIRS_TESTS, "pairs"),
]


@pytest.mark.parametrize("case", range(len(AGREEMENT_CASES)))
def test_code_verdicts_match_livecodebench_grade_program(case):
    """Test by test, the verifier's verdicts equal those of the runner that scores LiveCodeBench."""
    from data_prep.verifiers.code import Test, run_tests
    from eval.livecodebench import TestCase, grade_program

    program, tests, fn = AGREEMENT_CASES[case]
    ours, _ = run_tests(program, [Test(i, o) for i, o in tests], fn, timeout_s=1.0)
    lcb = grade_program(program, [TestCase(i, o, "functional" if fn else "stdin") for i, o in tests], fn,
                        timeout=1.0, stop_on_first_failure=False)
    assert [v.verdict for v in ours] == [v.verdict for v in lcb.verdicts]


def test_code_output_far_longer_than_expected_is_cut_and_wrong():
    flood = "```python\nimport sys\nsys.stdout.write('3\\n' + ' ' * (3 << 20))\n```"
    (v,) = [r["verification"] for r in verify_rows([_code_row(flood, STDIO[:1])], VerifyConfig())]
    assert (v["passed"], v["reason"]) == (False, "wrong_answer: 0/1 tests passed; output limit exceeded")
