"""Adapters from the layouts of public datasets to items.

Every adapter reads *canonical fields* from a record through a mapping (its defaults, overridden per source by the
recipe's `fields:`): problem, solution (a reference solution, becomes the reference response), answer (reference
answer), response (an existing response, for `response: own`), id (the original id), category, test_cases, system.
A field the recipe maps explicitly but a record lacks is a reject naming that field; so is a missing problem.
Adapters return the item's fields, or (field, reason) for a reject.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from data_prep.convert import TO_ROW, ConvertError
from data_prep.reference import gsm8k_final_answer, gsm8k_to_response, solution_to_response
from data_prep.row import CATEGORIES, make_row, row_errors
from eval.grading.extract import last_boxed

CANONICAL = ("problem", "solution", "answer", "response", "id", "category", "test_cases", "system")
Result = dict[str, Any] | tuple[str, str]


class Missing(Exception):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


_MISSING = object()


def lookup(record: dict[str, Any], path: str) -> Any:
    """`a.b.0.c` style lookup; _MISSING when any step is absent."""
    node: Any = record
    for part in path.split("."):
        if isinstance(node, dict):
            node = node.get(part, _MISSING)
        elif isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
        if node is _MISSING:
            return _MISSING
    return node


@dataclass
class View:
    """A record seen through a field mapping: defaults of the format plus the recipe's explicit `fields:`."""

    record: dict[str, Any]
    defaults: dict[str, tuple[str, ...]]
    explicit: dict[str, str] = field(default_factory=dict)

    def get(self, name: str, required: bool = False) -> Any:
        if name in self.explicit:
            key = self.explicit[name]
            if key is None:  # mapped to null: the format's field is deliberately absent
                return None
            value = lookup(self.record, key)
            if value is _MISSING or value is None:
                raise Missing(key, f"mapped field for '{name}' is missing")
            return value
        for key in self.defaults.get(name, ()):
            value = lookup(self.record, key)
            if value is not _MISSING and value is not None and value != "":
                return value
        if required:
            keys = self.defaults.get(name) or (name,)
            raise Missing(keys[0], f"missing or empty {name} text" if name == "problem" else f"missing {name}")
        return None

    def text(self, name: str, required: bool = False) -> str | None:
        value = self.get(name, required)
        if value is None:
            return None
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            key = self.explicit.get(name) or self.defaults[name][0]
            raise Missing(key, f"expected text for '{name}', got {type(value).__name__}")
        value = str(value)
        if required and not value.strip():
            key = self.explicit.get(name) or self.defaults[name][0]
            raise Missing(key, f"missing or empty {name} text")
        return value if value.strip() else None


def _answer_of(solution: str | None, view: View) -> str | None:
    answer = view.text("answer")
    if answer is None and solution is not None:
        answer, _ = last_boxed(solution)
    return answer.strip() if isinstance(answer, str) and answer.strip() else None


def _base(view: View, default_category: str) -> dict[str, Any]:
    problem = view.text("problem", required=True)
    category = view.text("category") or default_category
    if category not in CATEGORIES:
        key = view.explicit.get("category") or "category"
        raise Missing(key, f"category must be one of {list(CATEGORIES)}, got {category!r}")
    item: dict[str, Any] = {"problem": problem, "category": category}
    oid = view.get("id")
    if oid is not None:
        item["original_id"] = str(oid)
    return item


def _own_response(item: dict[str, Any], view: View, source: str, transform: Callable[[str], str] | None = None
                  ) -> None:
    """A ready row from a mapped `response` field (for `response: own`)."""
    response = view.text("response")
    if response is None:
        return
    if transform is not None:
        response = transform(response)
    item["row"] = make_row(problem=item["problem"], response=response, source=source, category=item["category"],
                           reference_answer=item.get("reference_answer"), test_cases=item.get("test_cases"),
                           system=view.text("system"))


def gsm8k(view: View, source: str) -> Result:
    item = _base(view, "math")
    solution = view.text("solution", required=True)
    answer = gsm8k_final_answer(solution)
    if answer is None:
        return view.explicit.get("solution", "answer"), "no '#### <answer>' line in the reference solution"
    item.update(reference_answer=answer, reference_response=gsm8k_to_response(solution))
    _own_response(item, view, source)
    return item


def solution_format(view: View, source: str) -> Result:
    """MATH, s1K, NuminaMath-CoT, and any {problem, solution with a boxed answer} layout."""
    item = _base(view, "math")
    solution = view.text("solution")
    item["reference_answer"] = _answer_of(solution, view)
    if solution is not None:
        response, _ = solution_to_response(solution)
        item["reference_response"] = response
    _own_response(item, view, source)
    return item


def _seed(fmt: str) -> Callable[[View, str], Result]:
    def read(view: View, source: str) -> Result:
        record = view.record
        if fmt == "openmath" and view.explicit:
            # OpenMathInstruct-1 shaped records under other names (e.g. NeMo-Skills outputs): rename, then convert.
            record = dict(record)
            for name, key in (("problem", "question"), ("response", "generated_solution"),
                              ("answer", "expected_answer")):
                if name in view.explicit:
                    record[key] = view.get(name, required=True)
        try:
            row = TO_ROW[fmt](record)
        except ConvertError as exc:
            fld, _, reason = str(exc).partition(": ")
            return fld, reason
        item = {"problem": row["problem"], "category": row["category"],
                "reference_answer": row.get("reference_answer"), "row": row}
        if row.get("test_cases") is not None:
            item["test_cases"] = row["test_cases"]
        oid = view.get("id")
        if oid is not None:
            item["original_id"] = str(oid)
        return item
    return read


def openmath2(view: View, source: str) -> Result:
    """OpenMathInstruct-2: {problem, generated_solution, expected_answer, problem_source}."""
    item = _base(view, "math")
    solution = view.text("solution")
    item["reference_answer"] = _answer_of(solution, view)
    if solution is not None:
        item["reference_response"] = solution_to_response(solution)[0]
    _own_response(item, view, source, transform=lambda s: solution_to_response(s)[0])
    return item


_THOUGHT = re.compile(r"<\|begin_of_thought\|>(.*?)<\|end_of_thought\|>\s*(?:<\|begin_of_solution\|>(.*?)"
                      r"(?:<\|end_of_solution\|>|$))?", re.S)


def thoughts_to_response(text: str) -> str:
    """OpenThoughts/Bespoke `<|begin_of_thought|>…<|end_of_solution|>` markup → `<think>…</think>` answer."""
    m = _THOUGHT.search(text)
    if not m:
        return text
    think, answer = m.group(1).strip(), (m.group(2) or "").strip()
    return f"<think>\n{think}\n</think>\n\n{answer}"


def openthoughts(view: View, source: str) -> Result:
    """OpenThoughts-114k: {system, conversations: [{from: user, value}, {from: assistant, value}]}."""
    conv = view.get("conversations")
    if "problem" not in view.explicit:
        if not isinstance(conv, list) or not conv:
            return "conversations", "expected a list of {from, value} turns"
        users = [t for t in conv if isinstance(t, dict) and t.get("from") in ("user", "human")]
        bots = [t for t in conv if isinstance(t, dict) and t.get("from") in ("assistant", "gpt")]
        if not users or not isinstance(users[0].get("value"), str) or not users[0]["value"].strip():
            return "conversations", "no user turn with text"
        view = View({**view.record, "_problem": users[0]["value"],
                     "_response": bots[-1].get("value") if bots else None}, view.defaults, view.explicit)
    response = view.text("response")
    answer = last_boxed(response)[0] if response else None
    item = _base(view, "math" if answer is not None else "other")
    item["reference_answer"] = view.text("answer") or answer
    _own_response(item, view, source, transform=thoughts_to_response)
    if "row" in item:
        item["reference_response"] = item["row"]["messages"][-1]["content"]
    return item


def _tests(value: Any, key: str) -> list:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise Missing(key, f"test cases are not valid JSON ({exc.msg})") from None
    if isinstance(value, dict) and "inputs" in value:  # APPS/TACO {"inputs": [...], "outputs": [...]}
        value = [{"input": i, "output": o, "testtype": "stdin"} for i, o in zip(value["inputs"], value["outputs"])]
    if not isinstance(value, list):
        raise Missing(key, f"expected a list of test cases, got {type(value).__name__}")
    return value


def livecodebench(view: View, source: str) -> Result:
    """LiveCodeBench-style code problems: question_content, question_id, starter_code, public/private tests."""
    item = _base(view, "code")
    tests: list = []
    if "test_cases" in view.explicit:
        value = view.get("test_cases")
        tests = [] if value is None else _tests(value, view.explicit["test_cases"])
    else:
        for key in ("public_test_cases", "private_test_cases", "test_cases", "input_output"):
            value = lookup(view.record, key)
            if value is not _MISSING and value not in (None, "", []):
                tests += _tests(value, key)
    if not tests:
        return view.explicit.get("test_cases", "public_test_cases"), "no test cases (a code problem needs them)"
    starter = lookup(view.record, "starter_code")
    if isinstance(starter, str) and starter.strip():
        item["problem"] += f"\n\nStart from this code:\n```python\n{starter.rstrip()}\n```"
    item.update(test_cases=tests, reference_answer=None)
    _own_response(item, view, source)
    return item


def corpus_row(view: View, source: str) -> Result:
    record = view.record
    errors = row_errors(record)
    if errors:
        fld, _, reason = errors[0].partition(": ")
        return fld, reason
    item = {"problem": record["problem"], "category": record["category"],
            "reference_answer": record.get("reference_answer"), "row": record, "original_id": record["id"]}
    if record.get("test_cases") is not None:
        item["test_cases"] = record["test_cases"]
    return item


def generic(view: View, source: str) -> Result:
    """Any layout, described entirely by the recipe's `fields:` mapping."""
    item = _base(view, "math")
    solution = view.text("solution")
    item["reference_answer"] = _answer_of(solution, view)
    if solution is not None:
        item["reference_response"] = solution_to_response(solution)[0]
    tests = view.get("test_cases")
    if tests is not None:
        item["test_cases"] = _tests(tests, view.explicit.get("test_cases", "test_cases"))
    _own_response(item, view, source)
    return item


@dataclass
class Format:
    read: Callable[[View, str], Result]
    defaults: dict[str, tuple[str, ...]]
    has_response: bool  # can serve `response: own`
    note: str = ""


FORMATS: dict[str, Format] = {
    "gsm8k": Format(gsm8k, {"problem": ("question",), "solution": ("answer",)}, False, "GSM8K {question, answer}"),
    "math": Format(solution_format, {"problem": ("problem",), "solution": ("solution",), "answer": ("answer",),
                                     "id": ("unique_id", "id")}, False, "MATH {problem, solution, level, type}"),
    "s1k": Format(solution_format, {"problem": ("problem", "question"), "solution": ("solution",),
                                    "answer": ("answer",), "id": ("id",)}, False, "s1K {question, solution, ...}"),
    "numina": Format(solution_format, {"problem": ("problem",), "solution": ("solution",), "id": ("id",)}, False,
                     "NuminaMath-CoT {problem, solution, messages, source}"),
    "am": Format(_seed("am"), {"problem": ("messages.0.content",), "id": ("id",)}, True,
                 "AM-DeepSeek-R1-Distilled {messages: [{role, content, info}]}"),
    "openmath": Format(_seed("openmath"), {"problem": ("question",), "response": ("generated_solution",),
                                           "answer": ("expected_answer",), "id": ("id",)}, True,
                       "OpenMathInstruct-1 {question, generated_solution, expected_answer, is_correct, ...}"),
    "openmath2": Format(openmath2, {"problem": ("problem",), "solution": ("generated_solution",),
                                    "response": ("generated_solution",), "answer": ("expected_answer",),
                                    "id": ("id",)}, True,
                        "OpenMathInstruct-2 {problem, generated_solution, expected_answer, problem_source}"),
    "openthoughts": Format(openthoughts, {"problem": ("_problem",), "response": ("_response",),
                                         "system": ("system",), "conversations": ("conversations",),
                                         "id": ("id",), "answer": ()}, True,
                           "OpenThoughts-114k {system, conversations: [{from, value}]}"),
    "livecodebench": Format(livecodebench, {"problem": ("question_content", "problem"),
                                            "id": ("question_id", "id"), "response": ()}, False,
                            "LiveCodeBench {question_content, question_id, starter_code, public_test_cases, "
                            "private_test_cases}"),
    "row": Format(corpus_row, {"problem": ("problem",)}, True, "distillery corpus rows"),
    "fields": Format(generic, {}, False, "any layout, mapped with fields: {problem: ..., solution: ..., ...}"),
}


def adapt(fmt: str, record: dict[str, Any], fields: dict[str, str], source: str) -> Result:
    """Item fields for one record of format `fmt`, or (field, reason)."""
    spec = FORMATS[fmt]
    try:
        return spec.read(View(record, spec.defaults, fields), source)
    except Missing as exc:
        return exc.field, exc.reason
