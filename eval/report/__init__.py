"""`python -m eval report RUN_DIR... [--out DIR] [--baseline RUN_DIR]` — one page that explains eval runs.

A RUN_DIR is an eval output folder (summary.json, `<benchmark>.samples.jsonl`, `<benchmark>.disagreements.jsonl`)
or a pipeline folder such as runs/demo/ with `corpus/`, `sft/` and `eval/<name>/`. The report is written twice with
the same content: `report.html` (one self-contained file: figures embedded as PNG data, no network needed) and
`report.md` (figures in `report_files/`). It holds the scores beside the published tables and the Δ to a baseline,
figures (checkpoints, pass@k / maj@k, lengths, truncation, breakdowns), the corpus lineage of each fine-tuned model
with its contamination removals, audits (grader disagreements, truncated responses, wrong answers) and a
reproducibility block per run. A missing or unfinished run is a note in the report, not an error.
"""

from __future__ import annotations

from eval.report.build import build_report, main

__all__ = ["build_report", "main"]
