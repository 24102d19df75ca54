"""`python -m eval.sandbox run FILE.py [--stdin FILE] [--timeout S] [--memory-mb N]` → one JSON object.

Also `python -m eval.sandbox probe`: say whether this host can isolate, and how.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from eval.sandbox.isolation import SandboxUnavailable, probe
from eval.sandbox.limits import Limits
from eval.sandbox.runner import run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.sandbox", description="Run untrusted Python in a sandbox.")
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run FILE.py and print the result as one JSON object")
    r.add_argument("file", type=Path)
    r.add_argument("--stdin", type=Path, default=None, help="file fed to the program's stdin")
    r.add_argument("--timeout", type=float, default=None, help="wall-clock limit in seconds (default 10)")
    r.add_argument("--cpu", type=float, default=None, help="CPU limit in seconds (default: the timeout)")
    r.add_argument("--memory-mb", type=int, default=None, help="address-space limit in MiB (default 1024)")
    r.add_argument("--max-output", type=int, default=None, help="stdout cap in bytes (default 16 MiB)")
    r.add_argument("--allow-unisolated", action="store_true",
                   help="if this host cannot isolate, run anyway without isolation (prints a warning)")
    sub.add_parser("probe", help="check whether this host can isolate")
    args = ap.parse_args(argv)

    if args.command == "probe":
        found = probe()
        print(json.dumps({"isolated": found.ok, "reason": found.reason, "bwrap": found.bwrap,
                          "uid_switch": found.as_root}))
        return 0 if found.ok else 1
    if not args.file.is_file():
        print(f"error: {args.file}: no such file", file=sys.stderr)
        return 2
    stdin = b""
    if args.stdin is not None:
        if not args.stdin.is_file():
            print(f"error: {args.stdin}: no such file (--stdin)", file=sys.stderr)
            return 2
        stdin = args.stdin.read_bytes()
    limits = Limits().with_(timeout=args.timeout, cpu=args.cpu, memory_mb=args.memory_mb, max_output=args.max_output)
    try:
        # One run per process: a pool would only add a zygote's start-up to it.
        result = run(path=args.file, stdin=stdin, limits=limits, allow_unisolated=True if args.allow_unisolated else None,
                     pool=False)
    except SandboxUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result.to_dict(), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
