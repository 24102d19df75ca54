"""OpenMathInstruct-1 code-interpreter mode: the mechanics against a scripted endpoint (a test double: no model
that runs here writes `<llm-code>` blocks), and the protocol against a real `transformers serve`."""

from __future__ import annotations

import json

import pytest

from data_prep.convert import OPENMATH_KEYS, row_to_openmath
from data_prep.openmath import load_prompt
from data_prep.respond import JOURNAL, RespondContext, respond
from data_prep.teacher import OpenMathConfig, TeacherConfig

SCRIPTS = {
    "ok": ["Let me compute.\n<llm-code>\nx = 6 * 7\nprint(x)\n</llm-code>",
           "Now add one, reusing x.\n<llm-code>\nx + 1\n</llm-code>",
           "The answer is \\boxed{43}."],
    "error": ["<llm-code>\nprint(undefined_name)\n</llm-code>", "never asked"],
    "timeout": ["<llm-code>\nwhile True:\n    pass\n</llm-code>", "never asked"],
    "cap": ["<llm-code>\nprint(1)\n</llm-code>"] * 5,
    "big": ["<llm-code>\nprint('y' * 5000)\n</llm-code>", "So \\boxed{5000}."],
}
MASK = "First M = 6 * 7, then add one."


def script(kind: str, body: dict) -> tuple[str, str]:
    prompt = body["prompt"] if kind == "completions" else "".join(m["content"] for m in body["messages"])
    if prompt.endswith("Masked solution:\n"):
        return MASK + "\n\n\nQuestion:\nsomething the model runs on with", "stop"
    question, _, partial = prompt.rpartition("Question:\n")[2].partition("My solution:\n")
    if "Reference solution" in question and MASK not in question:
        return "the masked reference is missing from the prompt", "stop"
    name = question.split()[0]
    step = partial.count("<llm-code-output>")
    return SCRIPTS[name][step], "stop"


def _items(names: list[str]) -> list[dict]:
    return [{"item_id": n, "problem": f"{n} problem", "source": "gsm8k", "category": "math",
             "reference_answer": "43", "reference_response": "<think>\n6 * 7 = 42, 42 + 1 = 43\n</think>\n\n43",
             "origin": {"file": "mem.jsonl", "line": i + 1}, "response_mode": "teacher"}
            for i, n in enumerate(names)]


def _cfg(url: str, **om) -> TeacherConfig:
    return TeacherConfig(base_url=url, mode="openmath_code", max_tokens=512, samples=1, concurrency=2,
                         openmath=OpenMathConfig(**{"max_code_executions": 2, "max_output_chars": 100,
                                                    "code_timeout_s": 1.0, **om}))


@pytest.mark.parametrize("keep_stop", [False, True], ids=["stop-dropped", "stop-kept"])
def test_openmath_mechanics_against_a_scripted_endpoint(tmp_path, doubles, keep_stop):
    with doubles.ScriptedEndpoint(script, keep_stop=keep_stop) as ep:
        cfg = _cfg(ep.url)
        with RespondContext(cfg, tmp_path) as ctx:
            rows, rejects = respond(_items(list(SCRIPTS)), cfg, ctx)
            asked = len(ep.requests)
            assert respond(_items(list(SCRIPTS)), cfg, ctx)[0] == rows and len(ep.requests) == asked  # resumed
    assert not rejects
    assert all(r["stop"] == ["</llm-code>"] and r["prompt"].startswith("Here are some examples") for r in ep.requests)
    by = {r["extra"]["item_id"]: row_to_openmath(r) for r in rows}
    assert set(by["ok"]) == set(OPENMATH_KEYS)
    ok = by["ok"]
    assert ok["generated_solution"] == (
        "Let me compute.\n<llm-code>\nx = 6 * 7\nprint(x)\n</llm-code>\n<llm-code-output>\n42\n</llm-code-output>\n"
        "Now add one, reusing x.\n<llm-code>\nx + 1\n</llm-code>\n<llm-code-output>\n43\n</llm-code-output>\n"
        "The answer is \\boxed{43}.")
    assert (ok["predicted_answer"], ok["is_correct"], ok["error_message"]) == ("43", True, None)
    assert ok["generation_type"] == "without_reference_solution" and ok["expected_answer"] == "43"
    err = by["error"]
    assert err["error_message"] == "NameError: name 'undefined_name' is not defined" and err["is_correct"] is False
    assert err["generated_solution"].endswith("<llm-code-output>\nNameError: name 'undefined_name' is not defined\n"
                                              "</llm-code-output>\n")
    assert by["timeout"]["error_message"] == "timeout"
    assert by["cap"]["error_message"] == "max_code_executions=2 reached"
    assert by["cap"]["generated_solution"].count("<llm-code-output>") == 2
    assert "\n" + "y" * 100 + "\n<output cut>\n</llm-code-output>" in by["big"]["generated_solution"]
    assert by["big"]["is_correct"] is False  # 5000 against the expected 43
    prompts = [r["prompt"] for r in ep.requests if r["prompt"].rpartition("Question:\n")[2].startswith("error")]
    assert len(prompts) == 1  # generation stopped after the error
    recs = {r["item_id"]: r for r in map(json.loads, (tmp_path / JOURNAL).read_text().splitlines())}
    assert recs["ok"]["code_executions"] == 2 and recs["ok"]["requests"] == 3


def test_masked_reference_solution_two_passes(tmp_path, doubles):
    with doubles.ScriptedEndpoint(script) as ep:
        cfg = _cfg(ep.url, generation_type="masked_reference_solution")
        with RespondContext(cfg, tmp_path) as ctx:
            rows, rejects = respond(_items(["ok"]), cfg, ctx)
    assert not rejects
    mask_prompt = ep.requests[0]["prompt"]
    assert mask_prompt.endswith("Solution:\n6 * 7 = 42, 42 + 1 = 43\n\nMasked solution:\n")
    assert load_prompt("gsm8k").examples[0]["masked_reference_solution"] in mask_prompt
    solution_prompt = ep.requests[1]["prompt"]
    assert f"Reference solution (do not copy it):\n{MASK}\n\nMy solution:\n" in solution_prompt
    om = row_to_openmath(rows[0])
    assert om["generation_type"] == "masked_reference_solution" and om["is_correct"] is True


def test_openmath_protocol_with_a_real_server(tmp_path, served_tiny, tiny_model):
    # the tiny model writes random tokens: this checks the completions protocol (prompt, stop, usage), not maths
    cfg = TeacherConfig(base_url=served_tiny, model=str(tiny_model), mode="openmath_code", max_tokens=12,
                        samples=2, concurrency=2, temperature=1.0)
    with RespondContext(cfg, tmp_path) as ctx:
        rows, rejects = respond(_items(["ok", "error"]), cfg, ctx)
        stats = ctx.stats()
    recs = [json.loads(x) for x in (tmp_path / JOURNAL).read_text().splitlines()]
    assert len(recs) == 4 and all("error" not in r for r in recs), recs
    assert all(r["requests"] >= 1 and r["completion_tokens"] > 0 and r["prompt_tokens"] > 500 for r in recs)
    assert len(rows) + len(rejects) == 4
    assert stats["answered"] == 4 and stats["prompt_tokens"] == sum(r["prompt_tokens"] for r in recs)
    for row in rows:
        assert row_to_openmath(row)["generated_solution"] == row["messages"][-1]["content"]


def test_chat_continue_sends_the_partial_solution_as_the_assistant_turn(tmp_path, doubles):
    with doubles.ScriptedEndpoint(script) as ep:
        cfg = _cfg(ep.url, api="chat_continue")
        with RespondContext(cfg, tmp_path) as ctx:
            rows, _ = respond(_items(["ok"]), cfg, ctx)
    assert row_to_openmath(rows[0])["is_correct"] is True and len(ep.requests) == 3
    last = ep.requests[-1]
    assert last["continue_final_message"] is True and last["add_generation_prompt"] is False
    assert [m["role"] for m in last["messages"]] == ["user", "assistant"]
    assert last["messages"][1]["content"].endswith("<llm-code-output>\n43\n</llm-code-output>\n")
