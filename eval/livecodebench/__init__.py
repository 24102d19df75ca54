"""LiveCodeBench: load problems (official code_generation_lite schema), build prompts, grade in the sandbox."""

from eval.livecodebench.extract import extract_code
from eval.livecodebench.grade import GradeJob, GradeResult, TestVerdict, grade_many, grade_program
from eval.livecodebench.problems import Problem, TestCase, load_problems
from eval.livecodebench.prompt import build_messages, build_prompt

__all__ = [
    "GradeJob",
    "GradeResult",
    "Problem",
    "TestCase",
    "TestVerdict",
    "build_messages",
    "build_prompt",
    "extract_code",
    "grade_many",
    "grade_program",
    "load_problems",
]
