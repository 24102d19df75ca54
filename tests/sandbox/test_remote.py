"""The SandboxFusion-style HTTP backend, against a real HTTP server speaking that protocol.

SandboxFusion itself needs its container image, which CI cannot pull; the server here implements the same
`POST /run_code` contract on top of our own local sandbox, so the client's request and response mapping run
end to end over real HTTP.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from eval.sandbox import Job, Limits, run
from eval.sandbox.remote import RemoteSandbox, from_response


class RunCode(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):  # noqa: N802 - http.server naming
        if self.path != "/run_code":
            self.send_error(404)
            return
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        files = {k: base64.b64decode(v) for k, v in req.get("files", {}).items()}
        r = run(req["code"], stdin=req.get("stdin") or "", files=files,
                limits=Limits(timeout=req["run_timeout"], memory_mb=max(256, req["memory_limit_MB"])))
        status = {"ok": "Finished", "timeout": "TimeLimitExceeded"}.get(r.status, "Finished")
        body = {"status": "Success" if r.status == "ok" else "Failed", "message": "",
                "run_result": {"status": status, "execution_time": r.wall_time, "stdout": r.stdout,
                               "stderr": r.stderr, "return_code": r.exit_code if r.status != "timeout" else None}}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def service():
    server = ThreadingHTTPServer(("127.0.0.1", 0), RunCode)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_remote_runs_and_maps_statuses(service):
    remote = RemoteSandbox(service)
    ok = remote.run("print(open('in.txt').read().strip(), input())", stdin="there\n", files={"in.txt": "hello"})
    assert (ok.status, ok.stdout, ok.backend) == ("ok", "hello there\n", "remote")
    results = remote.run_many([Job("raise SystemExit(5)"), Job("import time\ntime.sleep(10)", limits=Limits(timeout=1)),
                               Job("x = bytearray(8 << 30)", limits=Limits(memory_mb=256))], workers=3)
    assert [r.status for r in results] == ["runtime_error", "timeout", "memory"]
    assert results[0].exit_code == 5
    remote.close()


def test_remote_unreachable_is_a_sandbox_error():
    r = RemoteSandbox("http://127.0.0.1:9", request_margin=2).run("print(1)", limits=Limits(timeout=1))
    assert r.status == "sandbox_error" and "127.0.0.1:9" in r.stderr


def test_response_mapping_edge_cases():
    limits = Limits(max_output=4)
    assert from_response({"status": "SandboxError", "message": "pod died"}, limits).stderr == "pod died"
    big = from_response({"status": "Success", "run_result": {"status": "Finished", "return_code": 0,
                                                             "stdout": "123456789", "stderr": ""}}, limits)
    assert (big.status, big.stdout, big.stdout_truncated) == ("output_limit", "1234", True)


def test_livecodebench_grading_through_the_service(service):
    from eval.livecodebench import TestCase, grade_program

    remote = RemoteSandbox(service)
    tests = [TestCase("1 2\n", "3\n"), TestCase("5 7\n", "12\n")]
    ok = grade_program("a, b = map(int, input().split())\nprint(a + b)", tests, timeout=2, remote=remote)
    assert ok.passed and [v.verdict for v in ok.verdicts] == ["passed", "passed"]
    wrong = grade_program("print(3)", tests, timeout=2, remote=remote)
    assert [v.verdict for v in wrong.verdicts] == ["passed", "wrong_answer"]
    call = grade_program("class Solution:\n    def f(self, a, b):\n        return (a + b, a)", [TestCase("1\n2", "[3, 1]")],
                         "f", timeout=2, remote=remote)
    assert call.passed
    slow = grade_program("import time\ntime.sleep(5)", tests, timeout=1, remote=remote)
    assert [v.verdict for v in slow.verdicts] == ["time_limit", "not_run"]
