"""The pinned template keeps reasoning in every turn, masks exactly the assistant tokens, and matches eval prompts."""

from __future__ import annotations

from pathlib import Path

import pytest
import trl
from transformers import AutoTokenizer

from train.chat_template import TemplateError, check_prompt_parity, check_training_template, load_chat_template
from train.pretokenize import tokenize_messages

TRL_TEMPLATES = Path(trl.__file__).parent / "chat_templates"
CONV = [
    {"role": "system", "content": "Answer in \\boxed{}."},
    {"role": "user", "content": "Natalia sold 48 clips in April and half as many in May. How many in total?"},
    {"role": "assistant", "content": "<think>\n48/2 = 24 in May.\n48+24 = 72.\n</think>\n\nThe answer is \\boxed{72}."},
    {"role": "user", "content": "And if she sold 10 more in June?"},
    {"role": "assistant", "content": "<think>\n72+10 = 82.\n</think>\n\n\\boxed{82}"},
]


@pytest.fixture(scope="module")
def tok(tiny_model):
    return AutoTokenizer.from_pretrained(tiny_model)


def test_template_keeps_reasoning_in_every_turn(tok):
    text = tok.apply_chat_template(CONV, tokenize=False)
    assert text == (
        "<|im_start|>system\nAnswer in \\boxed{}.<|im_end|>\n"
        "<|im_start|>user\nNatalia sold 48 clips in April and half as many in May. How many in total?<|im_end|>\n"
        "<|im_start|>assistant\n<think>\n48/2 = 24 in May.\n48+24 = 72.\n</think>\n\nThe answer is \\boxed{72}.<|im_end|>\n"
        "<|im_start|>user\nAnd if she sold 10 more in June?<|im_end|>\n"
        "<|im_start|>assistant\n<think>\n72+10 = 82.\n</think>\n\n\\boxed{82}<|im_end|>\n"
    )
    # reasoning given as a separate field renders the same way
    split = [dict(m) for m in CONV[:3]]
    split[2] = {
        "role": "assistant",
        "reasoning_content": "48/2 = 24 in May.\n48+24 = 72.",
        "content": "The answer is \\boxed{72}.",
    }
    assert tok.apply_chat_template(split, tokenize=False) == tok.apply_chat_template(CONV[:3], tokenize=False)
    assert tok.apply_chat_template(CONV[:2], tokenize=False, add_generation_prompt=True).endswith(
        "<|im_start|>assistant\n"
    )


def test_assistant_mask_covers_exactly_assistant_tokens(tok):
    template = tok.chat_template
    out = tokenize_messages(tok, template, CONV, "assistant")
    trained = [t for t in out["labels"] if t != -100]
    assert tok.decode(trained) == (
        "<think>\n48/2 = 24 in May.\n48+24 = 72.\n</think>\n\nThe answer is \\boxed{72}.<|im_end|>"
        "<think>\n72+10 = 82.\n</think>\n\n\\boxed{82}<|im_end|>"
    )
    # contiguous spans: each ends with <|im_end|>, so the model learns to stop
    ends = [
        i
        for i, (a, b) in enumerate(zip(out["labels"], out["labels"][1:] + [-100], strict=True))
        if a != -100 and b == -100
    ]
    assert [out["input_ids"][i] for i in ends] == [tok.convert_tokens_to_ids("<|im_end|>")] * 2
    last = tokenize_messages(tok, template, CONV, "completion")
    assert (
        tok.decode([t for t in last["labels"] if t != -100])
        == "<think>\n72+10 = 82.\n</think>\n\n\\boxed{82}<|im_end|>"
    )
    everything = tokenize_messages(tok, template, CONV, "all")
    assert everything["labels"] == everything["input_ids"] == out["input_ids"]
    check_training_template(tok, template, "<|im_end|>")


def test_stock_templates_that_strip_reasoning_or_lack_markers_are_refused(tok):
    # Qwen3's stock template drops <think> from earlier turns: training on it would teach answers without reasoning.
    with pytest.raises(TemplateError, match="not rendered verbatim"):
        check_training_template(tok, (TRL_TEMPLATES / "qwen3.jinja").read_text(), "<|im_end|>", "qwen3.jinja")
    with pytest.raises(TemplateError, match="generation"):
        check_training_template(tok, (TRL_TEMPLATES / "qwen2_5.jinja").read_text(), "<|im_end|>", "qwen2_5.jinja")


def test_training_and_eval_templates_render_the_same_prompt(tok):
    ours = load_chat_template("qwen_think")
    qwen3 = (TRL_TEMPLATES / "qwen3.jinja").read_text()
    check_prompt_parity(tok, ours, qwen3, [CONV[:3], CONV[1:3]])  # single-turn: the same ChatML prompt
    # multi-turn: stock Qwen3 drops the earlier turn's reasoning from the prompt, ours keeps it
    with pytest.raises(TemplateError, match="Two plus three is five"):
        check_prompt_parity(tok, ours, qwen3)
    # Qwen2.5's stock template injects a default system prompt when there is none: a silent train/eval mismatch.
    with pytest.raises(TemplateError, match="You are Qwen"):
        check_prompt_parity(tok, ours, (TRL_TEMPLATES / "qwen2_5.jinja").read_text())
