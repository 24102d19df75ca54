"""LLM judge for pairs in the similarity band: "is the training problem a rephrasing of the test problem?"

The "rephrased sample" check of LMSYS's llm-decontaminator (Yang et al. 2023), in the wording NeMo-Skills uses for
its contamination check: the judge answers True or False. Any OpenAI-compatible endpoint works (vLLM, SGLang,
`transformers serve`, a hosted API) through the openai client.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

PROMPT = (
    "Help me determine if the following two math problems are the same.\n\n"
    "First problem: {test}\n\nSecond problem: {train}\n\n"
    "Disregard the names and minor changes in word order that appear within.\n"
    "If the two problems are very similar and if they produce the same answer, we consider them to be the same "
    "problem.\nRespond only with 'True' if problems are the same and 'False' if they are different."
)


@dataclass
class JudgeConfig:
    """`decontaminate.judge:` in a recipe: where the judge runs and which pairs it sees."""

    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"  # name of the variable holding the key (the key is never in a recipe)
    low: float = 0.95  # pairs scoring in [low, decontaminate.threshold) go to the judge
    timeout_s: float = 60.0
    max_tokens: int = 8


class JudgeError(RuntimeError):
    """The judge endpoint failed or answered something other than True/False."""


class Judge:
    def __init__(self, cfg: JudgeConfig):
        from openai import OpenAI

        self.cfg = cfg
        self.client = OpenAI(base_url=cfg.base_url, api_key=os.environ.get(cfg.api_key_env) or "none",
                             timeout=cfg.timeout_s, max_retries=1)
        self.calls = 0

    def same(self, test: str, train: str) -> bool:
        """True when the judge says `train` is `test` rephrased."""
        import openai

        try:
            resp = self.client.chat.completions.create(
                model=self.cfg.model, temperature=0.0, max_tokens=self.cfg.max_tokens,
                messages=[{"role": "user", "content": PROMPT.format(test=test, train=train)}])
        except openai.OpenAIError as exc:
            raise JudgeError(f"judge {self.cfg.base_url} ({self.cfg.model}): {type(exc).__name__}: {exc}") from exc
        self.calls += 1
        answer = (resp.choices[0].message.content or "").strip().strip(".'\"").lower()
        if answer.startswith("true"):
            return True
        if answer.startswith("false"):
            return False
        raise JudgeError(f"judge {self.cfg.base_url} ({self.cfg.model}): expected True or False, got {answer[:80]!r}")
