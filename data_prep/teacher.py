"""Ask a teacher model for responses through any OpenAI-compatible endpoint, or in-process vLLM.

The endpoint can be the DeepSeek API, vLLM, SGLang, or `transformers serve` on a local folder, which
`TeacherServer` starts on 127.0.0.1 for the demo and the tests. Requests go through the official `openai`
client (AsyncOpenAI) fed from a bounded queue: at most `2 * concurrency` jobs exist at any time, whatever the
number of problems. Each answer is appended to a journal (JSONL, flushed per answer) keyed by
(problem id, sample index, teacher, sampling-params hash), so a killed run resumes without losing or repeating
a finished response.
"""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

from eval.generation.cpu import resolve_dtype, thread_env
from eval.grading.extract import extract_answer
from eval.jsonl import BadLine, iter_jsonl

R1_MATH_SUFFIX = "\n\nPlease reason step by step, and put your final answer within \\boxed{}."
PROMPTS_DIR = Path(__file__).resolve().parents[1] / "recipes" / "data" / "prompts"
RESPONSE_MODES = ("reference", "teacher", "own")


@dataclass
class OpenMathConfig:
    """OpenMathInstruct-1 code-interpreter generation (`teacher.mode: openmath_code`)."""

    # few-shot prompt per source name ("default" for the rest): a file in recipes/data/prompts/ (gsm8k, math)
    # or a path to a YAML file of the same shape
    prompts: dict[str, str] = field(default_factory=lambda: {"default": "math", "gsm8k": "gsm8k"})
    generation_type: Literal["without_reference_solution", "masked_reference_solution"] = \
        "without_reference_solution"
    api: Literal["completions", "chat_continue"] = "completions"  # chat_continue: vLLM/SGLang only
    max_code_executions: int = 6
    max_output_chars: int = 1000  # a block's output is capped to this many characters before it is appended
    code_timeout_s: float = 10.0
    mask_max_tokens: int = 1024  # pass 1 of masked_reference_solution: the rewritten reference's length


@dataclass
class TeacherConfig:
    """Where the teacher is and how to sample from it."""

    base_url: str | None = None  # e.g. https://api.deepseek.com/v1 or http://host:8000/v1
    serve_model: str | None = None  # a local model folder to serve (`${DISTILLERY_CACHE}` is expanded)
    serve_dtype: str = "auto"  # auto: bfloat16 on CPUs with native bf16 (avx512_bf16 / AMX), else float32
    # more `transformers serve` flags; ["--continuous-batching"] batches concurrent requests (5.7× the tokens/s of
    # one-at-a-time serving at concurrency 16 on 2 CPU cores: benchmarks/teacher_batching.py)
    serve_args: list[str] = field(default_factory=list)
    backend: Literal["openai", "vllm"] = "openai"  # vllm: in-process vLLM on `serve_model` (GPU extra)
    tensor_parallel_size: int = 1  # backend: vllm
    data_parallel_size: int = 1  # backend: vllm
    gpu_memory_utilization: float = 0.9  # backend: vllm
    model: str = "teacher"  # model name sent in requests (a served folder is named by its path)
    api_key_env: str = "OPENAI_API_KEY"
    system_prompt: str | None = None
    prompt_suffix: str = R1_MATH_SUFFIX
    mode: Literal["chat", "openmath_code"] = "chat"
    openmath: OpenMathConfig = field(default_factory=OpenMathConfig)
    temperature: float = 0.6
    top_p: float = 0.95
    max_tokens: int = 512
    samples: int = 1
    concurrency: int = 4
    request_timeout_s: float = 600.0
    retries: int = 3  # retries of one request on 429, 5xx, dropped connections and timeouts
    backoff_s: float = 1.0  # first retry waits up to this (full jitter), doubling per retry
    backoff_max_s: float = 60.0
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None  # prompt + completion tokens (estimated before, corrected after)
    price_input_per_mtok: float = 0.0  # USD per million prompt tokens, for the cost in stats.json
    price_output_per_mtok: float = 0.0
    think: Literal["wrap", "native"] = "wrap"  # native: keep the text; wrap: put a non-reasoning text in <think>
    server_start_timeout_s: float = 300.0

    def teacher_name(self) -> str:
        if self.base_url:
            return self.model
        return Path(self.serve_model or "teacher").name

    def check(self, recipe_path: str | Path | None, responses: Iterable[str] = ("teacher",)) -> None:
        """The whole teacher section checked before any work (see `check_teacher`); for the recipe loader."""
        check_teacher(self, responses, recipe_path)

    def params_hash(self) -> str:
        """Everything that changes what the teacher is asked: a recorded answer counts only under the same hash."""
        keys = ("system_prompt", "prompt_suffix", "mode", "temperature", "top_p", "max_tokens", "think")
        data = {k: getattr(self, k) for k in keys}
        if self.mode == "openmath_code":
            data["openmath"] = asdict(self.openmath)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]


def expand_path(value: str) -> str:
    """`${VAR}` / `${VAR:-default}` expanded; DISTILLERY_CACHE defaults to .cache as in train.smollm."""
    def sub(m: re.Match) -> str:
        default = m.group(2) if m.group(2) is not None else (".cache" if m.group(1) == "DISTILLERY_CACHE" else "")
        return os.environ.get(m.group(1)) or default
    return os.path.expanduser(re.sub(r"\$\{(\w+)(?::-([^}]*))?\}", sub, value))


def prompt_file(name: str) -> Path:
    """A few-shot prompt by name (recipes/data/prompts/openmath_<name>.yaml) or by path."""
    p = Path(expand_path(name))
    return p if p.suffix in (".yaml", ".yml") else PROMPTS_DIR / f"openmath_{name}.yaml"


def check_teacher(cfg: TeacherConfig | None, responses: Iterable[str], recipe_path: str | Path | None) -> None:
    """Check the teacher section and the sources' `response:` values before any work; raise one clear line."""
    where = str(recipe_path or "recipe")
    responses = list(responses)
    for i, mode in enumerate(responses):
        if mode not in RESPONSE_MODES:
            raise ValueError(f"{where}: key 'sources[{i}].response' must be one of {list(RESPONSE_MODES)}, "
                             f"got {mode!r}")
    if "teacher" in responses and cfg is None:
        raise ValueError(f"{where}: a source has 'response: teacher' but the recipe has no 'teacher' section")
    if cfg is None:
        return
    if cfg.backend == "openai" and not cfg.base_url and not cfg.serve_model:
        raise ValueError(f"{where}: set 'teacher.base_url' (an OpenAI-compatible endpoint) or 'teacher.serve_model' "
                         "(a local model folder to serve with `transformers serve`)")
    if cfg.backend == "vllm" and not cfg.serve_model:
        raise ValueError(f"{where}: 'teacher.backend: vllm' needs 'teacher.serve_model' (a model folder or hub id)")
    if cfg.backend == "vllm" and cfg.mode != "chat":
        raise ValueError(f"{where}: 'teacher.mode: {cfg.mode}' needs 'teacher.backend: openai' (serve the model "
                         "with `vllm serve` and set teacher.base_url)")
    if cfg.serve_model and not cfg.base_url and cfg.backend == "openai":
        path = Path(expand_path(cfg.serve_model))
        hub_id = re.fullmatch(r"[\w.-]+/[\w.-]+", cfg.serve_model) and not path.exists()  # served from the hub
        if not hub_id and not (path / "config.json").exists():
            raise ValueError(f"{where}: 'teacher.serve_model' {cfg.serve_model!r} -> {path}: no model folder there "
                             "(no config.json; for the demo: python -m train.smollm)")
    for key in ("samples", "concurrency", "max_tokens"):
        if getattr(cfg, key) < 1:
            raise ValueError(f"{where}: 'teacher.{key}' must be at least 1, got {getattr(cfg, key)}")
    for key in ("requests_per_minute", "tokens_per_minute"):
        if getattr(cfg, key) is not None and getattr(cfg, key) <= 0:
            raise ValueError(f"{where}: 'teacher.{key}' must be positive or null, got {getattr(cfg, key)}")
    if cfg.mode == "openmath_code":
        from data_prep.openmath.prompts import load_prompt

        if "default" not in cfg.openmath.prompts:
            raise ValueError(f"{where}: 'teacher.openmath.prompts' needs a 'default' entry")
        for src, name in cfg.openmath.prompts.items():
            try:
                load_prompt(name)
            except (OSError, ValueError) as exc:
                raise ValueError(f"{where}: 'teacher.openmath.prompts.{src}': {exc}") from exc
        if cfg.openmath.max_code_executions < 0:
            raise ValueError(f"{where}: 'teacher.openmath.max_code_executions' must be >= 0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """In the child before exec: own process group, and SIGKILL when the parent dies (even by SIGKILL)."""
    os.setsid()
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


def _start_time(pid: int) -> int | None:
    """The process's start time in clock ticks (identifies it across pid reuse), None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def kill_stale_server(pid_file: Path) -> int | None:
    """Kill a server recorded in `pid_file` whose build is gone (same pid and start time); return its pid."""
    try:
        rec = json.loads(pid_file.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    pid = rec.get("pid")
    if not isinstance(pid, int) or _start_time(pid) != rec.get("start_time"):
        pid_file.unlink(missing_ok=True)
        return None
    if _start_time(rec.get("parent", -1)) == rec.get("parent_start_time"):
        raise RuntimeError(f"the teacher server pid {pid} in {pid_file} still belongs to a running build "
                           f"(pid {rec['parent']}); stop that build first")
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    pid_file.unlink(missing_ok=True)
    return pid


class TeacherServer:
    """`transformers serve <folder>` on 127.0.0.1, started and stopped with the build (a real endpoint).

    The child dies with the build even when the build is SIGKILLed (PR_SET_PDEATHSIG); its pid is recorded in
    `<log>.pid` so a later start kills a server whose build vanished some other way.
    """

    def __init__(self, model_dir: str, log_path: Path, timeout_s: float = 300.0, port: int | None = None,
                 dtype: str = "auto", extra_args: tuple[str, ...] = (), sampling: dict[str, float] | None = None):
        self.model_dir = expand_path(model_dir)
        self.sampling = sampling  # {"temperature", "top_p"} the requests use; None: greedy requests only
        self.extra_args = tuple(extra_args)  # more `transformers serve` flags, e.g. ("--continuous-batching",)
        self.dtype = resolve_dtype(dtype, "cpu")  # auto: bf16 only where the CPU has it natively, else fp32
        self.log_path = log_path
        self.pid_file = log_path.with_suffix(".pid")
        self.timeout_s = timeout_s
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _failure(self, what: str) -> RuntimeError:
        lines = [ln.strip() for ln in self.log_path.read_text(errors="replace").splitlines() if ln.strip()]
        # the last error-looking line (uvicorn's "ERROR: ...", a Python exception), else the last line
        errors = [ln for ln in lines if re.search(r"error|exception|errno|traceback", ln, re.I)
                  and "warning" not in ln.lower()]
        cause = (errors or lines or ["no output"])[-1][:300]
        return RuntimeError(f"teacher server `transformers serve {self.model_dir}` {what}: {cause} "
                            f"(log: {self.log_path})")

    def _sampling_view(self) -> str:
        """The model folder as the server must see it for requests to be sampled.

        `transformers serve` fixes sampling when it loads the model: do_sample comes from the folder's
        generation_config (absent = greedy; a request's temperature does not switch it on), and continuous batching
        builds its temperature/top-p processors only for values set there (per-request values then override them).
        A folder without them answers every sample with the greedy text. So the server gets a view of the folder:
        links to every file, and a generation_config.json with do_sample and the recipe's temperature and top_p.
        """
        src = Path(self.model_dir)
        gen_file = src / "generation_config.json"
        gen = json.loads(gen_file.read_text()) if gen_file.exists() else {}
        want = {"do_sample": True, **(self.sampling or {})}
        if all(gen.get(k) == v for k, v in want.items()):
            return self.model_dir
        view = self.log_path.parent / "served_model"
        shutil.rmtree(view, ignore_errors=True)
        view.mkdir(parents=True)
        for entry in src.iterdir():
            if entry.name != "generation_config.json":
                (view / entry.name).symlink_to(entry.resolve())
        (view / "generation_config.json").write_text(json.dumps({**gen, **want}, indent=2))
        return str(view)

    def __enter__(self) -> TeacherServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.sampling is not None:
            self.model_dir = self._sampling_view()
        stale = kill_stale_server(self.pid_file)
        if stale:
            print(f"teacher: killed a stale server (pid {stale}) left by an earlier build", file=sys.stderr)
        cli = Path(sys.executable).with_name("transformers")
        cmd = [str(cli) if cli.exists() else "transformers", "serve", self.model_dir,
               "--host", "127.0.0.1", "--port", str(self.port), "--device", "cpu", "--dtype", self.dtype,
               *self.extra_args]
        # The build only waits on HTTP while the server decodes: the server gets every core.
        env = {**os.environ, **thread_env()}
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
                                         env=env)
        self.pid_file.write_text(json.dumps({"pid": self.proc.pid, "start_time": _start_time(self.proc.pid),
                                             "parent": os.getpid(), "parent_start_time": _start_time(os.getpid()),
                                             "cmd": cmd}))
        try:
            self._wait_healthy()
        except BaseException:  # a failed start, or SIGTERM / Ctrl-C while it loads: no server is left behind
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_healthy(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise self._failure(f"exited with code {self.proc.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise self._failure(f"not healthy after {self.timeout_s:.0f} s")

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)  # uvicorn waits for in-flight requests; do not
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.pid_file.unlink(missing_ok=True)


def as_trace(text: str, reasoning: str | None, mode: str) -> str:
    """The teacher's answer as a `<think>…</think>` + answer response, whatever the server's convention."""
    if reasoning:  # DeepSeek API and vLLM reasoning parsers return the trace separately
        return f"<think>\n{reasoning.strip()}\n</think>\n\n{text.strip()}"
    if "</think>" in text:  # R1-style models print it inline; templates often pre-fill the opening tag
        return text if text.lstrip().startswith("<think>") else "<think>\n" + text
    if mode == "native":
        return text
    # wrap: a non-reasoning model's text becomes the reasoning, and the answer line states, boxed, the answer the
    # eval's extraction chain reads from that text (its last \boxed{}, else a stated "the answer is …", else the
    # closing sentence's last number), so every training row ends the way R1 rows do and strict verification
    # grades what the model said. No answer found: the text's last line, which strict verification rejects.
    answer = extract_answer(text).answer
    lines = text.strip().splitlines()
    final = f"The final answer is $\\boxed{{{answer}}}$." if answer else (lines[-1] if lines else "")
    return f"<think>\n{text.strip()}\n</think>\n\n{final}"


def job_seed(item_id: str, sample: int) -> int:
    return zlib.crc32(f"{item_id}/{sample}".encode())


class RateLimiter:
    """Requests- and tokens-per-minute budgets as two token buckets.

    Hand-written (a few lines) because the token cost is only known after the answer: a request reserves its
    estimate (prompt chars / 4 + max_tokens) and `settle` corrects the bucket with the usage the server reports.
    """

    def __init__(self, rpm: float | None, tpm: float | None):
        self.rpm, self.tpm = rpm, tpm
        self.req = rpm or 0.0
        self.tok = tpm or 0.0
        self.t = time.monotonic()
        self.lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        dt, self.t = now - self.t, now
        if self.rpm:
            self.req = min(self.rpm, self.req + dt * self.rpm / 60)
        if self.tpm:
            self.tok = min(self.tpm, self.tok + dt * self.tpm / 60)

    async def acquire(self, tokens: int) -> None:
        if not self.rpm and not self.tpm:
            return
        tokens = min(tokens, int(self.tpm)) if self.tpm else tokens
        async with self.lock:
            while True:
                self._refill()
                need_r = 1 - self.req if self.rpm else 0
                need_t = tokens - self.tok if self.tpm else 0
                if need_r <= 0 and need_t <= 0:
                    self.req -= 1 if self.rpm else 0
                    self.tok -= tokens if self.tpm else 0
                    return
                wait = max(need_r * 60 / self.rpm if self.rpm else 0, need_t * 60 / self.tpm if self.tpm else 0)
                await asyncio.sleep(max(wait, 0.01))

    def settle(self, estimated: int, actual: int) -> None:
        if self.tpm:
            self.tok += estimated - actual


class RequestFailed(Exception):
    """A request that still failed after its retries (or could not be retried); the message says why."""


class AsyncTeacher:
    """AsyncOpenAI with our own retry policy (exponential backoff, full jitter), rate limits and usage counts."""

    def __init__(self, cfg: TeacherConfig, base_url: str, model: str):
        from openai import AsyncOpenAI

        self.cfg, self.model = cfg, model
        self.client = AsyncOpenAI(base_url=base_url, api_key=os.environ.get(cfg.api_key_env) or "not-needed",
                                  timeout=cfg.request_timeout_s, max_retries=0)
        self.limiter = RateLimiter(cfg.requests_per_minute, cfg.tokens_per_minute)
        self.retried = 0

    @staticmethod
    def _retryable(exc: Exception) -> tuple[bool, float | None]:
        import openai

        if isinstance(exc, (openai.APIConnectionError, asyncio.TimeoutError)):  # includes APITimeoutError
            return True, None
        if isinstance(exc, openai.APIStatusError):
            after = exc.response.headers.get("retry-after") if exc.response is not None else None
            try:
                wait = float(after) if after else None
            except ValueError:
                wait = None
            return exc.status_code in (408, 409, 429) or exc.status_code >= 500, wait
        return False, None

    async def call(self, fn: Callable[[], Awaitable[Any]], prompt_chars: int, max_tokens: int) -> tuple[Any, int]:
        """Run one request with retries; return (the answer, how many retries it took)."""
        estimate = prompt_chars // 4 + max_tokens
        for attempt in range(self.cfg.retries + 1):
            await self.limiter.acquire(estimate)
            try:
                out = await fn()
            except Exception as exc:  # classified below: retry what a retry can fix, report the rest
                self.limiter.settle(estimate, 0)
                retry, after = self._retryable(exc)
                detail = f"{type(exc).__name__}: {exc}"[:300]
                if not retry or attempt == self.cfg.retries:
                    raise RequestFailed(f"{detail} (after {attempt + 1} attempt(s))") from exc
                self.retried += 1
                cap = min(self.cfg.backoff_max_s, self.cfg.backoff_s * 2 ** attempt)
                await asyncio.sleep(min(after, self.cfg.backoff_max_s) if after else random.uniform(0, cap))
                continue
            usage = getattr(out, "usage", None)
            actual = (usage.prompt_tokens or 0) + (usage.completion_tokens or 0) if usage else estimate
            self.limiter.settle(estimate, actual)
            return out, attempt
        raise AssertionError("unreachable")

    async def chat(self, messages: list[dict[str, str]], seed: int, **extra: Any) -> dict[str, Any]:
        cfg = self.cfg
        chars = sum(len(m["content"]) for m in messages)
        max_tokens = extra.pop("max_tokens", cfg.max_tokens)
        out, retries = await self.call(lambda: self.client.chat.completions.create(
            model=self.model, messages=messages, temperature=cfg.temperature, top_p=cfg.top_p,
            max_tokens=max_tokens, seed=seed, **extra), chars, max_tokens)
        choice = out.choices[0]
        fields = choice.message.model_extra or {}
        return {"text": choice.message.content or "",
                "reasoning": fields.get("reasoning_content") or fields.get("reasoning"),
                "finish_reason": choice.finish_reason, "retries": retries, **_usage(out)}

    async def complete(self, prompt: str, seed: int, stop: list[str] | None = None,
                       max_tokens: int | None = None) -> dict[str, Any]:
        cfg = self.cfg
        max_tokens = max_tokens or cfg.max_tokens
        out, retries = await self.call(lambda: self.client.completions.create(
            model=self.model, prompt=prompt, temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=max_tokens,
            seed=seed, stop=stop), len(prompt), max_tokens)
        choice = out.choices[0]
        return {"text": choice.text or "", "finish_reason": choice.finish_reason, "retries": retries, **_usage(out)}

    async def close(self) -> None:
        await self.client.close()


def _usage(out: Any) -> dict[str, int]:
    u = getattr(out, "usage", None)
    return {"prompt_tokens": (u.prompt_tokens or 0) if u else 0, "completion_tokens": (u.completion_tokens or 0)
            if u else 0}


async def run_bounded(jobs: Iterable[Any], handle: Callable[[Any], Awaitable[dict]],
                      on_result: Callable[[Any, dict], None], concurrency: int) -> None:
    """Feed `jobs` to `concurrency` workers through a queue of `concurrency` slots: at most 2×concurrency jobs
    are materialised at once, however many there are. A failed job becomes an {"error": ...} result."""
    queue: asyncio.Queue = asyncio.Queue(maxsize=concurrency)
    done = object()

    async def producer() -> None:
        for job in jobs:
            await queue.put(job)
        for _ in range(concurrency):
            await queue.put(done)

    async def worker() -> None:
        while (job := await queue.get()) is not done:
            t0 = time.monotonic()
            try:
                result = await handle(job)
            except RequestFailed as exc:
                result = {"error": str(exc)}
            except Exception as exc:  # a bug or bad answer in one job must not lose the others' answers
                result = {"error": f"{type(exc).__name__}: {exc}"[:500]}
            result.setdefault("seconds", round(time.monotonic() - t0, 3))
            on_result(job, result)

    tasks = [asyncio.ensure_future(producer())] + [asyncio.ensure_future(worker()) for _ in range(concurrency)]
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class Journal:
    """Append-only JSONL of teacher answers keyed by (item id, sample, teacher, params hash).

    Only an index key -> byte offset stays in memory (two ints per answer); a record is read back when its
    row is built. A line cut short by a kill is dropped on open, so the next append starts on a fresh line.
    """

    def __init__(self, path: Path):
        self.path = path
        self.index: dict[int, int] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open("rb+") as fh:
                data_end = fh.seek(0, os.SEEK_END)
                if data_end:
                    fh.seek(max(0, data_end - 1))
                    if fh.read(1) != b"\n":  # a partial last line: cut it off
                        fh.seek(0)
                        keep = fh.read().rfind(b"\n") + 1
                        fh.truncate(keep)
            offset = 0
            with path.open("rb") as fh:
                for raw in fh:
                    try:
                        rec = json.loads(raw)
                    except json.JSONDecodeError:
                        rec = None
                    if isinstance(rec, dict) and "error" not in rec and "key" in rec:
                        self.index[int(rec["key"], 16)] = offset
                    offset += len(raw)
        self.fh = path.open("ab")
        self._reader: Any = None  # opened on the first lookup; appends are flushed, so it sees them

    @staticmethod
    def key(item_id: str, sample: int, teacher: str, params: str) -> str:
        return hashlib.sha256(f"{item_id}\x1f{sample}\x1f{teacher}\x1f{params}".encode()).hexdigest()[:16]

    def __contains__(self, key: str) -> bool:
        return int(key, 16) in self.index

    def get(self, key: str) -> dict[str, Any] | None:
        off = self.index.get(int(key, 16))
        if off is None:
            return None
        if self._reader is None:
            self._reader = self.path.open("rb")
        self._reader.seek(off)
        return json.loads(self._reader.readline())

    def append(self, rec: dict[str, Any]) -> None:
        line = (json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8")
        off = self.fh.tell()
        self.fh.write(line)
        self.fh.flush()
        if "error" not in rec:
            self.index[int(rec["key"], 16)] = off

    def close(self) -> None:
        self.fh.close()
        if self._reader is not None:
            self._reader.close()


def journal_stats(path: Path, cfg: TeacherConfig | None = None) -> dict[str, Any] | None:
    """What the teacher did, from its journal: requests, failures, truncations, tokens and cost."""
    if not path.exists():
        return None
    # An answered key is never asked again, so success lines are unique: only keys still failing are held.
    answered = 0
    failing: set[str] = set()
    c = {"failed_attempts": 0, "retries": 0, "stopped": 0, "hit_max_tokens": 0, "prompt_tokens": 0,
         "completion_tokens": 0, "code_executions": 0}
    seconds = 0.0
    for _, rec in iter_jsonl(path):
        if isinstance(rec, BadLine):
            continue
        key = rec.get("key") or f"{rec.get('item_id')}/{rec.get('sample')}"
        c["retries"] += rec.get("retries", 0)
        if "error" in rec:
            c["failed_attempts"] += 1
            failing.add(key)
            continue
        failing.discard(key)
        answered += 1
        c["stopped"] += rec.get("finish_reason") == "stop"
        c["hit_max_tokens"] += rec.get("finish_reason") == "length"
        c["prompt_tokens"] += rec.get("prompt_tokens") or 0
        c["completion_tokens"] += rec.get("completion_tokens") or 0
        c["code_executions"] += rec.get("code_executions") or 0
        seconds += rec.get("seconds") or 0
    cost = None
    if cfg is not None:
        cost = round(c["prompt_tokens"] * cfg.price_input_per_mtok / 1e6
                     + c["completion_tokens"] * cfg.price_output_per_mtok / 1e6, 6)
    return {"requests": answered + len(failing), "answered": answered, **c, "cost_usd": cost,
            "mean_seconds_per_request": round(seconds / answered, 2) if answered else None}


def _vllm_worker(cfg: TeacherConfig, gpus: str, conn: Any) -> None:
    """One data-parallel vLLM engine on its own GPUs, answering batches sent through `conn` until None."""
    os.environ["CUDA_VISIBLE_DEVICES"] = gpus
    engine = VLLMTeacher(cfg, data_parallel=False)
    while (batch := conn.recv()) is not None:
        conn.send(engine.chat_batch(batch))


class VLLMTeacher:
    """In-process vLLM (`backend: vllm`) through its offline `LLM` API. Needs a GPU and the `vllm` package.

    `tensor_parallel_size` GPUs per engine; `data_parallel_size` > 1 runs that many engines in child processes,
    each pinned to its own GPUs with CUDA_VISIBLE_DEVICES (vLLM's recommended offline data parallelism is one
    engine per process), and splits every batch between them.
    UNVERIFIED: vLLM cannot run on the development machine (no GPU); written against vLLM's documented
    `LLM(model, tensor_parallel_size, gpu_memory_utilization).chat(messages, sampling_params)`.
    """

    def __init__(self, cfg: TeacherConfig, data_parallel: bool = True):
        self.cfg = cfg
        self.workers: list[tuple[Any, Any]] = []
        if data_parallel and cfg.data_parallel_size > 1:
            import multiprocessing as mp

            ctx = mp.get_context("spawn")
            tp = cfg.tensor_parallel_size
            for rank in range(cfg.data_parallel_size):
                parent, child = ctx.Pipe()
                gpus = ",".join(str(rank * tp + i) for i in range(tp))
                proc = ctx.Process(target=_vllm_worker, args=(cfg, gpus, child), daemon=True)
                proc.start()
                self.workers.append((proc, parent))
            return
        try:
            from vllm import LLM
        except ImportError as exc:
            raise RuntimeError("teacher.backend: vllm needs the vllm package (pip install vllm, GPU)") from exc
        self.llm = LLM(model=expand_path(cfg.serve_model or ""), tensor_parallel_size=cfg.tensor_parallel_size,
                       gpu_memory_utilization=cfg.gpu_memory_utilization, seed=0)

    def chat_batch(self, batch: list[tuple[list[dict[str, str]], int]]) -> list[dict[str, Any]]:
        if self.workers:
            n = len(self.workers)
            parts = [batch[i::n] for i in range(n)]
            for (_, conn), part in zip(self.workers, parts, strict=True):
                conn.send(part)
            answers = [conn.recv() for _, conn in self.workers]
            out: list[dict[str, Any]] = [{}] * len(batch)
            for i, got in enumerate(answers):
                out[i::n] = got
            return out
        from vllm import SamplingParams

        cfg = self.cfg
        params = [SamplingParams(temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.max_tokens, seed=seed)
                  for _, seed in batch]
        outs = self.llm.chat([m for m, _ in batch], params, use_tqdm=False)
        results = []
        for o in outs:
            c = o.outputs[0]
            results.append({"text": c.text, "reasoning": None, "finish_reason": c.finish_reason or "stop",
                            "prompt_tokens": len(o.prompt_token_ids or []), "completion_tokens": len(c.token_ids)})
        return results

    def close(self) -> None:
        for proc, conn in self.workers:
            conn.send(None)
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
