"""The report's sections, each a function from the loaded runs to Markdown lines (figures go to a `Figures` sink
that names them and keeps their PNG bytes for the HTML page)."""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from eval.metrics import ks_for
from eval.report import plots
from eval.report.lineage import Lineage
from eval.report.render import code, esc, fence, note, num, table
from eval.report.runs import Run

PUBLISHED = {"max_new_tokens": 32768, "temperature": 0.6, "top_p": 0.95}
MAX_REMOVALS_LISTED = 60


class Figures:
    """Collects the report's PNGs: `add` returns the Markdown image line."""

    def __init__(self, folder: str = "report_files"):
        self.folder, self.images = folder, {}

    def add(self, name: str, png: bytes, alt: str) -> list[str]:
        path = f"{self.folder}/{name}.png"
        self.images[path] = png
        return [f"![{esc(alt)}]({path})", ""]


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


def pct(value: Any, stderr: Any = None) -> str:
    if value is None:
        return "—"
    return f"{value:.1f} ± {stderr:.1f}" if isinstance(stderr, float) else f"{value:.1f}"


def bench_column(key: str, b: dict[str, Any], col_of: dict[str, str]) -> str:
    """The published table's column for a benchmark entry (its own key for a relabelled or unknown one)."""
    name = b.get("benchmark") or key
    ref = b.get("reference_column") or col_of.get(name)
    return ref if ref and name == key else key


def columns(runs: list[Run], reference: dict[str, Any]) -> list[str]:
    cols = list(reference["columns"])
    for r in runs:
        for key, b in r.benchmarks.items():
            col = bench_column(key, b, reference["benchmark_columns"])
            if col not in cols:
                cols.append(col)
    return cols


def run_name(r: Run) -> str:
    return f"**{esc(r.label)}**" + (" (partial)" if r.partial else "")


def by_column(r: Run, reference: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    return {bench_column(k, b, reference["benchmark_columns"]): (k, b) for k, b in r.benchmarks.items()}


# --- scores ------------------------------------------------------------------------------------------------

def _paired_delta(a: Run, b: Run, key_a: str, key_b: str) -> tuple[float, float | None, int] | None:
    """Δ pass@1 (a - b) over the problems both runs scored, with the standard error of the per-problem
    differences; None when the samples are not on disk."""
    sa, sb = a.scans.get(key_a), b.scans.get(key_b)
    if sa is None or sb is None:
        return None
    common = sa.per_problem.keys() & sb.per_problem.keys()
    if not common:
        return None
    diffs = [100.0 * (sa.per_problem[p][0] / sa.per_problem[p][1] - sb.per_problem[p][0] / sb.per_problem[p][1])
             for p in common]
    se = statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else None
    return statistics.fmean(diffs), se, len(diffs)


def comparability(r: Run) -> list[str]:
    """Why a run's numbers are not comparable with the published rows (empty when they are)."""
    s = r.summary or {}
    samp = s.get("sampling") or {}
    out = []
    if isinstance(samp.get("max_new_tokens"), int) and samp["max_new_tokens"] < PUBLISHED["max_new_tokens"]:
        out.append(f"max_new_tokens {samp['max_new_tokens']:,} < {PUBLISHED['max_new_tokens']:,}")
    for key in ("temperature", "top_p"):
        if samp.get(key) is not None and samp[key] != PUBLISHED[key]:
            out.append(f"{key} {samp[key]} (published {PUBLISHED[key]})")
    sliced = [f"{k} ({b.get('n_problems')} problems)" for k, b in r.benchmarks.items()
              if b.get("limit") is not None or b.get("offset")]
    if sliced:
        out.append("a slice of " + ", ".join(sliced))
    if r.partial:
        out.append("unfinished run")
    return out


def scores_section(runs: list[Run], baseline: Run | None, reference: dict[str, Any], figs: Figures) -> list[str]:
    scored = [r for r in runs if r.summary is not None]
    if not scored:
        return note("no run has scores to show.")
    cols = columns(scored, reference)
    lines = ["pass@1 in % (mean correctness over samples, averaged over problems) ± one standard error over problems; "
             "in brackets the problems × samples per problem behind each score. Published rows below ours.", ""]
    rows = []
    for r in scored:
        cells = by_column(r, reference)
        row = [f"{run_name(r)} ({code(r.model)})"]
        for c in cols:
            b = cells.get(c, (None, {}))[1]
            row.append("—" if not b or b.get("pass@1") is None else
                       f"{pct(b['pass@1'], b.get('pass@1_stderr'))} ({b.get('n_problems')}×{b.get('samples_per_problem')})")
        rows.append(row)
    rows += [[f"{esc(p['model'])} (published)", *[num(p.get(c)) for c in cols]] for p in reference["rows"]]
    lines += table(["model", *cols], rows)
    lines += ["", f"Published numbers: {esc(reference['source'])}.", ""]
    for r in scored:
        why = comparability(r)
        if why:
            lines.append(f"- {run_name(r)} is not comparable with the published rows: {esc('; '.join(why))}.")
    lines.append("")
    if baseline is not None and baseline.summary is not None and len(scored) > 1:
        lines += [f"### Δ pass@1 vs baseline {code(baseline.label)}", "",
                  "Difference in percentage points over the problems both runs scored, ± the standard error of the "
                  "per-problem differences (paired); without samples on disk, the difference of the two scores ± "
                  "both standard errors combined.", ""]
        base_cells = by_column(baseline, reference)
        delta_rows = []
        for r in scored:
            if r is baseline:
                continue
            row = [run_name(r)]
            for c in cols:
                mine, theirs = by_column(r, reference).get(c), base_cells.get(c)
                if not mine or not theirs or mine[1].get("pass@1") is None or theirs[1].get("pass@1") is None:
                    row.append("—")
                    continue
                paired = _paired_delta(r, baseline, mine[0], theirs[0])
                if paired is not None:
                    d, se, n = paired
                    row.append(f"{d:+.1f}" + (f" ± {se:.1f}" if se is not None else "") + f" ({n} problems)")
                else:
                    ses = [x[1].get("pass@1_stderr") for x in (mine, theirs)]
                    se = math.sqrt(sum(s * s for s in ses)) if all(isinstance(s, float) for s in ses) else None
                    row.append(f"{mine[1]['pass@1'] - theirs[1]['pass@1']:+.1f}" + (f" ± {se:.1f}" if se else ""))
            delta_rows.append(row)
        lines += table(["model", *cols], delta_rows) + [""]
    elif baseline is not None and baseline.summary is None:
        lines += note(f"the baseline {code(baseline.label)} has no scores, so no Δ column.")
    used = [c for c in cols if any(c in by_column(r, reference) for r in scored)]
    series = {r.label: [(by_column(r, reference).get(c, (None, {}))[1].get("pass@1"),
                         by_column(r, reference).get(c, (None, {}))[1].get("pass@1_stderr")) for c in used]
              for r in scored}
    lines += figs.add("scores", plots.scores(used, series), "pass@1 per benchmark and run")
    lines += openmath_table(scored, reference)
    return lines


def openmath_table(runs: list[Run], reference: dict[str, Any]) -> list[str]:
    if not any("gsm8k" in r.benchmarks for r in runs):
        return []
    om = reference["openmath"]
    ours = []
    for r in runs:
        b = r.benchmarks
        g, m = b.get("gsm8k") or {}, b.get("math") or b.get("math500") or {}
        # recipes/eval/openmath.yaml runs maj@50 as separate entries (gsm8k_maj50, math_maj50)
        gm, mm = b.get("gsm8k_maj50") or g, b.get("math_maj50") or m
        gn, mn = gm.get("samples_per_problem"), mm.get("samples_per_problem")
        ours.append([run_name(r), num(g.get("pass@1")), num(m.get("pass@1")), num(gm.get(f"maj@{gn}")),
                     num(mm.get(f"maj@{mn}"))])
    lines = ["OpenMath-style (greedy = pass@1 at temperature 0; our MATH column is MATH-500, theirs the full "
             "5,000-problem MATH test; our maj@n uses the run's n samples):", ""]
    lines += table(["model", *om["columns"]],
                   ours + [[f"{esc(p['model'])} (published)", *[num(p.get(c)) for c in om["columns"]]]
                           for p in om["rows"]])
    return lines + ["", f"Published numbers: {esc(om['source'])}.", ""]


def checkpoints_section(runs: list[Run], baseline: Run | None, figs: Figures) -> list[str]:
    groups: dict[Path, list[Run]] = defaultdict(list)
    for r in runs:
        if r.series is not None and r.step is not None and r.summary is not None:
            groups[r.series].append(r)
    lines: list[str] = []
    for i, (series, members) in enumerate(sorted(groups.items())):
        if len(members) < 2:
            continue
        members.sort(key=lambda r: r.step or 0)
        benches = list(dict.fromkeys(k for r in members for k in r.benchmarks))
        lines += [f"### Training run {code(series)}", "",
                  f"{len(members)} evaluated checkpoints; pass@1 % ± standard error per step.", ""]
        lines += table(["step", "eval run", *[esc(b) for b in benches]],
                       [[num(r.step), esc(r.label), *[pct((r.benchmarks.get(b) or {}).get("pass@1"),
                                                          (r.benchmarks.get(b) or {}).get("pass@1_stderr"))
                                                      for b in benches]] for r in members]) + [""]
        points = {b: [(r.step, r.benchmarks[b]["pass@1"], r.benchmarks[b].get("pass@1_stderr")) for r in members
                      if (r.benchmarks.get(b) or {}).get("pass@1") is not None] for b in benches}
        base = {b: (baseline.label, baseline.benchmarks[b]["pass@1"]) for b in benches
                if baseline is not None and (baseline.benchmarks.get(b) or {}).get("pass@1") is not None}
        lines += figs.add(f"checkpoints_{i}", plots.checkpoints(series.name, benches, points, base),
                          f"score per benchmark across the checkpoints of {series}")
    return lines


def pass_k_section(runs: list[Run], figs: Figures) -> list[str]:
    curves: dict[str, dict[str, tuple[list[int], list[float], list[float]]]] = defaultdict(dict)
    rows = []
    for r in runs:
        for key, b in r.benchmarks.items():
            n = b.get("samples_per_problem") or 0
            if n < 2 or b.get("pass@1") is None:
                continue
            ks = [k for k in ks_for(n) if k == 1 or (f"pass@{k}" in b and f"maj@{k}" in b)]
            passes = [b["pass@1"] if k == 1 else b[f"pass@{k}"] for k in ks]
            majs = [b["pass@1"] if k == 1 else b[f"maj@{k}"] for k in ks]
            curves[key][r.label] = (ks, passes, majs)
            rows.append([run_name(r), esc(key), *[f"k={k}: {p:.1f} / {m:.1f}" for k, p, m in zip(ks, passes, majs)]])
    if not curves:
        return ["Every run drew one sample per problem, so there is no pass@k or maj@k beyond k = 1.", ""]
    width = max(len(r) for r in rows)
    lines = ["pass@k (unbiased estimator) / maj@k (majority vote over the first k samples) in %; k = 1 is pass@1.", ""]
    lines += table(["model", "benchmark", *["pass@k / maj@k"] * (width - 2)],
                   [row + [""] * (width - len(row)) for row in rows]) + [""]
    lines += figs.add("pass_maj_at_k", plots.pass_maj_at_k(list(curves), curves), "pass@k and maj@k over k")
    return lines


def lengths_section(runs: list[Run], figs: Figures) -> list[str]:
    lines: list[str] = []
    rows = []
    for i, r in enumerate(runs):
        limit = ((r.summary or {}).get("sampling") or {}).get("max_new_tokens")
        panels = []
        for key, scan in r.scans.items():
            if not scan.rows:
                continue
            good, bad = scan.lengths(True), scan.lengths(False)
            panels.append((key, good, bad, scan.length_unit, limit))
            rows.append([run_name(r), esc(key), scan.length_unit, num(len(good)),
                         num(statistics.median(good)) if good else "—", num(len(bad)),
                         num(statistics.median(bad)) if bad else "—"])
        if panels:
            lines += figs.add(f"lengths_{i}", plots.lengths(r.label, panels), f"response lengths of {r.label}")
    if not rows:
        return ["No samples file could be read, so there are no response lengths.", ""]
    return table(["model", "benchmark", "unit", "correct", "median length", "wrong", "median length"], rows) + [""] \
        + lines


def rates_section(runs: list[Run], figs: Figures) -> list[str]:
    benches = list(dict.fromkeys(k for r in runs for k in r.benchmarks))
    if not benches:
        return []
    rows = [[run_name(r), esc(k), num(b.get("truncated_rate")), num(b.get("no_answer_rate")),
             num(b.get("format_rate")), num(b.get("mean_tokens"))]
            for r in runs for k, b in r.benchmarks.items()]
    lines = ["Truncated: the response hit the token budget (or never closed its reasoning); no answer: nothing could "
             "be extracted; format: the answer was in `<answer>` or the last `\\boxed{}` (strict format).", ""]
    lines += table(["model", "benchmark", "truncated %", "no answer %", "format %", "mean tokens"], rows) + [""]
    trunc = {r.label: [(r.benchmarks.get(b) or {}).get("truncated_rate") for b in benches] for r in runs}
    none = {r.label: [(r.benchmarks.get(b) or {}).get("no_answer_rate") for b in benches] for r in runs}
    return lines + figs.add("rates", plots.rates(benches, trunc, none), "truncation and no-answer rates")


def breakdowns_section(runs: list[Run], figs: Figures) -> list[str]:
    lines: list[str] = []
    found: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    for r in runs:
        for key, b in r.benchmarks.items():
            for dim, groups in (b.get("by") or {}).items():
                found[(key, dim)][r.label] = groups
    for i, ((key, dim), per_run) in enumerate(sorted(found.items())):
        groups = sorted({g for gs in per_run.values() for g in gs}, key=lambda g: (not g.isdigit(), int(g) if
                                                                                  g.isdigit() else 0, g))
        labels = list(per_run)
        lines += [f"### {esc(key)} by {esc(dim)}", ""]
        lines += table([esc(dim), *[f"{esc(label)} pass@1 (problems)" for label in labels]],
                       [[esc(g), *[f"{pct(per_run[label][g]['pass@1'])} ({per_run[label][g]['n_problems']})"
                                   if g in per_run[label] else "—" for label in labels]] for g in groups]) + [""]
        series = {label: [(per_run[label].get(g) or {}).get("pass@1") for g in groups] for label in labels}
        lines += figs.add(f"by_{i}_{_safe(key)}_{_safe(dim)}", plots.breakdown(f"{key}: pass@1 by {dim}",
                                                                                groups, series),
                          f"{key} pass@1 by {dim}")
    return lines or ["The benchmarks run carry no subject, level or difficulty labels.", ""]


# --- lineage -----------------------------------------------------------------------------------------------

def _generic_table(mapping: dict[str, Any], first: str) -> list[str]:
    """A table from {row name: {column: value}} with the union of the inner keys as columns."""
    cols = list(dict.fromkeys(c for v in mapping.values() if isinstance(v, dict) for c in v))
    return table([first, *[esc(c) for c in cols]],
                 [[esc(k), *[num((v or {}).get(c)) if isinstance(v, dict) else num(v) for c in cols]]
                  for k, v in mapping.items()])


def lineage_block(lin: Lineage, users: list[Run]) -> list[str]:
    rec = lin.record
    stats = lin.stats or {}
    name = stats.get("name") or Path(str(rec.get("dataset_name") or "?")).name
    lines = [f"### Corpus {code(name)}", "",
             f"Trained by `train.sft` on this corpus: {', '.join(code(r.label) for r in users)} "
             f"(lineage recorded in {code(lin.where / 'distillery_corpus.json')}).", ""]
    lines += table(["", ""], [
        ["corpus", code(rec.get("path") or rec.get("dataset_name"))],
        ["kind", esc(rec.get("kind"))],
        ["content sha256", code(rec.get("content_sha256") or rec.get("hub_fingerprint") or "—")],
        ["files", f"{num(len(rec.get('files') or []))} ({num(rec.get('bytes'))} bytes, "
                  f"{num(sum(f.get('lines', 0) for f in rec.get('files') or []))} lines)"],
        ["recipe (build name)", code(name) + (f" — {esc(stats['description'])}" if stats.get("description") else "")],
        ["rows kept", num(stats.get("rows"))],
        ["build stats", code(lin.stats_from) if lin.stats_from else "not recorded"],
    ]) + [""]
    if stats.get("by_source"):
        lines += ["Rows per source:", ""] + _generic_table(
            {k: {"rows": v} if not isinstance(v, dict) else v for k, v in stats["by_source"].items()}, "source") + [""]
    for key, title in (("verification", "Verification per source / response kind"),
                       ("by_method", "Verification per method"), ("verification_methods", "Verification per method")):
        if isinstance(stats.get(key), dict) and stats[key]:
            lines += [f"{title}:", ""] + _generic_table(stats[key], "source / method") + [""]
    if stats.get("rejects"):
        lines += ["Rejects per stage: " + ", ".join(f"{esc(k)} {num(v)}" for k, v in stats["rejects"].items()), ""]
    lines += contamination_block(lin, users)
    for n in lin.notes:
        lines += note(n)
    return lines


def contamination_block(lin: Lineage, users: list[Run]) -> list[str]:
    lines = ["#### Contamination: benchmark items found in the training data and removed", ""]
    if lin.removals is None:
        return lines + note("the corpus build left no contamination report (no corpus_contamination.json beside the "
                            "checkpoint, no contamination.json or rejects/decontaminate.jsonl in the corpus folder): "
                            "whether it was decontaminated is unknown.")
    checked = f" against {', '.join(code(b) for b in lin.checked)}" if lin.checked else ""
    lines += [f"Decontaminated{checked}; report {code(lin.contamination_from)}. "
              f"**{len(lin.removals)}** training row(s) removed.", ""]
    if not lin.removals:
        return lines
    counts = Counter((str(r["benchmark"]), str(r["method"])) for r in lin.removals)
    lines += table(["benchmark", "method", "rows removed"], [[esc(b), esc(m), num(n)] for (b, m), n in
                                                               sorted(counts.items())]) + [""]
    shown = lin.removals[:MAX_REMOVALS_LISTED]
    lines += table(["benchmark", "benchmark item", "method", "score", "training row", "source"],
                   [[esc(r["benchmark"]), code(r["item_id"] or "?"), esc(r["method"]),
                     num(r["score"], 3) if isinstance(r["score"], float) else num(r["score"]),
                     code(r["row_id"] or "?"), esc(r["source"])] for r in shown]) + [""]
    if len(lin.removals) > len(shown):
        lines += [f"… and {len(lin.removals) - len(shown)} more in {code(lin.contamination_from)}.", ""]
    removed: dict[str, set[str]] = defaultdict(set)
    for r in lin.removals:
        removed[str(r["benchmark"])].add(str(r["item_id"]))
    for run in users:
        for key, b in run.benchmarks.items():
            bench = str(b.get("benchmark") or key)
            scan = run.scans.get(key)
            if bench in removed and scan is not None:
                hit = sorted(removed[bench] & scan.per_problem.keys())
                lines.append(f"- {code(run.label)} / {esc(key)}: {len(hit)} of the {len(scan.per_problem)} problems "
                             f"scored were among the removed items" + (": " + ", ".join(code(h) for h in hit)
                                                                       if hit else "") + ".")
    return lines + [""]


def lineage_section(runs: list[Run]) -> list[str]:
    lines: list[str] = []
    by_key: dict[str, tuple[Lineage, list[Run]]] = {}
    for r in runs:
        if r.lineage is not None:
            by_key.setdefault(r.lineage.key, (r.lineage, []))[1].append(r)
    for lin, users in by_key.values():
        lines += lineage_block(lin, users)
    others = [r for r in runs if r.lineage is None and r.summary is not None]
    for r in others:
        if r.model_folder is None:
            lines.append(f"- {code(r.label)}: model {code(r.model)} is not a folder reachable from here (a hub id or a "
                         "server model), so its training data is not known to this report.")
        else:
            lines.append(f"- {code(r.label)}: {code(r.model_folder)} holds no `distillery_corpus.json` — not trained "
                         "by `train.sft` (a base model), so there is no corpus to trace.")
    return lines + [""]


# --- audits ------------------------------------------------------------------------------------------------

def audits_section(runs: list[Run]) -> list[str]:
    lines = ["### Grader disagreements", "",
             "Samples where math-verify and the independent second grader (`math_equal`) disagree; the score uses "
             "math-verify. Read them to decide which grader was right.", ""]
    any_dis = False
    for r in runs:
        for key, d in r.disagreements.items():
            any_dis = True
            lines.append(f"- {code(r.label)} / {esc(key)}: **{d.count}** disagreement(s) in {code(d.path)}"
                         + (f" ({esc(d.note)})" if d.note else ""))
            if d.examples:
                lines += ["", *table(["problem", "sample", "gold", "extracted", "math-verify", "second grader"],
                                     [[code(e.get("problem_id")), num(e.get("sample")), code(e.get("gold") or "—"),
                                       code(e.get("extracted") or "—"),
                                       f"{num(bool(e.get('correct')))} ({esc(e.get('reason'))})",
                                       f"{num(bool(e.get('second_correct')))} ({esc(e.get('second_reason'))})"]
                                      for e in d.examples]), ""]
    if not any_dis:
        lines += ["No run was graded by two graders (math benchmarks with `second_grader: true` write a "
                  "`<benchmark>.disagreements.jsonl`).", ""]
    lines += ["", "### Truncated responses", ""]
    if not any(r.scans for r in runs):
        lines += ["No samples file could be read, so truncated responses and wrong answers cannot be shown.", ""]
        return lines
    for r in runs:
        for key, scan in r.scans.items():
            rate = 100.0 * scan.truncated / scan.rows if scan.rows else 0.0
            lines += [f"{code(r.label)} / {esc(key)}: **{scan.truncated}** of {scan.rows} samples truncated "
                      f"({rate:.1f}%)" + (", e.g.:" if scan.truncated else "."), ""]
            for e in scan.truncated_examples.items if scan.truncated_examples else []:
                lines += [f"- {code(e['problem_id'])} sample {num(e['sample'])}, {num(e['n_tokens'])} tokens, "
                          f"finish reason {esc(e['finish_reason'])}; the end of the response:", ""]
                lines += [*fence(e["tail"]), ""]
    lines += ["", "### Sampled wrong answers", "",
              "A few wrong samples per benchmark (uniform sample, fixed seed): the extracted answer beside the gold.", ""]
    for r in runs:
        for key, scan in r.scans.items():
            items = scan.wrong.items if scan.wrong else []
            lines += [f"{code(r.label)} / {esc(key)}: {scan.wrong.seen if scan.wrong else 0} wrong samples"
                      + (", e.g.:" if items else "."), ""]
            if items:
                lines += table(["problem", "sample", "gold", "extracted", "reason", "end of response"],
                               [[code(e["problem_id"]), num(e["sample"]), code(e["gold"] or "—"),
                                 code(e["extracted"]) if e["extracted"] is not None else "(none)", esc(e["reason"]),
                                 esc(e["tail"][-160:])] for e in items]) + [""]
    return lines


# --- reproducibility ---------------------------------------------------------------------------------------

def _short(h: Any) -> str:
    return code(str(h)[:12]) if h else "—"


def reproducibility_section(runs: list[Run]) -> list[str]:
    lines: list[str] = []
    for r in runs:
        s = r.summary or {}
        prov = s.get("provenance") or {}
        samp = s.get("sampling") or {}
        prompt = s.get("prompt") or {}
        harness = prov.get("harness") or {}
        model = prov.get("model") or {}
        rows = [
            ["eval folder", code(r.folder)],
            ["model", code(r.model) + (f" (step {r.step} of {code(r.series)})" if r.series else "")],
            ["backend", esc(s.get("backend"))],
            ["recipe", code(s.get("recipe_path") or s.get("recipe") or "—")],
            ["dates (UTC)", f"{esc(s.get('started'))} → {esc(s.get('finished'))} ({num(s.get('elapsed_s'))} s)"],
            ["sampling", f"temperature {num(samp.get('temperature'), 2)}, top-p {num(samp.get('top_p'), 2)}, "
                         f"max_new_tokens {num(samp.get('max_new_tokens'))}, seed {num(samp.get('seed'))}"],
            ["samples / benchmark", ", ".join(f"{esc(k)} {num(b.get('n_problems'))}×{num(b.get('samples_per_problem'))}"
                                              + (f" (overrides {esc(b['sampling'])})" if b.get("sampling") else "")
                                              for k, b in r.benchmarks.items())],
            ["prompt", f"system prompt {code(prompt.get('system_prompt')) if prompt.get('system_prompt') else 'none'}, "
                       f"think prefix {num(prompt.get('think_prefix'))}, chat template "
                       f"{code(prompt.get('chat_template')) if prompt.get('chat_template') else 'the model' + chr(39) + 's'}"],
            ["strict format", num(s.get("strict_format"))],
            ["throughput", f"{num(s.get('generated_tokens'))} tokens in {num(s.get('generation_s'))} s "
                           f"({num(s.get('tokens_per_s'))} tokens/s)"],
        ]
        if prov:
            libs = prov.get("libraries") or {}
            rows += [
                ["harness", f"distillery {esc(harness.get('version'))}, commit {_short(harness.get('commit'))}"
                            + (" (modified files)" if harness.get("dirty") else "")
                            + (f" on {code(harness.get('branch'))}" if harness.get("branch") else "")],
                ["libraries", ", ".join(f"{esc(k)} {esc(v)}" for k, v in libs.items() if v)],
                ["python / platform", f"{esc(prov.get('python'))} on {esc(prov.get('platform'))}, host "
                                      f"{esc(prov.get('hostname'))}"
                                      + (f", {esc(', '.join(prov['accelerators']))}" if prov.get("accelerators") else "")],
                ["model identity", ", ".join(f"{esc(k)} {code(v) if 'sha' in k else esc(v)}" for k, v in model.items()
                                             if k != "path" and v is not None)],
                ["prompt sha256", ", ".join(f"{esc(k)} {_short(v)}" for k, v in (prov.get("prompt_sha256") or {}).items())],
                ["seeds", ", ".join(f"{esc(k)} {num(v)}" for k, v in (prov.get("seeds") or {}).items())
                          + f" — {esc(prov.get('seed_rule'))}"],
            ]
        else:
            host = s.get("host") or {}
            rows.append(["provenance", "not recorded: this summary.json predates `eval/provenance.py` (no harness "
                                       "commit, library versions or prompt hashes)"
                         + (f"; python {esc(host.get('python'))} on {esc(host.get('platform'))}" if host else "")])
        lines += [f"### {esc(r.label)}", ""] + table(["", ""], rows) + [""]
    return lines
