"""Math answer grading: extract the final answer, compare it with the reference using math-verify.

Every comparison that reaches sympy runs in a worker process under a hard per-item deadline: math-verify's
own timeouts use SIGALRM (main thread only, and they cannot interrupt sympy while it is inside C code), and
an input such as `9^{9^{9^{9^{9}}}}` would otherwise hang the caller. Plain integer answers (GSM8K, AIME) and
answers written exactly like the gold are decided in-process without sympy, which is exact and much faster.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait

from eval.grading.extract import Extracted, extract_answer

__all__ = ["Extracted", "MathGrade", "extract_answer", "grade", "grade_many", "GraderPool", "verify_answer", "serve"]

_INT = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)")


@dataclass
class MathGrade:
    """Verdict for one response: `reason` is ok | wrong answer | no answer | truncated | timeout | parse error
    | gold parse error | grader crashed | grader error."""

    correct: bool
    extracted: str | None
    reason: str


def _as_int(text: str) -> int | None:
    text = text.strip()
    if _INT.fullmatch(text):
        return int(text.replace(",", ""))
    return None


def _gold_latex(gold: str) -> str:
    gold = gold.strip()
    return gold if "\\boxed" in gold else "\\boxed{" + gold + "}"


_PROSE = re.compile(r"[A-Za-z]{2,}[,.:;]?\s+[A-Za-z]{2,}")
_LATEX_CMD = re.compile(r"\\[A-Za-z]+")


def _pred_text(ex: Extracted) -> str:
    """What math-verify parses for the prediction: a box around an extracted answer, or, for an `<answer>`
    block written as prose ("The answer is $5$."), the text itself for math-verify to search."""
    assert ex.answer is not None
    if ex.how == "answer_tag" and _PROSE.search(_LATEX_CMD.sub(" ", ex.answer)):
        return ex.answer
    return "\\boxed{" + ex.answer + "}"


_SAME_TEXT_DROP = re.compile(r"\s+|\\left(?![A-Za-z])|\\right(?![A-Za-z])|\\[!,; ]|\$")


def _same_text(a: str, b: str) -> bool:
    """Equal after removing spacing and sizing commands: the same written answer, so equal in value."""
    def norm(x: str) -> str:
        return _SAME_TEXT_DROP.sub("", x).replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")

    return norm(a) == norm(b)


def _quick(gold: str, ex: Extracted) -> MathGrade | None:
    """A verdict that needs no sympy, or None when the pair must go to math-verify."""
    if ex.truncated:
        return MathGrade(False, None, "truncated")
    if ex.answer is None:
        return MathGrade(False, None, "no answer")
    g, p = _as_int(gold), _as_int(ex.answer)
    if g is not None and p is not None:  # AIME "023" == 23, GSM8K "1,080" == 1080
        return MathGrade(g == p, ex.answer, "ok" if g == p else "wrong answer")
    if ex.how != "answer_tag" and _same_text(gold, ex.answer):
        return MathGrade(True, ex.answer, "ok")
    return None


def verify_answer(gold: str, pred_text: str) -> tuple[bool, str]:
    """math-verify comparison without time limits (call it only where a deadline is enforced from outside)."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    gold_parsed = parse(
        _gold_latex(gold), extraction_config=[LatexExtractionConfig(), ExprExtractionConfig()], parsing_timeout=None
    )
    if not gold_parsed:
        return False, "gold parse error"
    pred_parsed = parse(
        pred_text,
        extraction_config=[LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()],
        parsing_timeout=None,
    )
    if not pred_parsed:
        return False, "parse error"
    ok = verify(gold_parsed, pred_parsed, timeout_seconds=None)
    return ok, "ok" if ok else "wrong answer"


def serve(fd: int) -> None:
    """Worker loop (run in a child process): grade jobs arriving on socket `fd` until it closes."""
    # Timeouts are the parent's job (it kills this process); silence math-verify's "timeout disabled" warning.
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    verify_answer("\\frac{1}{2}", "\\boxed{0.5}")  # warm the parsers so start-up never counts against a deadline
    conn = Connection(fd)
    conn.send("ready")
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        idx, gold, pred = job
        try:
            ok, reason = verify_answer(gold, pred)
        except Exception as exc:  # a grader bug must cost one item, not the batch
            ok, reason = False, f"grader error: {type(exc).__name__}"
        conn.send((idx, ok, reason))


def _child_env() -> dict[str, str]:
    # The child must import this package even when it is not installed (tests, a checkout on PYTHONPATH).
    paths = [p or os.getcwd() for p in sys.path]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


class _Worker:
    """One grader child process. States: starting (until it says ready), idle, busy with `job`."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; from eval.grading.math import serve; serve(int(sys.argv[1]))",
             str(theirs.fileno())],
            pass_fds=(theirs.fileno(),), env=_child_env(), stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self.conn = Connection(ours.detach())
        self.ready = False
        self.started = time.monotonic()
        self.job: tuple[int, float] | None = None  # (index, deadline)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.conn.close()


class GraderPool:
    """Worker processes that grade one item at a time; an item past its deadline gets its worker killed.

    Hand-written rather than concurrent.futures / multiprocessing.Pool because neither can kill one hung
    task and carry on; this pool replaces just that worker and marks the item "timeout". Workers are fresh
    interpreters (subprocess, not fork) so a caller holding threads (torch) or an unguarded `__main__`
    script is safe.
    """

    START_TIMEOUT_S = 120.0

    def __init__(self, workers: int) -> None:
        self.size = workers
        self._workers = [_Worker() for _ in range(workers)]

    def run(self, jobs: Sequence[tuple[int, str, str]], timeout_s: float) -> dict[int, tuple[bool, str]]:
        """Grade (index, gold, pred_text) jobs; returns {index: (correct, reason)}."""
        pending = deque(jobs)
        results: dict[int, tuple[bool, str]] = {}
        while pending or any(w.job for w in self._workers):
            for w in self._workers:
                if w.ready and w.job is None and pending:
                    idx, gold, pred = pending.popleft()
                    w.job = (idx, time.monotonic() + timeout_s)
                    w.conn.send((idx, gold, pred))
            watched = [w for w in self._workers if w.job or not w.ready]
            deadlines = [w.job[1] if w.job else w.started + self.START_TIMEOUT_S for w in watched]
            ready = wait([w.conn for w in watched], timeout=max(0.0, min(deadlines) - time.monotonic()))
            for i, w in enumerate(self._workers):
                if w.conn in ready:
                    try:
                        msg = w.conn.recv()
                    except (EOFError, OSError):
                        msg = None
                    if msg == "ready":
                        w.ready = True
                        continue
                    if msg is not None and w.job is not None:
                        idx, ok, reason = msg
                        results[idx] = (ok, reason)
                        w.job = None
                        continue
                    if w.job is None:
                        raise RuntimeError(f"math grader worker exited during start-up (code {w.proc.poll()})")
                    results[w.job[0]] = (False, "grader crashed")
                elif w.job is not None and time.monotonic() >= w.job[1]:
                    results[w.job[0]] = (False, "timeout")
                elif not w.ready and time.monotonic() >= w.started + self.START_TIMEOUT_S:
                    raise RuntimeError(f"math grader worker did not start within {self.START_TIMEOUT_S:.0f} s")
                else:
                    continue
                w.kill()
                self._workers[i] = _Worker()
        return results

    def close(self) -> None:
        for w in self._workers:
            try:
                w.conn.send(None)
            except OSError:
                pass
            try:
                w.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                w.proc.kill()
                w.proc.wait()
            w.conn.close()
        self._workers = []


_POOL: GraderPool | None = None
_POOL_LOCK = threading.Lock()


def _default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def _shared_pool(workers: int) -> GraderPool:
    global _POOL
    if _POOL is None or _POOL.size != workers:
        if _POOL is not None:
            _POOL.close()
        _POOL = GraderPool(workers)
    return _POOL


@atexit.register
def _close_pool() -> None:
    global _POOL
    if _POOL is not None:
        _POOL.close()
        _POOL = None


def grade_many(
    pairs: Sequence[tuple[str, str]], timeout_s: float = 5.0, workers: int | None = None
) -> list[MathGrade]:
    """Grade (gold, response) pairs in order; each item that needs sympy gets at most `timeout_s` seconds."""
    out: list[MathGrade | None] = [None] * len(pairs)
    jobs: list[tuple[int, str, str]] = []
    extracted: dict[int, str] = {}
    for i, (gold, response) in enumerate(pairs):
        ex = extract_answer(response)
        quick = _quick(str(gold), ex)
        if quick is not None:
            out[i] = quick
        else:
            extracted[i] = ex.answer or ""
            jobs.append((i, str(gold), _pred_text(ex)))
    if jobs:
        with _POOL_LOCK:
            results = _shared_pool(workers or _default_workers()).run(jobs, timeout_s)
        for i, (ok, reason) in results.items():
            out[i] = MathGrade(ok, extracted[i], reason)
    return out  # type: ignore[return-value]


def grade(gold: str, response: str, timeout_s: float = 5.0) -> MathGrade:
    """Grade one response against a reference answer (safe from any thread; the deadline always holds)."""
    return grade_many([(gold, response)], timeout_s=timeout_s)[0]
