"""HTTP helpers for the teacher tests: a counting, fault-injecting proxy in front of a real `transformers serve`,
and a scripted OpenAI-compatible endpoint (a test double, used only where no model here can do the job)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


class _Server:
    """A ThreadingHTTPServer on 127.0.0.1 in a daemon thread; `url` is its /v1 base."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _body(self) -> dict[str, Any]:
        return json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)


class FaultProxy(_Server):
    """Forwards /v1/* to `upstream`, logging every request it forwards (its JSON body and the answer's status).

    `faults` is a cycle of what to do with successive requests: "ok", "429", "500", "drop" (close the connection
    without an answer), "slow" (forward after `slow_s` seconds, longer than the client's timeout). `delay_s`
    slows every forwarded request, to give a test time to kill the client half-way.
    """

    def __init__(self, upstream: str, faults: tuple[str, ...] = ("ok",), slow_s: float = 0.0, delay_s: float = 0.0):
        self.upstream, self.faults, self.slow_s, self.delay_s = upstream.rstrip("/"), faults, slow_s, delay_s
        self.forwarded: list[dict[str, Any]] = []
        self.injected: dict[str, int] = {}
        self.n = 0
        self.lock = threading.Lock()
        proxy = self

        class H(_Handler):
            def do_POST(self) -> None:
                body = self._body()
                with proxy.lock:
                    fault = proxy.faults[proxy.n % len(proxy.faults)]
                    proxy.n += 1
                    proxy.injected[fault] = proxy.injected.get(fault, 0) + 1
                if fault == "429":
                    return self._send(429, b'{"error": {"message": "rate limited"}}', {"retry-after": "0"})
                if fault == "500":
                    return self._send(500, b'{"error": {"message": "boom"}}')
                if fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return None
                time.sleep(proxy.slow_s if fault == "slow" else proxy.delay_s)
                try:
                    r = httpx.post(proxy.upstream + self.path.removeprefix("/v1"), json=body, timeout=600)
                except httpx.HTTPError:  # the upstream went away (a slow reply outliving its test)
                    return self._send(502, b'{"error": {"message": "upstream gone"}}')
                with proxy.lock:
                    proxy.forwarded.append({"body": body, "status": r.status_code, "at": time.time()})
                try:
                    self._send(r.status_code, r.content)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        super().__init__(H)

    def seeds(self, ok_only: bool = True) -> list[int]:
        return [f["body"].get("seed") for f in self.forwarded if not ok_only or f["status"] == 200]


class ScriptedEndpoint(_Server):
    """A test double of an OpenAI-compatible server whose answers come from `script(kind, body) -> (text,
    finish_reason)`. Used for the OpenMath mechanics: no model that runs here writes `<llm-code>` blocks.
    `keep_stop`: return the stop string inside the text (transformers serve) or drop it (OpenAI, vLLM)."""

    def __init__(self, script: Callable[[str, dict], tuple[str, str]], keep_stop: bool = False):
        self.requests: list[dict[str, Any]] = []
        endpoint = self

        class H(_Handler):
            def do_POST(self) -> None:
                body = self._body()
                endpoint.requests.append(body)
                kind = "chat" if self.path.endswith("/chat/completions") else "completions"
                text, finish = script(kind, body)
                stop = body.get("stop") or []
                if finish == "stop" and not keep_stop:
                    for s in stop:
                        if text.endswith(s):
                            text = text[: -len(s)]
                usage = {"prompt_tokens": 10, "completion_tokens": max(1, len(text) // 4),
                         "total_tokens": 10 + max(1, len(text) // 4)}
                if kind == "chat":
                    choice = {"index": 0, "finish_reason": finish,
                              "message": {"role": "assistant", "content": text}}
                    out = {"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": [choice]}
                else:
                    choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish}
                    out = {"id": "x", "object": "text_completion", "created": 0, "model": "m", "choices": [choice]}
                self._send(200, json.dumps({**out, "usage": usage}).encode())

        super().__init__(H)
