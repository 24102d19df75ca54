"""The report's figures (matplotlib, Agg backend: no display needed), each returned as PNG bytes.

Every function takes plain numbers the report already gathered, so a figure never re-reads a samples file.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend is chosen first
from matplotlib.figure import Figure  # noqa: E402

DPI = 96
WIDTH = 10.0


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=DPI)
    plt.close(fig)
    return buf.getvalue()


def _grid(n: int, cols: int = 3, height: float = 3.0) -> tuple[Figure, list]:
    cols = max(1, min(cols, n))
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, height * rows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _bars(ax, groups: Sequence[str], series: dict[str, list[float | None]], errors: dict[str, list[float | None]]
          | None = None, horizontal: bool = False) -> None:
    """Grouped bars: one group per entry of `groups`, one bar per series; None values are left out."""
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        pos = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        keep = [(p, v, (errors or {}).get(name, [None] * len(values))[j]) for j, (p, v) in enumerate(zip(pos, values))
                if v is not None]
        if not keep:
            continue
        ps, vs, es = zip(*keep)
        err = [e or 0.0 for e in es] if any(e for e in es) else None
        if horizontal:
            ax.barh(ps, vs, height=width, xerr=err, label=name, capsize=2)
        else:
            ax.bar(ps, vs, width=width, yerr=err, label=name, capsize=2)
    if horizontal:
        ax.set_yticks(range(len(groups)), groups, fontsize=8)
        ax.invert_yaxis()
    else:
        ax.set_xticks(range(len(groups)), groups, fontsize=8, rotation=20 if len(groups) > 4 else 0)


def scores(benchmarks: list[str], runs: dict[str, list[tuple[float | None, float | None]]]) -> bytes:
    """pass@1 ± standard error per benchmark, one bar per run."""
    fig, ax = plt.subplots(figsize=(WIDTH, 3.6))
    _bars(ax, benchmarks, {r: [v for v, _ in vals] for r, vals in runs.items()},
          {r: [e for _, e in vals] for r, vals in runs.items()})
    ax.set_ylim(0, max(5.0, ax.get_ylim()[1]))
    ax.set_ylabel("pass@1 (%)")
    ax.set_title("pass@1 per benchmark (error bars: ± 1 standard error over problems)")
    ax.legend(fontsize=8, ncols=min(4, len(runs)))
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def checkpoints(name: str, benchmarks: list[str], points: dict[str, list[tuple[int, float, float | None]]],
                baselines: dict[str, tuple[str, float]]) -> bytes:
    """Score per benchmark over training steps (band: ± 1 standard error); the baseline as a dashed line."""
    fig, axes = _grid(len(benchmarks))
    for ax, bench in zip(axes, benchmarks):
        pts = sorted(points.get(bench, []))
        if pts:
            steps, vals, errs = zip(*pts)
            ax.plot(steps, vals, marker="o", label="checkpoints")
            lo = [v - (e or 0.0) for v, e in zip(vals, errs)]
            hi = [v + (e or 0.0) for v, e in zip(vals, errs)]
            ax.fill_between(steps, lo, hi, alpha=0.2)
        if bench in baselines:
            label, value = baselines[bench]
            ax.axhline(value, linestyle="--", color="grey", label=f"baseline {label}")
        ax.set_ylim(0, max(5.0, ax.get_ylim()[1]))
        ax.set_title(bench, fontsize=10)
        ax.set_xlabel("training step")
        ax.set_ylabel("pass@1 (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"checkpoints of {name}", fontsize=11)
    return _png(fig)


def pass_maj_at_k(benchmarks: list[str], curves: dict[str, dict[str, tuple[list[int], list[float], list[float]]]]) \
        -> bytes:
    """pass@k (solid) and maj@k (dashed) over k per benchmark; curves[benchmark][run] = (ks, pass, maj)."""
    fig, axes = _grid(len(benchmarks))
    for ax, bench in zip(axes, benchmarks):
        for i, (run, (ks, passes, majs)) in enumerate(curves.get(bench, {}).items()):
            color = f"C{i % 10}"
            ax.plot(ks, passes, marker="o", color=color, label=f"{run} pass@k")
            ax.plot(ks, majs, marker="s", linestyle="--", color=color, label=f"{run} maj@k")
        ax.set_xscale("log", base=2)
        ax.set_ylim(0, max(5.0, ax.get_ylim()[1]))
        ax.set_title(bench, fontsize=10)
        ax.set_xlabel("k (samples)")
        ax.set_ylabel("%")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _png(fig)


def lengths(run: str, panels: list[tuple[str, list[int], list[int], str, int | None]]) -> bytes:
    """Response-length histograms of correct vs wrong samples; panels = (benchmark, correct, wrong, unit, limit)."""
    fig, axes = _grid(len(panels))
    for ax, (bench, good, bad, unit, limit) in zip(axes, panels):
        both = good + bad
        top = max(both) if both else 1
        bins = [top * i / 24 for i in range(25)] if top > 0 else 10
        if bad:
            ax.hist(bad, bins=bins, alpha=0.6, color="C3", label=f"wrong ({len(bad)})")
        if good:
            ax.hist(good, bins=bins, alpha=0.6, color="C2", label=f"correct ({len(good)})")
        if limit and unit == "tokens":
            ax.axvline(limit, color="black", linestyle=":", label=f"max_new_tokens {limit}")
        ax.set_title(bench, fontsize=10)
        ax.set_xlabel(f"response length ({unit})")
        ax.set_ylabel("samples")
        ax.legend(fontsize=7)
    fig.suptitle(f"response lengths — {run}", fontsize=11)
    return _png(fig)


def rates(benchmarks: list[str], truncated: dict[str, list[float | None]], no_answer: dict[str, list[float | None]]) \
        -> bytes:
    """Truncation and no-answer rates per benchmark, one bar per run."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(WIDTH, 3.4))
    for ax, series, title in ((left, truncated, "truncated (hit the token budget)"),
                              (right, no_answer, "no answer extracted")):
        _bars(ax, benchmarks, series)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("% of samples")
        ax.set_ylim(0, 105)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7)
    return _png(fig)


def breakdown(title: str, groups: list[str], series: dict[str, list[float | None]]) -> bytes:
    """pass@1 per group (subject, level, ...) as horizontal bars, one per run."""
    fig, ax = plt.subplots(figsize=(WIDTH, 0.9 + 0.28 * len(groups) * max(1, min(3, len(series)))))
    _bars(ax, groups, series, horizontal=True)
    ax.set_xlabel("pass@1 (%)")
    ax.set_xlim(0, 100)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7)
    return _png(fig)


def losses(points: list[tuple[float, float]], name: str) -> bytes:
    fig, ax = plt.subplots(figsize=(WIDTH, 3.0))
    xs, ys = zip(*points)
    ax.plot(xs, ys, marker=".")
    ax.set_xlabel("logged step")
    ax.set_ylabel("training loss")
    ax.set_title(f"training loss — {name}", fontsize=10)
    ax.grid(alpha=0.3)
    return _png(fig)
