"""A small suite with every benchmark `eval run` knows (shared by the HF and OpenAI-backend end-to-end tests):
MATH-500 and AIME 2024 (shipped), GPQA-Diamond from ../shared (never committed), GSM8K from the MIT test slice,
and LiveCodeBench from handmade problems in the official code_generation_lite schema."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from eval.livecodebench.problems import encode_private_tests

DATA = Path(__file__).parent / "data"


def _lcb_row(qid: str, date: str, public: list, private: list, func_name: str | None = None) -> dict:
    return {"question_title": qid, "question_content": f"Solve {qid}.", "platform": "leetcode" if func_name else "atcoder",
            "question_id": qid, "contest_id": qid, "contest_date": f"{date}T00:00:00",
            "starter_code": "class Solution:\n    def total(self, nums):\n        " if func_name else "",
            "difficulty": "easy", "public_test_cases": json.dumps(public), "private_test_cases": encode_private_tests(private),
            "metadata": json.dumps({"func_name": func_name} if func_name else {})}


@pytest.fixture(scope="session")
def lcb_suite_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("lcb_suite") / "test5.jsonl"
    rows = [
        _lcb_row("abc900_a", "2024-08-03", [{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}],
                 [{"input": "5 7\n", "output": "12\n", "testtype": "stdin"}]),
        _lcb_row("3999", "2024-12-01", [{"input": "[1, 2, 3]", "output": "6", "testtype": "functional"}],
                 [{"input": "[]", "output": "0", "testtype": "functional"}], func_name="total"),
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="session")
def suite_recipe(lcb_suite_file, shared, tmp_path_factory) -> Callable[..., Path]:
    """Write a recipe running every benchmark: 2 problems x 2 samples each, 8 new tokens."""
    def make(only: tuple[str, ...] | None = None, limit: int = 2, **overrides) -> Path:
        def spec(name: str, path: str | None = None, options: dict | None = None) -> dict:
            return {"name": name, "label": None, "samples": 2, "limit": limit, "offset": 0, "path": path,
                    "prompt_template": None, "options": options or {}, "sampling": {}}

        recipe = {
            "name": "suite",
            "benchmarks": [spec("math500"), spec("aime24"),
                           spec("gpqa_diamond", str(shared / "benchmarks" / "gpqa_diamond.jsonl")),
                           spec("gsm8k", str(DATA / "gsm8k_test_head50.jsonl")),
                           spec("livecodebench", str(lcb_suite_file),
                                {"release": "release_v5", "start_date": "2024-08-01", "end_date": "2025-01-31"})],
            "sampling": {"temperature": 0.6, "top_p": 0.95, "max_new_tokens": 8, "seed": 0},
            "prompt": {"system_prompt": None, "think_prefix": False, "chat_template": None},
            "chunk_problems": 1,
            "grader_timeout_s": 5.0,
            "hf": {"batch_size": 4, "dtype": "float32", "device": "cpu", "attn_implementation": "sdpa"},
            **overrides,
        }
        if only is not None:
            recipe["benchmarks"] = [b for b in recipe["benchmarks"] if b["name"] in only]
        path = tmp_path_factory.mktemp("suite") / "suite.yaml"
        path.write_text(yaml.safe_dump(recipe))
        return path

    return make
