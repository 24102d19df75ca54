"""The official LiveCodeBench code-generation prompt text, so generation matches published numbers."""

from __future__ import annotations

from eval.livecodebench.problems import Problem

INTRO = ("You will be given a question (problem specification) and will generate a correct Python program that "
         "matches the specification and passes all tests.")
NOT_RETURN = " You will NOT return anything except for the program."
WITH_STARTER = ("You will use the following starter code to write the solution to the problem and enclose your code "
                "within delimiters.")
WITHOUT_STARTER = ("Read the inputs from stdin solve the problem and write the answer to stdout (do not directly "
                   "test on the sample inputs). Enclose your code within delimiters as follows. Ensure that when the "
                   "python program runs, it reads the inputs, runs the algorithm and writes output to STDOUT.")
SYSTEM_MESSAGE = "You are an expert Python programmer. " + INTRO + NOT_RETURN


def build_prompt(problem: Problem, reasoning: bool = True) -> str:
    """User-turn prompt as LiveCodeBench/QwQ build it for reasoning models (`reasoning=False`: the variant for
    non-reasoning chat models, which adds "You will NOT return anything except for the program.")."""
    prompt = INTRO + ("" if reasoning else NOT_RETURN) + "\n\n"
    prompt += f"Question: {problem.question_content}\n\n"
    if problem.starter_code:
        prompt += f"{WITH_STARTER}\n```python\n{problem.starter_code}\n```\n\n"
    else:
        prompt += f"{WITHOUT_STARTER}\n```python\n# YOUR CODE HERE\n```\n\n"
    return prompt


def build_messages(problem: Problem, reasoning: bool = True) -> list[dict[str, str]]:
    """Chat messages: reasoning models get the user turn only (DeepSeek-R1 recommends no system prompt)."""
    messages = [] if reasoning else [{"role": "system", "content": SYSTEM_MESSAGE}]
    return messages + [{"role": "user", "content": build_prompt(problem, reasoning)}]
