"""The respond stage: a response for every problem — its own reference solution, a seed row's response, or a
teacher's samples (served locally with `transformers serve`, any OpenAI-compatible endpoint, or in-process vLLM).

`respond(batch, cfg, ctx) -> (rows, rejects)` is called once per batch of items; `RespondContext` is created once
per build (a context manager): it owns the teacher server, the client's event loop and the journal, and closes
them whichever way the build ends (return, exception, SIGTERM, Ctrl-C).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import threading
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from data_prep.ingest import Reject
from data_prep.progress import console, progress
from data_prep.row import make_row, stable_id
from data_prep.teacher import (
    AsyncTeacher,
    Journal,
    TeacherConfig,
    TeacherServer,
    VLLMTeacher,
    as_trace,
    job_seed,
    journal_stats,
    run_bounded,
)

if TYPE_CHECKING:
    from data_prep.build import Build, BuildRecipe

JOURNAL = "teacher.results.jsonl"
MASK_SAMPLE = -1  # journal sample index of the masked reference solution (pass 1 of masked_reference_solution)


def item_id(item: dict[str, Any]) -> str:
    return item.get("item_id") or item["id"]


def item_row(item: dict[str, Any], response: str, teacher: str | None = None, sampling: dict | None = None,
             n_tokens: int | None = None, id: str | None = None) -> dict[str, Any]:
    return make_row(problem=item["problem"], response=response, source=item["source"], category=item["category"],
                    reference_answer=item.get("reference_answer"), teacher=teacher, sampling=sampling,
                    n_tokens=n_tokens, id=id, extra={"origin": item["origin"], "item_id": item_id(item),
                                                     "response_mode": item["response_mode"]})


def _reject(item: dict[str, Any], reason: str, field: str | None = None, **record: Any) -> Reject:
    return Reject("respond", reason, file=item["origin"]["file"], line=item["origin"]["line"], field=field,
                  record={"item_id": item_id(item), **record})


class RespondContext:
    """Per-build teacher state: journal, server (started on the first request), client and its event loop."""

    def __init__(self, cfg: TeacherConfig | None, work: Path):
        self.cfg, self.work = cfg, Path(work)
        self.journal: Journal | None = None
        self._stack = ExitStack()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: AsyncTeacher | None = None
        self._vllm: VLLMTeacher | None = None
        self.base_url: str | None = None

    def __enter__(self) -> RespondContext:
        if self.cfg is not None:
            self.journal = Journal(self.work / JOURNAL)
        return self

    @property
    def teacher(self) -> str:
        assert self.cfg is not None
        return self.cfg.teacher_name()

    def key(self, iid: str, sample: int) -> str:
        assert self.cfg is not None
        return Journal.key(iid, sample, self.teacher, self.cfg.params_hash())

    def _start(self) -> None:
        """Start the server (here, in the main thread: PR_SET_PDEATHSIG follows the thread that forked it)."""
        cfg = self.cfg
        assert cfg is not None
        if cfg.backend == "vllm":
            if self._vllm is None:
                self._vllm = VLLMTeacher(cfg)
            return
        if self._client is not None:
            return
        if cfg.base_url:
            self.base_url, model = cfg.base_url, cfg.model
        else:
            server = self._stack.enter_context(TeacherServer(
                cfg.serve_model or "", self.work / "teacher_server.log", cfg.server_start_timeout_s,
                dtype=cfg.serve_dtype, extra_args=tuple(cfg.serve_args),
                sampling={"temperature": cfg.temperature, "top_p": cfg.top_p} if cfg.temperature > 0 else None))
            self.base_url, model = server.base_url, server.model_dir if cfg.model == "teacher" else cfg.model
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="teacher-loop", daemon=True)
        self._thread.start()
        self._client = self._wait(self._make_client(model))

    async def _make_client(self, model: str) -> AsyncTeacher:
        assert self.cfg is not None and self.base_url is not None
        return AsyncTeacher(self.cfg, self.base_url, model)

    def _wait(self, coro: Any) -> Any:
        """Run `coro` on the client loop; a signal in the main thread (SystemExit from the SIGTERM handler,
        KeyboardInterrupt) cancels it at once — queued jobs are never sent, in-flight requests are dropped, every
        answer already journaled stays — and the exception goes on to unwind the build."""
        assert self._loop is not None
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            while True:
                try:
                    return fut.result(timeout=0.2)
                except concurrent.futures.TimeoutError:
                    continue
        except BaseException:
            fut.cancel()
            try:
                fut.result(timeout=5)
            except BaseException:  # cancelled or failed: what matters is that it has stopped
                pass
            raise

    def run(self, jobs: Iterable[Any], handle: Any, on_result: Any) -> None:
        assert self.cfg is not None and self._client is not None
        self._wait(run_bounded(jobs, handle, on_result, self.cfg.concurrency))

    def stats(self) -> dict[str, Any] | None:
        return journal_stats(self.work / JOURNAL, self.cfg)

    def close(self) -> None:
        if self._loop is not None and self._client is not None:
            try:
                asyncio.run_coroutine_threadsafe(self._client.close(), self._loop).result(timeout=5)
            except Exception:  # closing the client is best effort; the loop and server stop regardless
                pass
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=5)
        if self._vllm is not None:
            self._vllm.close()
        self._stack.close()  # stops a server the build started
        if self.journal is not None:
            self.journal.close()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- the teacher stage of one batch -----

    def chat_messages(self, problem: str) -> list[dict[str, str]]:
        assert self.cfg is not None
        msgs = [{"role": "system", "content": self.cfg.system_prompt}] if self.cfg.system_prompt else []
        return msgs + [{"role": "user", "content": problem + self.cfg.prompt_suffix}]

    def ask(self, items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Journal records for every (item, sample) of `items`, asking the teacher only for the missing ones."""
        cfg, journal = self.cfg, self.journal
        assert cfg is not None and journal is not None
        got: dict[str, dict[str, Any]] = {}
        keys = [(it, s, self.key(item_id(it), s)) for it in items for s in range(cfg.samples)]
        todo = [(it, s, k) for it, s, k in keys if k not in journal]
        if todo:
            self._start()
            if cfg.mode == "openmath_code" and cfg.openmath.generation_type == "masked_reference_solution":
                self._mask_pass(items, got)
            console.print(f"teacher: {len(todo)} requests to {self.base_url or 'vllm'} "
                          f"({len(keys) - len(todo)} already answered)")
            self._generate(todo, got)
        for _, _, k in keys:
            if k not in got and k in journal:
                got[k] = journal.get(k) or {}
        return got

    def _record(self, got: dict, job: tuple[dict, int, str], result: dict[str, Any]) -> None:
        it, s, k = job
        assert self.journal is not None
        rec = {"key": k, "item_id": item_id(it), "sample": s, "teacher": self.teacher,
               "params": self.cfg.params_hash() if self.cfg else None, **result}
        self.journal.append(rec)
        got[k] = rec  # a failed one too, so its reject can say why

    def _generate(self, todo: list[tuple[dict, int, str]], got: dict) -> None:
        cfg = self.cfg
        assert cfg is not None
        if cfg.backend == "vllm":
            assert self._vllm is not None
            chunk = max(cfg.concurrency, 1) * 16
            for i in range(0, len(todo), chunk):
                part = todo[i:i + chunk]
                outs = self._vllm.chat_batch([(self.chat_messages(it["problem"]), job_seed(item_id(it), s))
                                              for it, s, _ in part])
                for job, r in zip(part, outs, strict=True):
                    self._record(got, job, {"response": as_trace(r["text"], None, cfg.think), "raw": r["text"],
                                            **{k: v for k, v in r.items() if k not in ("text", "reasoning")}})
            return
        client = self._client
        assert client is not None
        prompts = self._prompts() if cfg.mode == "openmath_code" else None

        async def handle(job: tuple[dict, int, str]) -> dict[str, Any]:
            it, s, _ = job
            seed = job_seed(item_id(it), s)
            if prompts is None:
                r = await client.chat(self.chat_messages(it["problem"]), seed)
                return {"response": as_trace(r["text"], r["reasoning"], cfg.think), "raw": r["text"],
                        "reasoning": r["reasoning"], "finish_reason": r["finish_reason"],
                        "prompt_tokens": r["prompt_tokens"], "completion_tokens": r["completion_tokens"],
                        "retries": r["retries"]}
            from data_prep.openmath import solve

            masked = None
            if cfg.openmath.generation_type == "masked_reference_solution":
                mrec = got.get(self.key(item_id(it), MASK_SAMPLE))
                if mrec is None or "error" in mrec:
                    return {"error": "no masked reference solution (pass 1 failed; retried on --resume)"}
                masked = mrec["masked_reference_solution"]
            prompt = prompts(it["source"]).solution_prompt(it["problem"], masked)
            return await solve(client, cfg, prompt, seed, it.get("reference_answer"))

        self._track(todo, handle, got)

    def _track(self, jobs: list[tuple[dict, int, str]], handle: Any, got: dict) -> None:
        with progress() as bar:
            task = bar.add_task("teacher", total=len(jobs), rate="")

            def on_result(job: tuple[dict, int, str], result: dict[str, Any]) -> None:
                self._record(got, job, result)
                bar.update(task, advance=1)

            self.run(iter(jobs), handle, on_result)

    def _prompts(self) -> Any:
        from data_prep.openmath import load_prompt

        assert self.cfg is not None
        table = self.cfg.openmath.prompts
        return lambda source: load_prompt(table.get(source, table["default"]))

    def _mask_pass(self, items: list[dict[str, Any]], got: dict) -> None:
        """Pass 1 of masked_reference_solution: one masked rewrite of each item's reference solution."""
        from data_prep.openmath import mask_reference

        assert self.cfg is not None and self.journal is not None and self._client is not None
        cfg, client, prompts = self.cfg, self._client, self._prompts()
        jobs = []
        for it in items:
            k = self.key(item_id(it), MASK_SAMPLE)
            if k in self.journal:
                got[k] = self.journal.get(k) or {}
            elif reference_solution(it):
                jobs.append((it, MASK_SAMPLE, k))

        async def handle(job: tuple[dict, int, str]) -> dict[str, Any]:
            it = job[0]
            prompt = prompts(it["source"]).mask_prompt(it["problem"], reference_solution(it) or "")
            return await mask_reference(client, cfg, prompt, job_seed(item_id(it), MASK_SAMPLE))

        if jobs:
            console.print(f"teacher: masking {len(jobs)} reference solutions")
            self._track(jobs, handle, got)


def reference_solution(item: dict[str, Any]) -> str | None:
    """The item's own solution text (its reference response without the <think> wrapping ingest adds)."""
    text = item.get("reference_solution") or item.get("reference_response")
    if not text:
        return None
    if "</think>" in text:  # ingest wraps a reference solution as <think>solution</think> final answer
        return text.split("</think>")[0].replace("<think>", "").strip()
    return text.strip()


def _openmath_row(it: dict[str, Any], rec: dict[str, Any], cfg: TeacherConfig, teacher: str, row_id: str,
                  sampling: dict) -> dict[str, Any]:
    """An OpenMathInstruct-1 record as a corpus row; `data_prep convert --to openmath` gives the record back."""
    from data_prep.convert import openmath_to_row

    record = {"question": it["problem"], "generated_solution": rec["generated_solution"],
              "expected_answer": it.get("reference_answer"), "predicted_answer": rec["predicted_answer"],
              "error_message": rec["error_message"], "is_correct": rec["is_correct"], "dataset": it["source"],
              "generation_type": cfg.openmath.generation_type}
    row = openmath_to_row(record)
    row.update(id=row_id, teacher=teacher, sampling=sampling, n_tokens=rec.get("completion_tokens"))
    row["extra"].update(origin=it["origin"], item_id=item_id(it), response_mode=it["response_mode"])
    return row


def teacher_rows(items: list[dict[str, Any]], cfg: TeacherConfig, ctx: RespondContext
                 ) -> Iterator[dict[str, Any] | Reject]:
    got = ctx.ask(items)
    teacher = ctx.teacher
    base = {"temperature": cfg.temperature, "top_p": cfg.top_p, "max_tokens": cfg.max_tokens}
    openmath = cfg.mode == "openmath_code"
    for it in items:
        seen: dict[str, int] = {}
        for s in range(cfg.samples):
            rec = got.get(ctx.key(item_id(it), s))
            if rec is None or "error" in rec:
                error = rec["error"] if rec else "not asked (the stage was stopped)"
                yield _reject(it, "teacher request failed (retried on --resume)", sample=s, error=error)
                continue
            response = rec["generated_solution"] if openmath else rec["response"]
            if not response.replace("<think>", "").replace("</think>", "").strip():
                yield _reject(it, "teacher returned no text (content and reasoning empty)", "response", sample=s)
                continue
            if rec.get("finish_reason") == "length":
                yield _reject(it, f"teacher hit max_tokens={cfg.max_tokens} (truncated response)", "response",
                              sample=s, response=response)
                continue
            digest = hashlib.sha256(response.encode()).hexdigest()
            if digest in seen:
                yield _reject(it, f"duplicate response (identical to sample {seen[digest]})", "response", sample=s)
                continue
            seen[digest] = s
            row_id = stable_id(item_id(it), str(s), teacher)
            sampling = {**base, "sample": s}
            if openmath:
                yield _openmath_row(it, rec, cfg, teacher, row_id, sampling)
            else:
                yield item_row(it, response, teacher=teacher, sampling=sampling,
                               n_tokens=rec.get("completion_tokens"), id=row_id)


def respond(batch: list[dict[str, Any]], cfg: TeacherConfig | None, ctx: RespondContext
            ) -> tuple[list[dict], list[Reject]]:
    """Rows and rejects for one batch of items (each item's response mode decides where its response comes from)."""
    rows: list[dict] = []
    rejects: list[Reject] = []
    to_teacher = []
    for it in batch:
        mode = it["response_mode"]
        if mode == "teacher":
            to_teacher.append(it)
        elif mode == "reference":
            if it.get("reference_response"):
                rows.append(item_row(it, it["reference_response"], teacher="reference"))
            else:
                rejects.append(_reject(it, "response: reference requested but the source has no solution",
                                       "solution"))
        elif mode == "own":
            if "row" in it:
                row = dict(it["row"])
                row["extra"] = {**(row.get("extra") or {}), "origin": it["origin"], "item_id": item_id(it),
                                "response_mode": "own"}
                rows.append(row)
            else:
                rejects.append(_reject(it, "response: own requested but the format carries no response"))
        else:  # check_teacher catches this at load time; kept for items made by other code
            raise ValueError(f"{it['origin']['file']}: unknown response mode {mode!r} (reference, teacher, own)")
    if to_teacher:
        if cfg is None:
            raise ValueError("a source asks for response: teacher but the recipe has no 'teacher' section")
        for got in teacher_rows(to_teacher, cfg, ctx):
            (rejects if isinstance(got, Reject) else rows).append(got)
    return rows, rejects


def run_respond(items: list[dict], recipe: BuildRecipe, b: Build, batch_size: int = 1000
                ) -> tuple[list[dict], list[Reject]]:
    """The whole respond stage over a list of items, in batches, with one context (server, journal) throughout."""
    rows, rejects = [], []
    with RespondContext(recipe.teacher, b.work) as ctx:
        for i in range(0, len(items), batch_size):
            r, j = respond(items[i:i + batch_size], recipe.teacher, ctx)
            rows += r
            rejects += j
    return rows, rejects
