"""Ask a teacher model for responses through any OpenAI-compatible endpoint.

The endpoint can be the DeepSeek API, vLLM, SGLang, or `transformers serve` on a local folder, which
`TeacherServer` starts on 127.0.0.1 for the demo and the tests. Results are appended to a JSONL file as
they arrive, so an interrupted run resumes with only the missing (item, sample) pairs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from eval.generation.cpu import resolve_dtype, thread_env
from eval.grading.extract import last_boxed

R1_MATH_SUFFIX = "\n\nPlease reason step by step, and put your final answer within \\boxed{}."


@dataclass
class TeacherConfig:
    """Where the teacher is and how to sample from it."""

    base_url: str | None = None  # e.g. https://api.deepseek.com/v1 or http://host:8000/v1
    serve_model: str | None = None  # a local model folder to serve with `transformers serve` instead
    serve_dtype: str = "auto"  # auto: bfloat16 on CPUs with native bf16 (avx512_bf16 / AMX), else float32
    # more `transformers serve` flags; ["--continuous-batching"] batches concurrent requests (5.7× the tokens/s of
    # one-at-a-time serving at concurrency 16 on 2 CPU cores: benchmarks/teacher_batching.py)
    serve_args: list[str] = field(default_factory=list)
    model: str = "teacher"  # model name sent in requests (a served folder is named by its path)
    api_key_env: str = "OPENAI_API_KEY"
    system_prompt: str | None = None
    prompt_suffix: str = R1_MATH_SUFFIX
    temperature: float = 0.6
    top_p: float = 0.95
    max_tokens: int = 512
    samples: int = 1
    concurrency: int = 4
    request_timeout_s: float = 600.0
    retries: int = 3
    think: str = "wrap"  # native: keep the teacher's text; wrap: put a non-reasoning teacher's text in <think>
    server_start_timeout_s: float = 300.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TeacherServer:
    """`transformers serve <folder>` on 127.0.0.1, started and stopped with the build (a real endpoint)."""

    def __init__(self, model_dir: str, log_path: Path, timeout_s: float = 300.0, port: int | None = None,
                 dtype: str = "auto", extra_args: tuple[str, ...] = ()):
        self.model_dir = model_dir
        self.extra_args = tuple(extra_args)  # more `transformers serve` flags, e.g. ("--continuous-batching",)
        self.dtype = resolve_dtype(dtype, "cpu")  # auto: bf16 only where the CPU has it natively, else fp32
        self.log_path = log_path
        self.timeout_s = timeout_s
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> TeacherServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        cli = Path(sys.executable).with_name("transformers")
        cmd = [str(cli) if cli.exists() else "transformers", "serve", self.model_dir,
               "--host", "127.0.0.1", "--port", str(self.port), "--device", "cpu", "--dtype", self.dtype, *self.extra_args]
        # The build only waits on HTTP while the server decodes: the server gets every core.
        env = {**os.environ, **thread_env()}
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"teacher server exited with code {self.proc.returncode}; see {self.log_path}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.__exit__(None, None, None)
        raise TimeoutError(f"teacher server not healthy after {self.timeout_s:.0f} s; see {self.log_path}")

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)  # uvicorn waits for in-flight requests; do not
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def as_trace(text: str, reasoning: str | None, mode: str) -> str:
    """The teacher's answer as a `<think>…</think>` + answer response, whatever the server's convention."""
    if reasoning:  # DeepSeek API and vLLM reasoning parsers return the trace separately
        return f"<think>\n{reasoning.strip()}\n</think>\n\n{text.strip()}"
    if "</think>" in text:  # R1-style models print it inline; templates often pre-fill the opening tag
        return text if text.lstrip().startswith("<think>") else "<think>\n" + text
    if mode == "native":
        return text
    boxed, _ = last_boxed(text)
    lines = text.strip().splitlines()
    final = f"The final answer is $\\boxed{{{boxed}}}$." if boxed is not None else (lines[-1] if lines else "")
    return f"<think>\n{text.strip()}\n</think>\n\n{final}"


class Teacher:
    """A client for one endpoint: `respond(items)` yields one result dict per (item, sample)."""

    def __init__(self, cfg: TeacherConfig, base_url: str):
        from openai import OpenAI

        self.cfg = cfg
        self.client = OpenAI(base_url=base_url, api_key=os.environ.get(cfg.api_key_env) or "not-needed",
                             timeout=cfg.request_timeout_s, max_retries=cfg.retries)

    def messages(self, problem: str) -> list[dict[str, str]]:
        msgs = [{"role": "system", "content": self.cfg.system_prompt}] if self.cfg.system_prompt else []
        return msgs + [{"role": "user", "content": problem + self.cfg.prompt_suffix}]

    def ask(self, problem: str, seed: int) -> dict[str, Any]:
        cfg = self.cfg
        t0 = time.monotonic()
        # One request per sample: several servers (transformers serve among them) ignore `n`.
        out = self.client.chat.completions.create(
            model=cfg.model, messages=self.messages(problem), temperature=cfg.temperature, top_p=cfg.top_p,
            max_tokens=cfg.max_tokens, seed=seed,
        )
        choice = out.choices[0]
        text = choice.message.content or ""
        reasoning = getattr(choice.message, "reasoning_content", None)
        usage = out.usage
        return {
            "response": as_trace(text, reasoning, cfg.think),
            "raw": text,
            "finish_reason": choice.finish_reason,
            "completion_tokens": usage.completion_tokens if usage else None,
            "seconds": round(time.monotonic() - t0, 3),
        }

    def respond(self, jobs: Iterable[tuple[str, int, str]], on_result: Callable[[dict[str, Any]], None]) -> None:
        """Run (item_id, sample, problem) jobs with `concurrency` requests in flight; errors become results."""
        with ThreadPoolExecutor(self.cfg.concurrency) as pool:
            futures = {pool.submit(self.ask, problem, zlib.crc32(f"{item_id}/{sample}".encode())): (item_id, sample)
                       for item_id, sample, problem in jobs}
            for fut in as_completed(futures):
                item_id, sample = futures[fut]
                try:
                    result = fut.result()
                except Exception as exc:  # a failed request is recorded, not fatal to a long build
                    result = {"error": f"{type(exc).__name__}: {exc}"[:500]}
                on_result({"item_id": item_id, "sample": sample, **result})
