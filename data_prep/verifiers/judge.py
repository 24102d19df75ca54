"""LLM-judge second opinion for math rows the grader rejects or cannot parse (as AM-DeepSeek-R1-Distilled did).

Any OpenAI-compatible endpoint (DeepSeek API, vLLM, SGLang, `transformers serve`) through the official `openai`
client; requests run `concurrency` at a time per batch, the client retries 429/5xx/connection errors with backoff
(`max_retries`) and each request has a deadline (`timeout_s`). The judge sees the problem, the reference answer
and the response's final part (after `</think>`) and must end its reply with `VERDICT: EQUIVALENT` or
`VERDICT: DIFFERENT`; any other reply leaves the grader's verdict standing.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from eval.grading.extract import final_part

PROMPT = """You check whether a student's final answer to a math problem is equivalent to the reference answer.
Judge only the final answer (ignore the method); equivalent forms (fractions vs decimals, reordered terms, units
written out, an equation whose value side matches) count as equivalent.

Problem:
{problem}

Reference answer: {reference}

Student's final part:
{answer}

Reply with one short sentence of justification, then a last line that is exactly `VERDICT: EQUIVALENT` or
`VERDICT: DIFFERENT`."""
_VERDICT = re.compile(r"VERDICT:\s*(EQUIVALENT|DIFFERENT)\s*$", re.IGNORECASE)
MAX_ANSWER_CHARS = 4000


@dataclass
class JudgeConfig:
    """Recipe section `verify.judge`: the endpoint and model that give the second opinion."""

    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"  # name of the environment variable holding the key ("EMPTY" if unset)
    timeout_s: float = 60.0  # per request
    max_retries: int = 3  # the openai client's retries with backoff (429, 5xx, dropped connections)
    concurrency: int = 8  # requests in flight per batch
    max_tokens: int = 256
    temperature: float = 0.0


@dataclass
class JudgeVerdict:
    equivalent: bool | None  # None: no usable reply (error or unparseable)
    reason: str


class Judge:
    """One client for the build; `judge_many` asks about a batch of (problem, reference, response) triples."""

    def __init__(self, cfg: JudgeConfig):
        from openai import OpenAI

        self.cfg = cfg
        self.client = OpenAI(base_url=cfg.base_url, api_key=os.environ.get(cfg.api_key_env) or "EMPTY",
                             timeout=cfg.timeout_s, max_retries=cfg.max_retries)
        self.requests = 0
        self.failures = 0

    def judge(self, problem: str, reference: str, response: str) -> JudgeVerdict:
        text, _ = final_part(response)
        answer = (text or "")[-MAX_ANSWER_CHARS:]
        self.requests += 1
        try:
            reply = self.client.chat.completions.create(
                model=self.cfg.model, max_tokens=self.cfg.max_tokens, temperature=self.cfg.temperature,
                messages=[{"role": "user", "content": PROMPT.format(problem=problem, reference=reference,
                                                                   answer=answer)}])
            content = reply.choices[0].message.content or ""
        except Exception as exc:  # noqa: BLE001 - after the client's retries, any failure leaves the grader's verdict
            self.failures += 1
            return JudgeVerdict(None, f"judge unavailable: {type(exc).__name__}: {str(exc)[:120]}")
        match = _VERDICT.search(content.strip())
        if match is None:
            self.failures += 1
            return JudgeVerdict(None, f"judge reply has no verdict line: {content.strip()[-80:]!r}")
        return JudgeVerdict(match.group(1).upper() == "EQUIVALENT", f"judge ({self.cfg.model}): {match.group(1).lower()}")

    def judge_many(self, items: list[tuple[str, str, str]]) -> list[JudgeVerdict]:
        if not items:
            return []
        with ThreadPoolExecutor(max_workers=max(1, self.cfg.concurrency)) as threads:
            return list(threads.map(lambda it: self.judge(*it), items))

    def close(self) -> None:
        self.client.close()
