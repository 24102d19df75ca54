"""Pinned chat templates: load them by name or path, and check they keep reasoning and mark assistant tokens."""

from __future__ import annotations

from pathlib import Path

from train.errors import UserError

TEMPLATE_DIR = Path(__file__).resolve().parent / "chat_templates"
END_OF_TURN = "<|im_end|>"


class TemplateError(UserError, ValueError):
    """A chat template that would train the wrong thing; the message names the template and the failed check."""


def template_path(name_or_path: str | Path) -> Path:
    """Resolve a template given as a shipped name (`qwen_think`) or as a path to a .jinja file."""
    p = Path(name_or_path)
    if p.suffix == ".jinja" and p.exists():
        return p
    shipped = TEMPLATE_DIR / f"{name_or_path}.jinja"
    if shipped.exists():
        return shipped
    known = sorted(t.stem for t in TEMPLATE_DIR.glob("*.jinja"))
    raise TemplateError(
        f"chat_template_path {str(name_or_path)!r}: no such .jinja file and not one of the shipped names {known}"
    )


def load_chat_template(name_or_path: str | Path) -> str:
    """Text of a chat template given by shipped name or path."""
    return template_path(name_or_path).read_text()


_PROBE = [
    {"role": "system", "content": "You are a careful reasoner."},
    {"role": "user", "content": "What is 2 + 3?"},
    {"role": "assistant", "content": "<think>\nTwo plus three is five.\n</think>\n\nThe answer is \\boxed{5}."},
    {"role": "user", "content": "And 4 + 4?"},
    {"role": "assistant", "content": "<think>\nFour plus four is eight.\n</think>\n\nThe answer is \\boxed{8}."},
]


# Prompt shapes the parity check renders: with and without a system turn, single and multi-turn.
PARITY_PROBES = [_PROBE[1:3], _PROBE[:3], _PROBE[1:], _PROBE]


def resolve_template(tokenizer, name_or_path: str | Path | None) -> str:
    """Template text from a shipped name, a .jinja path, or a tokenizer folder; the tokenizer's own when None."""
    if name_or_path is None:
        if not tokenizer.chat_template:
            raise TemplateError("the tokenizer has no chat template and the recipe pins none (set chat_template_path)")
        return tokenizer.chat_template
    p = Path(name_or_path)
    if p.is_dir():
        from transformers import AutoTokenizer

        tmpl = AutoTokenizer.from_pretrained(p).chat_template
        if not tmpl:
            raise TemplateError(f"{p}: tokenizer folder has no chat template")
        return tmpl
    return load_chat_template(name_or_path)


def check_training_template(tokenizer, template: str, end_of_turn: str, where: str = "chat template") -> None:
    """Fail fast unless the template keeps every turn's reasoning, marks assistant tokens and trains end-of-turn."""
    text = tokenizer.apply_chat_template(_PROBE, chat_template=template, tokenize=False)
    for m in _PROBE:
        if m["role"] == "assistant" and m["content"] not in text:
            raise TemplateError(
                f"{where}: assistant turn {m['content']!r} is not rendered verbatim (reasoning stripped?)"
            )
    if "{% generation %}" not in template.replace("{%-", "{%").replace("-%}", "%}"):
        raise TemplateError(f"{where}: no {{% generation %}} markers, so assistant-only loss cannot find the targets")
    out = tokenizer.apply_chat_template(
        _PROBE, chat_template=template, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids, mask = out["input_ids"], out["assistant_masks"]
    trained = tokenizer.decode([i for i, m in zip(ids, mask, strict=True) if m], skip_special_tokens=False)
    for m in _PROBE:
        if m["role"] == "assistant" and m["content"] + end_of_turn not in trained:
            raise TemplateError(
                f"{where}: assistant mask covers {trained!r}, which lacks {m['content'] + end_of_turn!r}: each "
                f"assistant turn and its {end_of_turn} must be trained (so the model learns to stop)"
            )
        if m["role"] != "assistant" and m["content"] in trained:
            raise TemplateError(f"{where}: assistant mask also covers the {m['role']} turn {m['content']!r}")


def prompt_text(tokenizer, template: str, messages: list[dict]) -> str:
    """The generation prompt for the last assistant turn of `messages`, as a template renders it."""
    cut = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    return tokenizer.apply_chat_template(
        messages[:cut], chat_template=template, tokenize=False, add_generation_prompt=True
    )


def check_prompt_parity(
    tokenizer, train_template: str, eval_template: str, conversations: list[list[dict]] | None = None
) -> None:
    """Raise unless training and evaluation templates render the same prompt for each conversation."""
    for n, messages in enumerate(conversations or PARITY_PROBES):
        a = prompt_text(tokenizer, train_template, messages)
        b = prompt_text(tokenizer, eval_template, messages)
        if a != b:
            i = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
            raise TemplateError(
                f"training and evaluation templates render different prompts for example {n}: first difference at "
                f"character {i}: train {a[max(0, i - 20) : i + 40]!r} vs eval {b[max(0, i - 20) : i + 40]!r}"
            )
