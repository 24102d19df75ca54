"""The code-interpreter loop of OpenMathInstruct-1 (arXiv 2402.10176), against any OpenAI-compatible server.

Generation stops at the end of each `<llm-code>` block (stop sequence `</llm-code>`); the block runs in a sandboxed
`eval.sandbox.Session` (variables survive from block to block), its output, capped, is appended inside
`<llm-code-output>`, and generation continues from prompt + partial solution: through the completions API
(vLLM, SGLang, `transformers serve`) or, with `api: chat_continue`, a chat request whose last assistant turn is
continued (`continue_final_message`, vLLM/SGLang; `transformers serve` does not support it). After an error or
timeout the solution stops there and `error_message` says why.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from eval.grading.extract import last_boxed

if TYPE_CHECKING:
    from data_prep.teacher import AsyncTeacher, OpenMathConfig

CODE_START, CODE_END = "<llm-code>", "</llm-code>"
OUTPUT_START, OUTPUT_END = "<llm-code-output>", "</llm-code-output>"
CAP_NOTE = "\n<output cut>"


async def _continue(client: AsyncTeacher, om: OpenMathConfig, prompt: str, partial: str, seed: int,
                    stop: list[str] | None, max_tokens: int) -> dict[str, Any]:
    if om.api == "chat_continue":
        msgs = [{"role": "user", "content": prompt}, {"role": "assistant", "content": partial}]
        r = await client.chat(msgs, seed, stop=stop, max_tokens=max_tokens,
                              extra_body={"continue_final_message": True, "add_generation_prompt": False})
        return r
    return await client.complete(prompt + partial, seed, stop=stop, max_tokens=max_tokens)


def _open_block(text: str) -> int:
    """Index of an `<llm-code>` that has no closing tag yet, or -1."""
    i = text.rfind(CODE_START)
    return i if i != -1 and text.find(CODE_END, i) == -1 else -1


def cell_output(result: Any, cap: int) -> tuple[str, str | None]:
    """(text put inside <llm-code-output>, error_message or None) for one executed block."""
    if result.status == "timeout":
        return "timeout", "timeout"
    if result.ok:
        out = result.stdout.rstrip("\n")
        error = None
    else:
        lines = [ln for ln in (result.stderr or "").splitlines() if ln.strip()]
        out = error = lines[-1] if lines else result.status
    if len(out) > cap:
        out = out[:cap] + CAP_NOTE
    return out, error


async def solve(client: AsyncTeacher, cfg: Any, prompt: str, seed: int, expected_answer: str | None
                ) -> dict[str, Any]:
    """One solution: {generated_solution, predicted_answer, error_message, is_correct, code_executions, ...}."""
    from eval.sandbox import Session

    om = cfg.openmath
    text, executions, error = "", 0, None
    prompt_tokens = completion_tokens = requests = retries = 0
    finish = "stop"
    session = Session(cell_timeout=om.code_timeout_s, max_cell_output=max(om.max_output_chars * 4, 4096))
    try:
        while True:
            left = cfg.max_tokens - completion_tokens
            if left <= 0:
                finish = "length"
                break
            r = await _continue(client, om, prompt, text, seed + requests, [CODE_END], left)
            requests += 1
            prompt_tokens += r["prompt_tokens"]
            completion_tokens += r["completion_tokens"]
            retries += r["retries"]
            finish = r["finish_reason"] or "stop"
            text += r["text"]
            if finish != "stop":
                break  # max_tokens
            start = _open_block(text)
            if start != -1:
                text += CODE_END  # servers that drop the stop string (OpenAI API, vLLM)
            elif text.rstrip().endswith(CODE_END):
                text = text.rstrip()  # servers that keep it (transformers serve)
                start = text.rfind(CODE_START)
            else:
                break  # the solution ended without a new code block
            if executions >= om.max_code_executions:
                error = f"max_code_executions={om.max_code_executions} reached"
                break
            code = text[start + len(CODE_START):-len(CODE_END)]
            executions += 1
            result = await asyncio.to_thread(session.run_cell, code.strip("\n"), om.code_timeout_s)
            out, error = cell_output(result, om.max_output_chars)
            text += f"\n{OUTPUT_START}\n{out}\n{OUTPUT_END}\n"
            if error is not None:
                break
    finally:
        await asyncio.to_thread(session.close)
    predicted, _ = last_boxed(text)
    is_correct = None
    if expected_answer is not None:
        if predicted is None:
            is_correct = False
        else:
            from eval.grading.math import compare

            is_correct, _ = await asyncio.to_thread(compare, str(expected_answer), predicted)
    return {"generated_solution": text, "predicted_answer": predicted, "error_message": error,
            "is_correct": is_correct, "code_executions": executions, "finish_reason": finish,
            "requests": requests, "retries": retries, "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}


async def mask_reference(client: AsyncTeacher, cfg: Any, prompt: str, seed: int) -> dict[str, Any]:
    """Pass 1 of masked_reference_solution: the teacher's rewrite of the reference with intermediate results
    replaced by letters; the completion ends at the first blank-line-separated 'Question:' it would start."""
    r = await client.complete(prompt, seed, stop=["\n\n\n", "Question:"], max_tokens=cfg.openmath.mask_max_tokens)
    text = r["text"].split("\n\n\n")[0].split("Question:")[0].strip()
    return {"masked_reference_solution": text, "finish_reason": r["finish_reason"], "retries": r["retries"],
            "prompt_tokens": r["prompt_tokens"], "completion_tokens": r["completion_tokens"]}
