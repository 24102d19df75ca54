"""Optional backend: a SandboxFusion-style HTTP sandbox service (`POST /run_code`), for users who run one.

Request: {"code", "language": "python", "stdin", "run_timeout", "memory_limit_MB", "files": {path: base64}}.
Response: {"status": "Success"|"Failed"|"SandboxError", "message", "run_result": {"status": "Finished"|
"TimeLimitExceeded"|"Error", "execution_time", "return_code", "stdout", "stderr"}}. The isolation is the
service's business; results come back as the same SandboxResult the local sandbox returns.
"""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from eval.sandbox.limits import Limits
from eval.sandbox.result import SandboxResult
from eval.sandbox.runner import Job, default_workers


class RemoteSandbox:
    """Client for one service URL, e.g. RemoteSandbox("http://localhost:8080")."""

    def __init__(self, url: str, request_margin: float = 30.0, client: httpx.Client | None = None):
        self.url = url.rstrip("/")
        self.request_margin = request_margin  # queueing on the service side on top of the run timeout
        self.client = client or httpx.Client()

    def run(self, program: str, stdin: bytes | str = b"", limits: Limits | None = None,
            files: dict[str, bytes | str] | None = None) -> SandboxResult:
        """Run one program on the service; network and HTTP failures become status `sandbox_error`."""
        limits = limits or Limits()
        payload = {
            "code": program,
            "language": "python",
            "stdin": stdin.decode("utf-8", "replace") if isinstance(stdin, bytes) else stdin,
            "run_timeout": limits.timeout,
            "memory_limit_MB": limits.memory_mb,
            "files": {name: base64.b64encode(v.encode() if isinstance(v, str) else v).decode()
                      for name, v in (files or {}).items()},
        }
        try:
            response = self.client.post(f"{self.url}/run_code", json=payload,
                                        timeout=limits.timeout + self.request_margin)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            return SandboxResult("sandbox_error", None, None, "", f"sandbox service {self.url}: {exc}", 0.0, 0.0,
                                 isolated=True, backend="remote")
        return from_response(body, limits)

    def run_many(self, jobs: list[Job], workers: int | None = None) -> list[SandboxResult]:
        """Concurrent requests (the service does the work, so more than one per local CPU); input order."""
        with ThreadPoolExecutor(max_workers=workers or 4 * default_workers()) as pool:
            return list(pool.map(lambda j: self.run(j.program, j.stdin, j.limits, j.files), jobs))

    def close(self) -> None:
        self.client.close()


def from_response(body: dict[str, Any], limits: Limits) -> SandboxResult:
    """Map a /run_code response onto SandboxResult statuses."""
    run = body.get("run_result") or {}
    stdout, stderr = run.get("stdout") or "", run.get("stderr") or ""
    code = run.get("return_code")
    wall = float(run.get("execution_time") or 0.0)
    over = len(stdout.encode()) > limits.max_output
    if over:
        stdout = stdout.encode()[: limits.max_output].decode("utf-8", "ignore")
    err_truncated = len(stderr) > limits.max_stderr
    stderr = stderr[: limits.max_stderr]
    if body.get("status") == "SandboxError" or run.get("status") == "Error":
        status = "sandbox_error"
        stderr = stderr or str(body.get("message", ""))
    elif run.get("status") == "TimeLimitExceeded":
        status = "timeout"
    elif over:
        status = "output_limit"
    elif code == 0:
        status = "ok"
    elif stderr.rstrip().splitlines()[-1:] and stderr.rstrip().splitlines()[-1].startswith("MemoryError"):
        status = "memory"
    elif code is not None and code < 0:
        status = "killed"
    else:
        status = "runtime_error"
    return SandboxResult(status, code if code is None or code >= 0 else None, -code if code and code < 0 else None,
                         stdout, stderr, wall, None, over, err_truncated, True, "remote")  # type: ignore[arg-type]
