"""Runs INSIDE the sandbox: loads one candidate program once, then runs it on one test input per request.

Each test runs in a forked child (fresh state per test, real stdin/stdout file descriptors, killable on its own
time limit) of this warm interpreter, so a 50-test problem costs one interpreter start, not fifty. The expected
outputs never enter the sandbox: we send back what the program printed (stdin/stdout problems) or the repr of
what it returned (call-based problems) and the grader outside compares.

Standard library only; the framing helpers are repeated from eval/sandbox/session_driver.py because nothing
outside the standard library is importable in here.

With ONE_SHOT = True (set by the remote backend, which can only run a script with a stdin) it reads one JSON
request {code, fn_name, max_output, input, timeout} from stdin and prints one JSON reply instead.
"""

import ast
import io
import json
import os
import resource
import select
import signal
import struct
import sys
import time
import traceback

ONE_SHOT = False

# The names the official grader makes available to every solution without an import (its `import_string`).
PRELUDE_MODULES = ("string", "re", "datetime", "collections", "heapq", "bisect", "copy", "math", "random",
                   "statistics", "itertools", "functools", "operator", "io", "sys", "json")


def read_message(fd):
    head = _read_exact(fd, 4)
    if head is None:
        return None
    return json.loads(_read_exact(fd, struct.unpack(">I", head)[0]))


def _read_exact(fd, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def write_message(fd, message):
    body = json.dumps(message).encode()
    data = memoryview(struct.pack(">I", len(body)) + body)
    while data:
        data = data[os.write(fd, data):]


def prelude_namespace():
    ns = {}
    for name in PRELUDE_MODULES:
        exec(f"from {name} import *", ns)
    exec("from builtins import *\nfrom typing import *", ns)
    for name in PRELUDE_MODULES:
        ns[name] = __import__(name)
    return ns


def plain(value):
    """Make a returned value printable with repr() and readable by ast.literal_eval outside (numpy scalars and
    arrays become Python numbers and lists); containers keep their type so tuple-vs-list still matters."""
    if isinstance(value, (bool, int, float, str, type(None))):
        return value
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return type(value)(plain(v) for v in value)
    if hasattr(value, "tolist"):
        return plain(value.tolist())
    return value


class Program:
    def __init__(self, code, fn_name):
        self.fn_name = fn_name
        self.base = prelude_namespace()
        self.code = None
        self.method = None
        if fn_name:
            # As the official grader: define the module once (not as __main__), instantiate Solution once.
            ns = dict(self.base, __name__="solution")
            exec(compile(code, "<solution>", "exec"), ns)
            target = ns["Solution"]() if "class Solution" in code else None
            method = getattr(target, fn_name, None) if target is not None else ns.get(fn_name)
            if method is None:
                raise AttributeError(f"the program defines no method or function named {fn_name!r}")
            self.method = method
        else:
            tree = ast.parse(code, "<solution>")
            self.code = compile(tree, "<solution>", "exec")
            # Import what the program imports once, here, so forked tests do not each pay for e.g. numpy.
            for node in tree.body:
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    try:
                        exec(compile(ast.Module([node], []), "<imports>", "exec"), dict(self.base))
                    except BaseException:  # noqa: B902 - the test run will report it
                        pass

    def child(self, text):
        """In the forked child: run one test, write the answer to fd 1, never return."""
        code = 0
        try:
            if self.method is not None:
                sys.stdout = open(os.devnull, "w")  # prints inside the method are not the answer; drop them
                args = [json.loads(line) for line in text.split("\n")]
                result = self.method(*args)
                if isinstance(result, tuple):
                    result = list(result)
                os.write(1, repr(plain(result)).encode())
            else:
                sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8")
                sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8")
                try:
                    exec(self.code, dict(self.base, __name__="__main__"))
                except SystemExit:
                    pass  # the official grader treats exit() as the end of the program, not an error
        except BaseException as exc:  # noqa: B902 - any failure of the program is its runtime error
            code = 1
            try:
                sys.stderr.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
            except BaseException:  # noqa: B902
                pass
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            except BaseException:  # noqa: B902
                code = code or 1
            os._exit(code)


def run_test(program, text, timeout, max_output):
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    stdin_fd = os.memfd_create("stdin")
    data = memoryview(text.encode())
    while data:
        data = data[os.write(stdin_fd, data):]
    os.lseek(stdin_fd, 0, os.SEEK_SET)
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        os.dup2(stdin_fd, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        for fd in (stdin_fd, out_r, out_w, err_r, err_w):
            os.close(fd)
        sys.stderr = io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False)), encoding="utf-8")
        limit = int(timeout) + 2
        resource.setrlimit(resource.RLIMIT_CPU, (limit, limit + 1))
        program.child(text)
    for fd in (stdin_fd, out_w, err_w):
        os.close(fd)
    out, err = bytearray(), bytearray()
    status = None
    deadline = start + timeout
    streams = {out_r: out, err_r: err}
    while streams:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            status = "timeout"
            break
        ready, _, _ = select.select(list(streams), [], [], remaining)
        for fd in ready:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                os.close(fd)
                del streams[fd]
                continue
            buf = streams[fd]
            buf += chunk
            if fd == out_r and len(buf) > max_output:
                status = "output_limit"
            elif fd == err_r and len(buf) > 65536:
                del buf[:-32768]
        if status is not None:
            break
    if status is not None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for fd in streams:
        os.close(fd)
    _, wstatus = os.waitpid(pid, 0)
    elapsed = time.monotonic() - start
    if status is None:
        code = os.waitstatus_to_exitcode(wstatus)
        if code == -signal.SIGXCPU or code == -signal.SIGKILL:
            status = "timeout"
        elif code != 0:
            tail = err.decode("utf-8", "replace").rstrip().splitlines()[-1:]
            status = "memory" if tail and tail[0].startswith("MemoryError") else "runtime_error"
        else:
            status = "ok"
    try:
        os.killpg(pid, signal.SIGKILL)  # anything the test left running in its group
    except ProcessLookupError:
        pass
    return {
        "status": status,
        "stdout": out[:max_output].decode("utf-8", "replace"),
        "stderr": err[-4000:].decode("utf-8", "replace"),
        "time": round(elapsed, 4),
    }


def main_once():
    request = json.loads(sys.stdin.read())
    sys.setrecursionlimit(50000)
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(50000)
    real_stdout = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)  # the program's own module-level prints must not mix with the reply
    try:
        program = Program(request["code"], request.get("fn_name"))
    except BaseException as exc:  # noqa: B902
        reply = {"ok": False, "error": "".join(traceback.format_exception_only(type(exc), exc))}
    else:
        reply = {"ok": True, **run_test(program, request["input"], request["timeout"], request["max_output"])}
    os.write(real_stdout, json.dumps(reply).encode())


def main():
    proto_in, proto_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    sys.setrecursionlimit(50000)
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(50000)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    init = read_message(proto_in)
    try:
        program = Program(init["code"], init.get("fn_name"))
    except BaseException as exc:  # noqa: B902 - a program that does not load is a runtime error on every test
        write_message(proto_out, {"ok": False, "error": "".join(traceback.format_exception_only(type(exc), exc))})
        return
    write_message(proto_out, {"ok": True})
    while True:
        message = read_message(proto_in)
        if message is None:
            return
        write_message(proto_out, run_test(program, message["input"], message["timeout"], init["max_output"]))


main_once() if ONE_SHOT else main()
