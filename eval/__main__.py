"""`python -m eval run|score|report ...` — one entry point, one module per subcommand."""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "run": ("eval.run", "generate responses for a benchmark suite and score them"),
    "score": ("eval.score", "re-score a file of responses offline"),
    "report": ("eval.report", "write an HTML page and a Markdown report for one or more run directories"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        lines = [f"  {name:<8} {help_}" for name, (_, help_) in COMMANDS.items()]
        print("usage: python -m eval {run,score,report} ...\n\n" + "\n".join(lines))
        if argv and argv[0] not in ("-h", "--help"):
            print(f"\nerror: unknown command {argv[0]!r}", file=sys.stderr)
            return 2
        return 0
    module = importlib.import_module(COMMANDS[argv[0]][0])
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
