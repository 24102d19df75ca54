"""OpenMathInstruct-1 code-interpreter generation: solutions that mix text with `<llm-code>` Python blocks whose
output is run in the sandbox and inserted as `<llm-code-output>` before generation continues."""

from data_prep.openmath.generate import CODE_END, CODE_START, OUTPUT_END, OUTPUT_START, mask_reference, solve
from data_prep.openmath.prompts import FewShotPrompt, load_prompt

__all__ = ["CODE_END", "CODE_START", "OUTPUT_END", "OUTPUT_START", "FewShotPrompt", "load_prompt", "mask_reference",
           "solve"]
