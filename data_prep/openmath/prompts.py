"""Few-shot prompts for OpenMathInstruct-1 generation, stored as YAML in recipes/data/prompts/.

A prompt file holds an `instruction`, `examples` (question, reference_solution, masked_reference_solution,
generated_solution) and three templates: `solution` (question -> solution), `masked_solution` (the same with a
masked reference solution shown) and `mask` (pass 1: reference solution -> masked reference solution).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from data_prep.teacher import prompt_file

EXAMPLE_KEYS = ("question", "reference_solution", "masked_reference_solution", "generated_solution")
TEMPLATE_KEYS = ("solution", "masked_solution", "mask")


@dataclass(frozen=True)
class FewShotPrompt:
    path: str
    instruction: str
    mask_instruction: str
    examples: tuple[dict[str, str], ...]
    templates: dict[str, str]
    separator: str = "\n\n\n\n"

    def _render(self, instruction: str, template: str, final: dict[str, str]) -> str:
        shots = [self.templates[template].format(**ex) for ex in self.examples]
        last = self.templates[template].format(**{**{k: "" for k in EXAMPLE_KEYS}, **final})
        return instruction + self.separator + self.separator.join(shots + [last.rstrip(" ")])

    def solution_prompt(self, question: str, masked_reference_solution: str | None = None) -> str:
        """The text the teacher continues with a solution (the masked variant when a masked reference is given)."""
        if masked_reference_solution is None:
            return self._render(self.instruction, "solution", {"question": question})
        return self._render(self.instruction, "masked_solution",
                            {"question": question, "masked_reference_solution": masked_reference_solution})

    def mask_prompt(self, question: str, reference_solution: str) -> str:
        """Pass 1 of masked_reference_solution: the teacher continues with the masked rewrite."""
        return self._render(self.mask_instruction, "mask",
                            {"question": question, "reference_solution": reference_solution})


@lru_cache(maxsize=32)
def load_prompt(name: str) -> FewShotPrompt:
    """A prompt by name (`gsm8k`, `math`: recipes/data/prompts/openmath_<name>.yaml) or by path to a YAML file."""
    path = prompt_file(name)
    if not path.exists():
        raise ValueError(f"few-shot prompt {name!r}: no file {path}")
    try:
        data = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: top level must be a mapping")
    for key in ("instruction", "mask_instruction", "examples", "templates"):
        if key not in data:
            raise ValueError(f"{path}: missing key '{key}'")
    for i, ex in enumerate(data["examples"]):
        missing = [k for k in EXAMPLE_KEYS if not isinstance(ex.get(k), str) or not ex[k].strip()]
        if missing:
            raise ValueError(f"{path}: examples[{i}].{missing[0]}: missing or empty")
    for key in TEMPLATE_KEYS:
        if not isinstance(data["templates"].get(key), str):
            raise ValueError(f"{path}: templates.{key}: missing")
        try:
            data["templates"][key].format(**{k: "" for k in EXAMPLE_KEYS})
        except (KeyError, IndexError) as exc:
            raise ValueError(f"{path}: templates.{key}: unknown placeholder {exc}") from exc
    return FewShotPrompt(str(path), data["instruction"].strip(), data["mask_instruction"].strip(),
                         tuple({k: ex[k].strip() for k in EXAMPLE_KEYS} for ex in data["examples"]),
                         dict(data["templates"]))
