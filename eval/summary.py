"""What every scoring command shows and writes at the end: the one-screen table and the graders' audit file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from eval.jsonl import write_jsonl

AUDIT_FIELDS = ("problem_id", "sample", "gold", "extracted", "how", "correct", "reason", "second_correct",
                "second_reason")


def write_disagreements(path: Path, rows: list[dict[str, Any]]) -> Path | None:
    """Write the samples on which the two math graders disagree (with the response's closing part) to `path`;
    None when no row was graded by the second grader."""
    graded = [r for r in rows if r.get("second_correct") is not None]
    if not graded:
        return None
    audit = [{**{k: r.get(k) for k in AUDIT_FIELDS}, "response_tail": str(r.get("response", ""))[-800:]}
             for r in graded if bool(r["second_correct"]) != bool(r["correct"])]
    write_jsonl(path, audit)
    return path


def _fmt(value: Any, stderr: Any = None) -> str:
    if value is None:
        return "—"
    text = f"{value:.1f}" if isinstance(value, float) else str(value)
    return f"{text} ± {stderr:.1f}" if isinstance(stderr, float) else text


def print_benchmark_table(benchmarks: dict[str, dict[str, Any]], console: Console, title: str | None = None) -> None:
    """Scores per benchmark in percent: the default and the strict-format reading side by side."""
    table = Table(title=title)
    columns = ("benchmark", "problems", "n", "pass@1", "strict", "format%", "maj@n", "pass@n", "trunc%", "no-ans%",
               "graders≠", "tokens")
    for col in columns:
        table.add_column(col, justify="left" if col == "benchmark" else "right", no_wrap=True)
    for name, b in benchmarks.items():
        n = b.get("samples_per_problem") or 0
        table.add_row(name, _fmt(b.get("n_problems")), _fmt(n), _fmt(b.get("pass@1"), b.get("pass@1_stderr")),
                      _fmt(b.get("pass@1_strict")), _fmt(b.get("format_rate")), _fmt(b.get(f"maj@{n}")),
                      _fmt(b.get(f"pass@{n}")), _fmt(b.get("truncated_rate")), _fmt(b.get("no_answer_rate")),
                      _fmt(b.get("grader_disagreements")), _fmt(b.get("mean_tokens")))
    console.print(table)
