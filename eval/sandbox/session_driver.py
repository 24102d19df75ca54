"""Runs INSIDE the sandbox: a persistent Python namespace that executes code cells sent by eval.sandbox.session.

Standard library only. Messages are length-prefixed JSON on the original stdin/stdout; both are moved to private
descriptors first so a cell writing to fd 1 cannot corrupt the conversation (such writes land on stderr).
"""

import ast
import builtins
import io
import json
import os
import resource
import signal
import struct
import sys
import time
import traceback


class CellTimeout(BaseException):
    """Raised in the cell when its CPU budget runs out (SIGXCPU); BaseException so `except Exception` can't eat it."""


class CappedText(io.TextIOBase):
    """A text stream that keeps the first `cap` characters and counts the rest."""

    def __init__(self, cap: int):
        self.cap, self.parts, self.size, self.truncated = cap, [], 0, False

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        room = self.cap - self.size
        if room > 0:
            self.parts.append(text[:room])
            self.size += min(len(text), room)
        if len(text) > room:
            self.truncated = True
        return len(text)

    def getvalue(self) -> str:
        return "".join(self.parts)


def read_message(fd: int):
    head = _read_exact(fd, 4)
    if head is None:
        return None
    body = _read_exact(fd, struct.unpack(">I", head)[0])
    return json.loads(body)


def _read_exact(fd: int, n: int):
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def write_message(fd: int, message: dict) -> None:
    body = json.dumps(message).encode()
    data = memoryview(struct.pack(">I", len(body)) + body)
    while data:
        data = data[os.write(fd, data):]


def _on_xcpu(signum, frame):
    raise CellTimeout()


def run_cell(code: str, namespace: dict, cpu_seconds: float, max_output: int) -> dict:
    out, err = CappedText(max_output), CappedText(max_output)
    used = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = -int(-(used + cpu_seconds) // 1)  # ceil: whole seconds, at most 1 s past the cell's budget
    resource.setrlimit(resource.RLIMIT_CPU, (soft if hard < 0 else min(soft, hard), hard))
    status = "ok"
    start = time.monotonic()
    sys.stdout, sys.stderr = out, err
    try:
        tree = ast.parse(code, "<cell>", "exec")
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, "<cell>", "exec"), namespace)
        if last is not None:
            # Like a notebook: the value of a trailing expression is shown.
            value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace)
            if value is not None:
                print(repr(value))
    except CellTimeout:
        status = "timeout"
        err.write("TimeoutError: cell exceeded its CPU time limit\n")
    except SystemExit as exc:
        if exc.code not in (None, 0):
            status = "runtime_error"
            err.write(f"SystemExit: {exc.code}\n")
    except BaseException as exc:  # noqa: B902 - the cell's error is its result
        status = "memory" if isinstance(exc, MemoryError) else "runtime_error"
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != "<cell>":
            tb = tb.tb_next
        err.write("".join(traceback.format_exception(type(exc), exc, tb)))
    finally:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))
    return {
        "status": status,
        "stdout": out.getvalue(),
        "stderr": err.getvalue(),
        "stdout_truncated": out.truncated,
        "stderr_truncated": err.truncated,
        "wall_time": round(time.monotonic() - start, 4),
    }


def main() -> None:
    proto_in, proto_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    sys.stdin = open(0, closefd=False)
    sys.__stdout__ = sys.stdout = open(1, "w", closefd=False)
    signal.signal(signal.SIGXCPU, _on_xcpu)
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    write_message(proto_out, {"ready": True})
    while True:
        message = read_message(proto_in)
        if message is None:
            return
        write_message(proto_out, run_cell(message["code"], namespace, message["cpu"], message["max_output"]))


main()
