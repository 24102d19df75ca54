"""What every generation backend shares: sampling parameters, prompt settings, the completion record, and
turning a chat into the prompt text a model sees (chat template, optional forced `<think>\\n`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Chat = list[dict[str, str]]


@dataclass
class SamplingParams:
    """Sampling for one run. `seed` makes a run repeatable; backends offset it per chunk and sample."""

    temperature: float = 0.6
    top_p: float = 0.95
    max_new_tokens: int = 32768
    seed: int = 0


@dataclass
class PromptSettings:
    """How problems become chats: an optional system prompt, and the R1 protocol's forced `<think>\\n` start."""

    system_prompt: str | None = None
    think_prefix: bool = True
    chat_template: str | None = None  # a .jinja file replacing the tokenizer's template (hf, vllm)


@dataclass
class Completion:
    """One sampled response. `text` is what gets graded, forced prefix included."""

    text: str
    n_tokens: int | None
    finish_reason: str  # "stop" | "length" | what the server said


THINK_PREFIX = "<think>\n"


def build_chat(user: str, settings: PromptSettings) -> Chat:
    """The chat for one problem: optional system turn, then the user turn."""
    chat: Chat = []
    if settings.system_prompt:
        chat.append({"role": "system", "content": settings.system_prompt})
    chat.append({"role": "user", "content": user})
    return chat


def load_template_override(tokenizer: Any, settings: PromptSettings) -> None:
    """Install `settings.chat_template` on the tokenizer; fail early when the model has no template at all."""
    if settings.chat_template:
        path = Path(settings.chat_template)
        if not path.exists():
            raise FileNotFoundError(f"prompt.chat_template: {path} not found")
        tokenizer.chat_template = path.read_text()
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(
            f"{getattr(tokenizer, 'name_or_path', 'model')}: tokenizer has no chat template; "
            "set prompt.chat_template to a .jinja file"
        )


def render_prompt(tokenizer: Any, chat: Chat, settings: PromptSettings) -> tuple[str, str]:
    """(prompt text, forced response prefix). The prefix is appended to the prompt unless the template
    already ends with it (DeepSeek-R1-Distill's template does), and is always part of the graded response."""
    text = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    if not settings.think_prefix:
        return text, ""
    if not text.endswith(THINK_PREFIX):
        text += THINK_PREFIX
    return text, THINK_PREFIX


class Backend(ABC):
    """One interface for every engine: `complete` returns n Completions per chat, in order."""

    name = "base"

    @abstractmethod
    def complete(self, chats: list[Chat], n: int, params: SamplingParams) -> list[list[Completion]]:
        """n sampled completions per chat."""

    def generate(self, chats: list[Chat], n: int, params: SamplingParams) -> list[list[str]]:
        """n response texts per chat."""
        return [[c.text for c in row] for row in self.complete(chats, n, params)]

    @abstractmethod
    def close(self) -> None:
        """Release the model / connections."""
