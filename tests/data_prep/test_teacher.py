"""The teacher stage against real `transformers serve` endpoints: faults, kill -9 and resume, SIGTERM, no server
left behind, recipe checks, unique row ids, bounded memory."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from data_prep.respond import JOURNAL, RespondContext, respond
from data_prep.teacher import (
    TeacherConfig,
    TeacherServer,
    as_trace,
    check_teacher,
    job_seed,
    kill_stale_server,
    run_bounded,
)
from eval.recipe import RecipeError, load_recipe


def _items(n: int, prefix: str = "p") -> list[dict]:
    return [{"item_id": f"{prefix}{i}", "problem": f"What is {i} + {i}?", "source": "gsm8k", "category": "math",
             "reference_answer": str(2 * i), "origin": {"file": "mem.jsonl", "line": i + 1},
             "response_mode": "teacher"} for i in range(n)]


def _journal(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_fault_injecting_proxy_ends_in_retries_and_complete_output(tmp_path, served_tiny, tiny_model, doubles):
    faults = ("429", "ok", "500", "drop", "ok", "slow", "ok")
    with doubles.FaultProxy(served_tiny, faults, slow_s=3.0) as proxy:
        cfg = TeacherConfig(base_url=proxy.url, model=str(tiny_model), max_tokens=8, samples=2, concurrency=2,
                            request_timeout_s=1.5, retries=8, backoff_s=0.05, backoff_max_s=0.2, temperature=1.0,
                            price_input_per_mtok=0.5, price_output_per_mtok=2.0)
        items = _items(5)
        with RespondContext(cfg, tmp_path) as ctx:
            rows, rejects = respond(items, cfg, ctx)
            stats = ctx.stats()
    assert all(proxy.injected.get(f) for f in ("429", "500", "drop", "slow")), proxy.injected
    done = [r for r in _journal(tmp_path / JOURNAL) if "error" not in r]
    assert sorted((r["item_id"], r["sample"]) for r in done) == [(f"p{i}", s) for i in range(5) for s in range(2)]
    # every (problem, sample) is a row or a reject with a reason; none is a failed request
    assert len(rows) + len(rejects) == 10
    assert not [r for r in rejects if "request failed" in r.reason]
    assert stats["answered"] == 10 and stats["failed_attempts"] == 0 and stats["retries"] >= 4
    tokens_in, tokens_out = sum(r["prompt_tokens"] for r in done), sum(r["completion_tokens"] for r in done)
    assert tokens_in > 0 and tokens_out > 0 and (stats["prompt_tokens"], stats["completion_tokens"]) == (tokens_in,
                                                                                                        tokens_out)
    assert stats["cost_usd"] == pytest.approx(tokens_in * 0.5e-6 + tokens_out * 2e-6)


def test_a_served_teacher_samples_at_temperature_and_decodes_greedily_at_zero(tmp_path, tiny_model):
    # `transformers serve` takes do_sample from the model folder's generation_config (absent here: greedy) and,
    # with continuous batching, builds temperature/top-p processors only for values set there; the build serves a
    # view of the folder with them set, or every sample would be the greedy answer.
    def texts(temperature: float, work: Path, serve_args: list[str]) -> list[str]:
        cfg = TeacherConfig(serve_model=str(tiny_model), max_tokens=12, samples=4, concurrency=4,
                            temperature=temperature, top_p=0.95, retries=0, serve_args=serve_args)
        with RespondContext(cfg, work) as ctx:
            ctx.ask(_items(1))
        return [r["raw"] for r in _journal(work / JOURNAL)]

    for args in ([], ["--continuous-batching"]):
        sampled = texts(1.5, tmp_path / f"t1{len(args)}", args)
        assert len(sampled) == 4 and len(set(sampled)) > 1, (args, sampled)
    greedy = texts(0.0, tmp_path / "t0", ["--continuous-batching"])
    assert len(greedy) == 4 and len(set(greedy)) == 1, greedy
    assert not (Path(tiny_model) / "generation_config.json").exists() or "do_sample" not in (
        Path(tiny_model) / "generation_config.json").read_text()  # the model folder itself is left as it was


def _build_recipe(tmp_path: Path, shared: Path, n: int, teacher: dict) -> Path:
    src = tmp_path / "gsm8k.jsonl"
    src.write_text("\n".join((shared / "samples" / "gsm8k_train.jsonl").read_text().splitlines()[:n]) + "\n")
    recipe = {"name": "t", "out": str(tmp_path / "unused"), "decontaminate": None,
              "sources": [{"path": str(src), "format": "gsm8k", "response": "teacher"}], "teacher": teacher}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def _wait_lines(path: Path, n: int, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().count("\n") >= n:
            return
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else proc.returncode
        time.sleep(0.05)
    raise AssertionError(f"{path}: fewer than {n} answers after {timeout} s")


def _interactive_signals() -> None:
    # a shell starts background jobs (`make test &`, nohup) with SIGINT ignored and children inherit that; the
    # build is meant to be run from a terminal, where Ctrl-C reaches it
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _build(recipe: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "data_prep", "build", str(recipe), "--out", str(out), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_interactive_signals)


def test_kill9_half_way_then_resume_asks_only_for_what_is_missing(tmp_path, shared, served_tiny, tiny_model,
                                                                  doubles):
    with doubles.FaultProxy(served_tiny, delay_s=0.4) as proxy:
        teacher = {"base_url": proxy.url, "model": str(tiny_model), "max_tokens": 8, "samples": 2,
                   "concurrency": 2, "retries": 2, "request_timeout_s": 60}
        recipe = _build_recipe(tmp_path, shared, 8, teacher)
        out = tmp_path / "corpus"
        journal = out / "work" / JOURNAL
        proc = _build(recipe, out)
        _wait_lines(journal, 5, proc)
        proc.kill()
        proc.wait()
        before = [r for r in _journal(journal) if "error" not in r]
        assert 5 <= len(before) < 16, "the kill should land half-way"
        n_before = len(proxy.forwarded)
        proc = _build(recipe, out, "--resume")
        assert proc.wait(timeout=300) == 0, proc.stderr.read()
        after_seeds = set(proxy.seeds()[n_before:])
    final = [r for r in _journal(journal) if "error" not in r]
    pairs = [(r["item_id"], r["sample"]) for r in final]
    assert len(pairs) == 16 and len(set(pairs)) == 16  # every problem × sample exactly once
    recorded = {job_seed(r["item_id"], r["sample"]) for r in before}
    assert not recorded & after_seeds  # no recorded answer was asked for again
    assert after_seeds == {job_seed(i, s) for i, s in pairs} - recorded
    stats = json.loads((out / "stats.json").read_text())
    assert stats["teacher"]["answered"] == 16


def _server_pid(out: Path, proc: subprocess.Popen) -> int:
    pid_file = out / "work" / "teacher_server.pid"
    deadline = time.monotonic() + 120
    while not pid_file.exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    return json.loads(pid_file.read_text())["pid"]


def _gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z"):
            return True  # a zombie of a parent that has not reaped it yet: not running
        time.sleep(0.05)
    return False


def test_sigterm_stops_promptly_keeps_answers_and_sigkill_leaves_no_server(tmp_path, shared, tiny_model):
    teacher = {"serve_model": str(tiny_model), "max_tokens": 24, "samples": 1, "concurrency": 2, "retries": 0,
               "temperature": 1.0}
    n = 40  # enough that each interrupted run still has work left when its signal arrives
    recipe = _build_recipe(tmp_path, shared, n, teacher)
    out = tmp_path / "corpus"
    journal = out / "work" / JOURNAL
    proc = _build(recipe, out)
    server = _server_pid(out, proc)
    _wait_lines(journal, 2, proc)
    proc.send_signal(signal.SIGTERM)
    t0 = time.monotonic()
    rc = proc.wait(timeout=60)
    print(f"SIGTERM -> exit in {time.monotonic() - t0:.1f} s (load {os.getloadavg()[0]:.2f})")
    assert rc == 128 + signal.SIGTERM
    assert _gone(server), "the build's teacher server outlived a SIGTERM"
    kept = _journal(journal)
    assert 2 <= len(kept) < n and all("error" not in r for r in kept)

    # Ctrl-C (SIGINT): the same, with the usual exit status
    proc = _build(recipe, out, "--resume")
    server = _server_pid(out, proc)
    _wait_lines(journal, len(kept) + 1, proc)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130 and "continue with --resume" in proc.stderr.read()
    assert _gone(server), "the build's teacher server outlived a Ctrl-C"
    kept = _journal(journal)
    assert len(kept) < n and all("error" not in r for r in kept)

    # SIGKILL: the server dies with the build (PR_SET_PDEATHSIG); --resume then finishes the rest
    proc = _build(recipe, out, "--resume")
    server = _server_pid(out, proc)
    _wait_lines(journal, len(kept) + 1, proc)
    proc.kill()
    proc.wait()
    assert _gone(server), "a SIGKILLed build left its teacher server running"
    proc = _build(recipe, out, "--resume")
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    final = [(r["item_id"], r["sample"]) for r in _journal(journal) if "error" not in r]
    assert len(final) == n == len(set(final))


def test_stale_server_from_a_vanished_build_is_killed(tmp_path):
    # a process recorded as a server whose build is gone (a dead parent pid): the next start kills it
    stale = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    from data_prep.teacher import _start_time

    pid_file = tmp_path / "teacher_server.pid"
    pid_file.write_text(json.dumps({"pid": stale.pid, "start_time": _start_time(stale.pid), "parent": dead.pid,
                                    "parent_start_time": 1}))
    assert kill_stale_server(pid_file) == stale.pid
    assert stale.wait(timeout=10) == -signal.SIGKILL and not pid_file.exists()
    # a recorded pid that now names another process (pid reuse) is left alone
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    pid_file.write_text(json.dumps({"pid": other.pid, "start_time": 1, "parent": dead.pid}))
    assert kill_stale_server(pid_file) is None and other.poll() is None
    other.kill()
    other.wait()


def test_server_that_fails_to_start_is_reported_with_its_cause(tmp_path, tiny_model):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        server = TeacherServer(str(tiny_model), tmp_path / "server.log", timeout_s=120, port=busy.getsockname()[1])
        with pytest.raises(RuntimeError) as info:
            server.__enter__()
    msg = str(info.value)
    assert "\n" not in msg and "exited with code" in msg and "address already in use" in msg.lower(), msg
    assert str(tmp_path / "server.log") in msg


def test_recipe_checks_before_any_work(tmp_path, repo, monkeypatch):
    path = tmp_path / "r.yaml"
    src = tmp_path / "s.jsonl"
    src.write_text('{"question": "q", "answer": "#### 1"}\n')
    base = {"name": "x", "decontaminate": None, "sources": [{"path": str(src), "format": "gsm8k",
                                                             "response": "teacher"}]}

    def run(spec: dict) -> subprocess.CompletedProcess:
        path.write_text(yaml.safe_dump(spec))
        return subprocess.run([sys.executable, "-m", "data_prep", "build", str(path), "--out", str(tmp_path / "o")],
                              capture_output=True, text=True, cwd=repo)

    proc = run({**base, "teacher": {"model": "m"}})
    assert proc.returncode == 2 and "teacher.base_url" in proc.stderr and "teacher.serve_model" in proc.stderr
    assert str(path) in proc.stderr and "Traceback" not in proc.stderr
    proc = run({**base, "teacher": {"base_url": "http://x/v1"},
                "sources": [{**base["sources"][0], "response": "teachr"}]})
    assert proc.returncode == 2 and "sources[0].response" in proc.stderr and "'teachr'" in proc.stderr
    assert not (tmp_path / "o").exists()  # nothing ran, so a corrected recipe starts clean
    with pytest.raises(RecipeError, match=r"teacher\.think' must be one of \['wrap', 'native'\]"):
        path.write_text(yaml.safe_dump({**base, "teacher": {"base_url": "http://x/v1", "think": "wrapp"}}))
        load_recipe(__import__("data_prep.build", fromlist=["BuildRecipe"]).BuildRecipe, path)
    with pytest.raises(ValueError, match="openmath.prompts.gsm8k"):
        check_teacher(TeacherConfig(base_url="http://x/v1", mode="openmath_code",
                                    openmath=__import__("data_prep.teacher", fromlist=["x"]).OpenMathConfig(
                                        prompts={"default": "math", "gsm8k": "nope"})), ["teacher"], path)
    with pytest.raises(ValueError, match="'teacher.mode: openmath_code' needs 'teacher.backend: openai'"):
        TeacherConfig(backend="vllm", serve_model="m/x", mode="openmath_code").check(path)
    with pytest.raises(RuntimeError, match="needs the vllm package"), \
            RespondContext(TeacherConfig(backend="vllm", serve_model="m/x"), tmp_path) as ctx:
        respond(_items(1), ctx.cfg, ctx)  # vllm is a GPU extra, not installed here
    # the demo's served model is found under $DISTILLERY_CACHE, not a hard-coded .cache
    from data_prep.build import BuildRecipe

    demo = load_recipe(BuildRecipe, repo / "recipes" / "demo.yaml")
    monkeypatch.setenv("DISTILLERY_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ValueError, match=str(tmp_path / "cache" / "models" / "smollm2-135m-instruct")):
        check_teacher(demo.teacher, [s.response for s in demo.sources], "demo.yaml")


def test_identical_samples_are_one_row_and_a_duplicate_reject(tmp_path, doubles):
    # a test double: a real model does not reliably repeat itself on demand
    with doubles.ScriptedEndpoint(lambda kind, body: ("<think>same</think> \\boxed{2}", "stop")) as ep:
        cfg = TeacherConfig(base_url=ep.url, samples=3, max_tokens=16)
        with RespondContext(cfg, tmp_path) as ctx:
            rows, rejects = respond(_items(2), cfg, ctx)
    assert len(rows) == 2 and len({r["id"] for r in rows}) == 2
    assert [r.reason for r in rejects] == ["duplicate response (identical to sample 0)"] * 4
    assert len(ep.requests) == 6


def test_wrap_puts_the_text_in_think_and_boxes_the_answer_the_grader_reads():
    # SmolLM2-135M's real style: a stated answer, no \boxed{}.
    text = "1. 48 + 32 = 80 tiles.\n2. 100 - 80 = 20.\n\nThe final answer is 20."
    assert as_trace(text, None, "wrap") == f"<think>\n{text}\n</think>\n\nThe final answer is $\\boxed{{20}}$."
    closing = "Profit = $8 - $4 = $4 per bag, so John gets a profit of $120."  # closing sentence's last number
    assert as_trace(closing, None, "wrap").endswith("$\\boxed{120}$.")
    boxed = "So $x = \\boxed{\\frac{1}{2}}$ and we are done"
    assert as_trace(boxed, None, "wrap").endswith("The final answer is $\\boxed{\\frac{1}{2}}$.")
    # no answer at all: the last line, which strict verification rejects ("no answer")
    assert as_trace("I am not sure.\nLet me think", None, "wrap").endswith("</think>\n\nLet me think")
    # reasoning returned apart (DeepSeek API, vLLM reasoning parser) and native mode are left as they are
    assert as_trace("It is 4.", "2+2", "wrap") == "<think>\n2+2\n</think>\n\nIt is 4."
    assert as_trace("It is 4.", None, "native") == "It is 4."


def test_journal_drops_a_line_cut_short_by_a_kill(tmp_path):
    from data_prep.teacher import Journal

    path = tmp_path / JOURNAL
    j = Journal(path)
    j.append({"key": Journal.key("a", 0, "t", "p"), "response": "kept"})
    j.close()
    with path.open("a") as fh:
        fh.write('{"key": "00000000000000ff", "response": "cut sh')  # the kill landed mid-write
    j = Journal(path)
    j.append({"key": Journal.key("b", 0, "t", "p"), "response": "new"})
    assert j.get(Journal.key("a", 0, "t", "p"))["response"] == "kept"
    assert j.get(Journal.key("b", 0, "t", "p"))["response"] == "new"
    assert Journal.key("a", 1, "t", "p") not in j and "00000000000000ff" not in j
    j.close()
    assert [json.loads(x)["response"] for x in path.read_text().splitlines()] == ["kept", "new"]


def test_bounded_queue_holds_at_most_twice_concurrency_jobs():
    made = finished = peak = 0

    def jobs():
        nonlocal made, peak
        for i in range(20_000):
            made += 1
            peak = max(peak, made - finished)
            yield i

    async def handle(job: int) -> dict:
        await asyncio.sleep(0)
        return {"ok": job}

    def on_result(job: int, result: dict) -> None:
        nonlocal finished
        finished += 1

    asyncio.run(run_bounded(jobs(), handle, on_result, concurrency=4))
    assert finished == 20_000 and peak <= 2 * 4 + 1, peak


def test_rate_limiter_spaces_requests_and_tokens(monkeypatch):
    # a fake clock (test double for time): the limiter's arithmetic is checked without waiting for minutes
    import data_prep.teacher as teacher

    clock = [1000.0]
    slept: list[float] = []

    async def fake_sleep(s: float) -> None:
        slept.append(s)
        clock[0] += s

    monkeypatch.setattr(teacher.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(teacher.asyncio, "sleep", fake_sleep)

    async def go() -> None:
        rl = teacher.RateLimiter(rpm=6, tpm=None)  # one request per 10 s after a burst of 6
        for _ in range(8):
            await rl.acquire(1)
        rl = teacher.RateLimiter(rpm=None, tpm=1000)
        await rl.acquire(900)
        rl.settle(900, 100)  # the answer used 100 tokens: 800 come back
        await rl.acquire(900)
        await rl.acquire(900)  # now the bucket is short: wait for 900 tokens at 1000/min

    asyncio.run(go())
    assert sum(slept[:2]) == pytest.approx(20.0)  # requests 7 and 8 waited 10 s each
    assert sum(slept[2:]) == pytest.approx(900 * 60 / 1000, rel=0.01)


def test_a_request_that_keeps_failing_is_a_reject_with_its_error_and_is_asked_again(tmp_path, doubles):
    with doubles.FaultProxy("http://127.0.0.1:9/v1", ("500",)) as proxy:  # never forwards: always a 500
        cfg = TeacherConfig(base_url=proxy.url, samples=1, retries=2, backoff_s=0.01, max_tokens=8)
        with RespondContext(cfg, tmp_path) as ctx:
            rows, rejects = respond(_items(2), cfg, ctx)
            stats = ctx.stats()
        assert proxy.injected["500"] == 6  # 2 problems × (1 try + 2 retries)
    assert rows == [] and [r.reason for r in rejects] == ["teacher request failed (retried on --resume)"] * 2
    assert "InternalServerError" in rejects[0].record["error"] and "after 3 attempt(s)" in rejects[0].record["error"]
    assert stats["failed_attempts"] == 2 and stats["answered"] == 0
    with doubles.ScriptedEndpoint(lambda kind, body: ("fine \\boxed{0}", "stop")) as ep:  # the endpoint recovers
        cfg = TeacherConfig(base_url=ep.url, samples=1, max_tokens=8)
        with RespondContext(cfg, tmp_path) as ctx:
            rows, rejects = respond(_items(2), cfg, ctx)
    assert len(rows) == 2 and not rejects and len(ep.requests) == 2
