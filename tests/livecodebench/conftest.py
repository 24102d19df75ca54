"""Small LiveCodeBench problems in the official code_generation_lite schema, with known solutions.

Private tests are encoded the official way (base64 → zlib → pickle → JSON string). Test modules get all of
this through the `lcb` fixture (they cannot import a conftest under --import-mode=importlib).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from eval.livecodebench.problems import encode_private_tests


def _stdin(i: str, o: str) -> dict:
    return {"input": i, "output": o, "testtype": "stdin"}


def _call(i: str, o: str) -> dict:
    return {"input": i, "output": o, "testtype": "functional"}


def row(qid, title, date, difficulty, public, private, func_name=None, starter="", platform="atcoder",
        plain_private=False) -> dict:
    return {
        "question_title": title,
        "question_content": f"Solve {title}.",
        "platform": "leetcode" if func_name else platform,
        "question_id": qid,
        "contest_id": qid.split("_")[0],
        "contest_date": f"{date}T00:00:00",
        "starter_code": starter,
        "difficulty": difficulty,
        "public_test_cases": json.dumps(public),
        "private_test_cases": json.dumps(private) if plain_private else encode_private_tests(private),
        "metadata": json.dumps({"func_name": func_name} if func_name else {}),
    }


# Sum of two integers per line (stdin/stdout).
SUM = row("abc001_a", "A+B", "2024-08-03", "easy",
          [_stdin("1 2\n", "3\n")],
          [_stdin("5 7\n", "12\n"), _stdin("-4 4\n", "0\n"), _stdin("1000000000 1000000000\n", "2000000000\n")])
# Mean of the numbers, compared with the official Decimal rule (no epsilon).
MEAN = row("abc002_b", "Mean", "2024-09-10", "medium",
           [_stdin("2\n1 2\n", "1.5\n")],
           [_stdin("4\n1 1 1 2\n", "1.25\n"), _stdin("3\n3 3 3\n", "3\n")])
# Call-based: first k elements, returned as a list.
HEAD = row("3301", "headK", "2024-10-01", "easy",
           [_call("[1, 2, 3]\n2", "[1, 2]")],
           [_call("[4]\n0", "[]"), _call("[5, 6, 7, 8]\n3", "[5, 6, 7]")],
           func_name="headK", starter="class Solution:\n    def headK(self, nums: List[int], k: int) -> List[int]:\n        ")
# Call-based: pairs (nested lists) — a nested tuple does not equal a nested list under the official `==`.
PAIRS = row("3302", "pairs", "2025-01-20", "hard",
            [_call("[1, 2, 3]", "[[1, 2], [2, 3]]")],
            [_call("[7, 8]", "[[7, 8]]")],
            func_name="pairs", plain_private=True)
# Outside the 2024-08 .. 2025-01 window.
OLD = row("abc000_z", "Old", "2023-05-01", "easy", [_stdin("1\n", "1\n")], [])

PROBLEMS = [SUM, MEAN, HEAD, PAIRS, OLD]

SOLUTIONS = {
    "sum_ok": "a, b = map(int, input().split())\nprint(a + b)",
    "sum_ok_buffer_trailing_ws": "import sys\na, b = map(int, sys.stdin.buffer.read().split())\nprint(a + b, '  ')\nprint()",
    "sum_ok_main_guard": "def main():\n    a, b = map(int, input().split())\n    print(a + b)\n\nif __name__ == '__main__':\n    main()",
    "sum_ok_exit": "a, b = map(int, input().split())\nprint(a + b)\nexit()\nprint('unreachable')",
    "sum_wrong_on_private": "a, b = map(int, input().split())\nprint(a + b if a > 0 else 1)",
    "sum_extra_line": "a, b = map(int, input().split())\nprint(a + b)\nprint(0)",
    "sum_slow": "import time\ntime.sleep(5)\na, b = map(int, input().split())\nprint(a + b)",
    "sum_crash": "a, b = map(int, input().split())\nprint(a + b if b != 7 else a // (b - 7))",
    "sum_syntax_error": "a, b = map(int, input().split()\nprint(a + b)",
    "mean_ok_trailing_zeros": "n = int(input())\nxs = list(map(int, input().split()))\nprint(f'{sum(xs) / n:.2f}')",
    "mean_ok_float": "n = int(input())\nxs = list(map(int, input().split()))\nprint(sum(xs) / n)",
    "mean_wrong_rounding": "n = int(input())\nxs = list(map(int, input().split()))\nprint(f'{sum(xs) / n:.1f}')",
    "head_ok_tuple": "class Solution:\n    def headK(self, nums: List[int], k: int) -> List[int]:\n        print('debug output is ignored')\n        return tuple(nums[:k])",
    "head_ok_uses_prelude": "class Solution:\n    def headK(self, nums, k):\n        return list(islice(deque(nums), k))",
    "head_wrong": "class Solution:\n    def headK(self, nums, k):\n        return nums[:k + 1]",
    "head_missing_method": "class Solution:\n    def firstK(self, nums, k):\n        return nums[:k]",
    "head_slow": "class Solution:\n    def headK(self, nums, k):\n        while True:\n            pass",
    "pairs_ok": "class Solution:\n    def pairs(self, nums):\n        return [[a, b] for a, b in zip(nums, nums[1:])]",
    "pairs_nested_tuples": "class Solution:\n    def pairs(self, nums):\n        return [(a, b) for a, b in zip(nums, nums[1:])]",
}


def write_benchmark(directory: Path, name: str = "livecodebench.jsonl", rows: list[dict] | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("".join(json.dumps(r) + "\n" for r in (rows if rows is not None else PROBLEMS)))
    return path


def response(code: str, draft: str = "print('draft')") -> str:
    """A reasoning-model style response: a draft block in the thinking, the final program last."""
    return f"<think>\nFirst try:\n```python\n{draft}\n```\nHmm.\n</think>\nHere it is:\n```python\n{code}\n```\n"


@pytest.fixture(scope="session")
def lcb() -> SimpleNamespace:
    module = sys.modules[__name__]
    return SimpleNamespace(**{k: getattr(module, k) for k in (
        "SUM", "MEAN", "HEAD", "PAIRS", "OLD", "PROBLEMS", "SOLUTIONS", "row", "write_benchmark", "response")})


@pytest.fixture(scope="session")
def problems(tmp_path_factory, lcb):
    """The fixture problems loaded through the real loader, by question_id."""
    from eval.livecodebench import load_problems

    path = lcb.write_benchmark(tmp_path_factory.mktemp("lcb"))
    return {p.question_id: p for p in load_problems(path)}
