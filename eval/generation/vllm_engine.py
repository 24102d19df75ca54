"""`vllm` backend: in-process vLLM (`vllm.LLM`) for GPU runs; imported only when chosen.

Written against vLLM's stable offline API (`LLM(...)`, `LLM.generate(prompts, SamplingParams)`,
`RequestOutput.outputs[*].text/token_ids/finish_reason`). It cannot run on the CPU-only development and CI
machines (vLLM needs CUDA there), so it is exercised only on GPU hosts.
"""

from __future__ import annotations

from dataclasses import dataclass

from eval.generation.base import (
    Backend,
    Chat,
    Completion,
    PromptSettings,
    SamplingParams,
    load_template_override,
    render_prompt,
)


@dataclass
class VLLMOptions:
    """Engine settings passed to `vllm.LLM`."""

    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    max_model_len: int | None = None  # default: the model's own limit
    dtype: str = "auto"
    enforce_eager: bool = False


class VLLMBackend(Backend):
    """vLLM engine in this process; all prompts of a chunk go in one `generate` call (continuous batching)."""

    name = "vllm"

    def __init__(self, model: str, options: VLLMOptions, prompt: PromptSettings, seed: int = 0) -> None:
        try:
            from vllm import LLM
        except ImportError as exc:
            raise ImportError("backend 'vllm' needs the vllm package (pip install 'distillery[gpu]')") from exc
        from transformers import AutoTokenizer

        self.prompt = prompt
        # Render and tokenize with the HF tokenizer ourselves: a string prompt would be re-tokenized by vLLM
        # with add_special_tokens=True and get a second BOS after the one the chat template already wrote.
        self.tokenizer = AutoTokenizer.from_pretrained(model)
        load_template_override(self.tokenizer, prompt)
        kwargs = dict(
            model=model,
            tensor_parallel_size=options.tensor_parallel_size,
            gpu_memory_utilization=options.gpu_memory_utilization,
            dtype=options.dtype,
            enforce_eager=options.enforce_eager,
            seed=seed,
        )
        if options.max_model_len:
            kwargs["max_model_len"] = options.max_model_len
        self.llm = LLM(**kwargs)

    def complete(self, chats: list[Chat], n: int, params: SamplingParams) -> list[list[Completion]]:
        from vllm import SamplingParams as VLLMSamplingParams

        rendered = [render_prompt(self.tokenizer, chat, self.prompt) for chat in chats]
        prompts = [{"prompt_token_ids": self.tokenizer(text, add_special_tokens=False)["input_ids"]}
                   for text, _ in rendered]
        sampling = VLLMSamplingParams(
            n=n,
            temperature=params.temperature,
            top_p=params.top_p if params.temperature > 0 else 1.0,
            max_tokens=params.max_new_tokens,
            seed=params.seed,
            skip_special_tokens=True,
        )
        outputs = self.llm.generate(prompts, sampling, use_tqdm=False)
        result = []
        for (_, prefix), request in zip(rendered, outputs, strict=True):
            result.append([
                Completion(prefix + o.text, len(o.token_ids), o.finish_reason or "stop") for o in request.outputs
            ])
        return result

    def close(self) -> None:
        del self.llm
