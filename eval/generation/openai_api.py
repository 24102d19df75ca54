"""`openai` backend: any OpenAI-compatible chat server (vLLM, SGLang, `transformers serve`, DeepSeek API).

One request per sample by default, because some servers (`transformers serve`) ignore `n`; requests run
concurrently from a thread pool.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from eval.generation.base import THINK_PREFIX, Backend, Chat, Completion, PromptSettings, SamplingParams

log = logging.getLogger(__name__)


@dataclass
class OpenAIOptions:
    """Server address and request policy."""

    base_url: str = "http://127.0.0.1:8000/v1"
    api_key_env: str = "OPENAI_API_KEY"  # the variable holding the key; "EMPTY" when unset (local servers)
    concurrency: int = 8
    timeout_s: float = 3600.0
    max_retries: int = 3
    use_n: bool = False  # ask for n samples in one request (only for servers that honour `n`)
    # Force the `<think>\n` start by continuing a partial assistant turn (vLLM / SGLang extension).
    continue_final_message: bool = False


class OpenAIBackend(Backend):
    """Chat completions against a running server; the model name is sent as given."""

    name = "openai"

    def __init__(self, model: str, options: OpenAIOptions, prompt: PromptSettings) -> None:
        from openai import OpenAI

        self.model, self.options, self.prompt = model, options, prompt
        self.client = OpenAI(
            base_url=options.base_url,
            api_key=os.environ.get(options.api_key_env) or "EMPTY",
            timeout=options.timeout_s,
            max_retries=options.max_retries,
        )
        self.prefix = THINK_PREFIX if prompt.think_prefix and options.continue_final_message else ""
        if prompt.think_prefix and not options.continue_final_message:
            log.warning("prompt.think_prefix is set but openai.continue_final_message is false: the server's own "
                        "template decides how the response starts")

    def _request(self, chat: Chat, n: int, params: SamplingParams, seed: int) -> list[Completion]:
        messages = list(chat)
        extra: dict = {}
        if self.prefix:
            messages.append({"role": "assistant", "content": self.prefix})
            extra = {"continue_final_message": True, "add_generation_prompt": False}
        resp = self.client.chat.completions.create(
            model=self.model,
            messages=messages,
            n=n,
            temperature=params.temperature,
            top_p=params.top_p,
            max_tokens=params.max_new_tokens,
            seed=seed,
            extra_body=extra or None,
        )
        per_choice = None
        if resp.usage is not None and resp.usage.completion_tokens is not None:
            per_choice = resp.usage.completion_tokens // max(1, len(resp.choices))
        out = []
        for choice in resp.choices:
            content = choice.message.content or ""
            extra_fields = choice.message.model_extra or {}
            # Servers with a reasoning parser (DeepSeek API, vLLM --reasoning-parser) split the thinking off.
            reasoning = extra_fields.get("reasoning_content") or extra_fields.get("reasoning")
            text = f"<think>\n{reasoning}\n</think>\n\n{content}" if reasoning else self.prefix + content
            out.append(Completion(text, per_choice, choice.finish_reason or "stop"))
        return out

    def complete(self, chats: list[Chat], n: int, params: SamplingParams) -> list[list[Completion]]:
        if self.options.use_n:
            jobs = [(i, 0, n) for i in range(len(chats))]
        else:
            jobs = [(i, j, 1) for i in range(len(chats)) for j in range(n)]
        out: list[list[Completion]] = [[] for _ in chats]
        with ThreadPoolExecutor(max_workers=max(1, self.options.concurrency)) as pool:
            results = pool.map(lambda job: self._request(chats[job[0]], job[2], params, params.seed + job[1]), jobs)
            for (i, _, _), completions in zip(jobs, results, strict=True):
                out[i].extend(completions)
        for i, row in enumerate(out):
            if len(row) != n:
                raise RuntimeError(f"server returned {len(row)} completions for prompt {i}, expected {n}")
        return out

    def close(self) -> None:
        self.client.close()
