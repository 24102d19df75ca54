"""The `openai` backend against a real OpenAI-compatible server: `transformers serve` on the tiny model."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from eval.generation.base import PromptSettings, SamplingParams, build_chat
from eval.generation.openai_api import OpenAIBackend, OpenAIOptions
from eval.jsonl import read_jsonl
from eval.run import main as run_main


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_model, tmp_path_factory):
    exe = shutil.which("transformers")
    assert exe, "the transformers CLI is not on PATH"
    port = _free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    with log.open("w") as fh:
        proc = subprocess.Popen([exe, "serve", str(tiny_model), "--host", "127.0.0.1", "--port", str(port),
                                 "--device", "cpu"], stdout=fh, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2)
                break
            except urllib.error.HTTPError:  # any HTTP answer means it is serving (/models scans the hub cache)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"transformers serve did not come up:\n{log.read_text()[-2000:]}")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_backend_returns_n_completions_per_chat(server, tiny_model):
    backend = OpenAIBackend(str(tiny_model), OpenAIOptions(base_url=server, concurrency=2),
                            PromptSettings(think_prefix=False))
    chats = [build_chat(q, PromptSettings()) for q in ("What is 1+1?", "What is 2+2?")]
    out = backend.complete(chats, 3, SamplingParams(temperature=0.6, top_p=0.95, max_new_tokens=6, seed=0))
    backend.close()
    assert [len(row) for row in out] == [3, 3]  # the server ignores `n`; the backend loops
    for row in out:
        for c in row:
            assert isinstance(c.text, str) and c.n_tokens == 6 and c.finish_reason == "length"


def test_every_benchmark_through_the_server(server, tiny_model, suite_recipe, tmp_path):
    """All five benchmarks (GPQA from ../shared, LiveCodeBench on official-schema fixtures) via `transformers serve`."""
    out = tmp_path / "openai_run"
    rc = run_main([str(suite_recipe()), "--model", str(tiny_model), "--backend", "openai", f"openai.base_url={server}",
                   "--out", str(out), "openai.concurrency=4"])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["backend"] == "openai"
    rows = read_jsonl(out / "math500.samples.jsonl")
    assert [(r["problem_id"], r["sample"]) for r in rows] == [
        ("test/precalculus/807.json", 0), ("test/precalculus/807.json", 1),
        ("test/intermediate_algebra/1994.json", 0), ("test/intermediate_algebra/1994.json", 1)]
    assert all(r["n_tokens"] == 8 and r["truncated"] for r in rows)
    assert set(summary["benchmarks"]) == {"math500", "aime24", "gpqa_diamond", "gsm8k", "livecodebench"}
    for name, b in summary["benchmarks"].items():
        assert (b["n_problems"], b["n_samples"]) == (2, 4), name
        assert len(read_jsonl(out / f"{name}.samples.jsonl")) == 4
    assert summary["generated_tokens"] == 5 * 4 * 8
