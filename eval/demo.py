"""`make demo`'s stage timer and closing summary.

    python -m eval.demo time RUN_DIR STAGE -- COMMAND...   run COMMAND, add its wall time to RUN_DIR/timings.json
    python -m eval.demo summary RUN_DIR                    one screen: CPU, time per stage, corpus, scores, report

The summary reads only what the stages wrote: timings.json, corpus/stats.json, sft/distillery_train.json,
eval/{base,sft}/summary.json. A stage that did not run shows as "-".
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from eval.generation.cpu import cpu_count, cpu_info, native_dtype

PR_SET_PDEATHSIG = 1
CPU_FLAGS_SHOWN = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def _die_with_parent() -> None:
    """In the child before exec: the kernel sends SIGTERM if the timer dies, even by SIGKILL."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def record(path: Path, stage: str, seconds: float, rc: int) -> None:
    """Add one stage to timings.json (written whole to a temp file, then renamed)."""
    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    data[stage] = {"seconds": round(seconds, 1), "rc": rc}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(path)


def time_stage(run: Path, stage: str, command: list[str]) -> int:
    """Run `command`, forwarding Ctrl-C/SIGTERM to it; record its wall time; return its exit code."""
    if not command:
        raise SystemExit("eval.demo time: no command given after --")
    run.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    proc = subprocess.Popen(command, preexec_fn=_die_with_parent)  # noqa: PLW1509 - prctl only, no locks

    def forward(signum: int, _frame: object) -> None:
        proc.send_signal(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, forward)
    rc = proc.wait()
    record(run / "timings.json", stage, time.monotonic() - t0, rc)
    return rc


def _load(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:5.1f}%"


def corpus_lines(stats: dict[str, Any] | None) -> list[str]:
    """Rows per source/response with their verification, and the teacher's asked/answered/finished/verified."""
    if not stats:
        return ["corpus: no stats.json (the build did not finish)"]
    lines = [f"corpus: {stats.get('rows', '-')} rows written (verified rows only)"]
    verification = stats.get("verification") or {}
    for key, v in verification.items():
        lines.append(f"  {key:<24} {v.get('rows', '-'):>5} answers  {v.get('passed', '-'):>5} verified  "
                     f"{v.get('failed', '-'):>4} wrong  {v.get('unverifiable', '-'):>3} unverifiable")
    teacher = stats.get("teacher")
    if teacher:
        verified = sum(v.get("passed") or 0 for k, v in verification.items() if k.endswith("/teacher"))
        lines.append(f"  teacher: {teacher.get('requests', '-')} asked, {teacher.get('answered', '-')} answered, "
                     f"{teacher.get('stopped', '-')} finished, {teacher.get('hit_max_tokens', '-')} cut off, "
                     f"{verified} verified → distilled rows; wrong and cut-off answers are in corpus/rejects/")
    return lines


def score_lines(base: dict[str, Any] | None, sft: dict[str, Any] | None) -> list[str]:
    names = list(dict.fromkeys([*((base or {}).get("benchmarks") or {}), *((sft or {}).get("benchmarks") or {})]))
    if not names:
        return ["scores: no eval summary.json found"]
    head = f"{'benchmark':<10} {'n':>4} | {'pass@1':>13} | {'boxed (format)':>15} | {'cut off':>15}"
    out = ["scores, base → fine-tuned (pass@1; format = answer in \\boxed{}; cut off = hit the token budget):",
           head, "-" * len(head)]
    for name in names:
        b = ((base or {}).get("benchmarks") or {}).get(name) or {}
        s = ((sft or {}).get("benchmarks") or {}).get(name) or {}
        n = b.get("n_samples") or s.get("n_samples") or "-"
        out.append(f"{name:<10} {n:>4} | {_pct(b.get('pass@1'))} → {_pct(s.get('pass@1'))} | "
                   f"{_pct(b.get('format_rate'))} → {_pct(s.get('format_rate'))} | "
                   f"{_pct(b.get('truncated_rate'))} → {_pct(s.get('truncated_rate'))}")
    return out


def sft_line(train: dict[str, Any] | None) -> str:
    """Steps and loss from train.sft's distillery_train.json (loss means of the first and last quarter of steps)."""
    if not train:
        return "fine-tune: no distillery_train.json"
    losses = [x for x in train.get("losses") or [] if isinstance(x, int | float)]
    if not losses:
        return f"fine-tune: {train.get('global_step', '-')} steps"
    k = max(1, len(losses) // 4)
    first, last = sum(losses[:k]) / k, sum(losses[-k:]) / k
    return (f"fine-tune: {train.get('global_step', len(losses))} steps, loss {first:.2f} → {last:.2f} "
            f"(means of the first and last {k} steps)")


def summary(run: Path) -> str:
    name, flags = cpu_info()
    shown = " ".join(f for f in CPU_FLAGS_SHOWN if f in flags) or "none of " + " ".join(CPU_FLAGS_SHOWN)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [f"== distillery demo: {run}", f"CPU: {name}, {cpu_count()} cores, flags: {shown} → generation dtype "
             f"{native_dtype()}; load average {load}"]
    timings = _load(run / "timings.json") or {}
    total = sum(t["seconds"] for t in timings.values())
    stages = "  ".join(f"{k} {v['seconds']:.0f}s" + ("" if v.get("rc", 0) == 0 else f" (exit {v['rc']})")
                       for k, v in timings.items())
    lines.append(f"time: {stages}  | total {total / 60:.1f} min" if timings else "time: no timings.json")
    lines += corpus_lines(_load(run / "corpus" / "stats.json"))
    lines.append(sft_line(_load(run / "sft" / "distillery_train.json")))
    lines += score_lines(_load(run / "eval" / "base" / "summary.json"), _load(run / "eval" / "sft" / "summary.json"))
    report = next((p for p in (run / "report.html", run / "report.md") if p.exists()), None)
    lines.append(f"report: {report or '(not written)'}   what a 135M model on a CPU can show: recipes/DEMO.md")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, command = argv[:cut], argv[cut + 1:]
    ap = argparse.ArgumentParser(prog="python -m eval.demo", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("time", help="run a command and record its wall time in RUN_DIR/timings.json")
    t.add_argument("run", type=Path)
    t.add_argument("stage")
    s = sub.add_parser("summary", help="print the one-screen summary of a demo run")
    s.add_argument("run", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "time":
        return time_stage(args.run, args.stage, command)
    print(summary(args.run))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
