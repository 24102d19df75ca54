"""Verification: decide for every row whether its response is right, with the method its category calls for.

`verify_rows(rows, cfg)` fills `verification{method, passed, score, reason}` on a batch of rows:

| rows | method | how |
|---|---|---|
| math with a reference answer | `math_verify` | eval's grader (eval.grading.dispatch, the path that scores benchmarks) |
| ... that the grader rejects or cannot parse, with `judge:` set | `llm_judge` | an OpenAI-compatible judge model |
| code with `test_cases` | `code_tests` | the program runs on its tests in the sandbox (data_prep/verifiers/code.py) |
| math without a reference, several samples | `majority` | the samples' majority answer becomes the reference |
| science / other, with `reward_model:` set | `reward_model` | an HF sequence-classification model and a threshold |
| nothing applies | `none` (or the verdict the seed row arrived with) | passed = null: unverifiable |

Batches: the samples of one problem must arrive in the same batch (the pipeline keeps them together), because
majority votes are taken over the rows of a problem within the batch given. Rows of a problem are those with
the same `problem_key` (the build's item id, else source + problem text).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from data_prep.row import response_of, stable_id
from data_prep.verifiers.judge import Judge, JudgeConfig
from data_prep.verifiers.majority import MajorityConfig, vote
from data_prep.verifiers.reward import RewardModelConfig


@dataclass
class CodeConfig:
    """Recipe section `verify.code`."""

    timeout_s: float = 6.0  # per test (LiveCodeBench's limit)
    max_tests: int | None = 50  # run at most this many tests of a row (AM/TACO rows can carry hundreds)
    workers: int | None = None  # sandboxes at a time (default: 2 per CPU)
    memory_mb: int = 4096


@dataclass
class VerifyConfig:
    """Recipe section `verify:`."""

    timeout_s: float = 5.0  # per math answer, enforced by killing the grader process
    workers: int | None = None  # grader processes (default: CPU count)
    keep_unverifiable: bool = False  # publish rows nothing could check (passed=null)
    math_strict: bool = True  # read math answers only from <answer> / \boxed{} (as NeMo-Skills does)
    judge: JudgeConfig | None = None  # LLM second opinion on math rows the grader rejects or cannot parse
    code: CodeConfig = field(default_factory=CodeConfig)
    reward_model: RewardModelConfig | None = None  # science / other rows; unset: they stay unverifiable
    majority: MajorityConfig | None = field(default_factory=MajorityConfig)  # math rows without a reference


def problem_key(row: dict[str, Any]) -> str:
    """Which problem a row answers: the build's item id, else its source and problem text."""
    return (row.get("extra") or {}).get("item_id") or stable_id(row["source"], row["problem"])


def _verdict(method: str, passed: bool | None, score: float | None, reason: str) -> dict[str, Any]:
    return {"method": method, "passed": passed, "score": score, "reason": reason}


_judges: dict[tuple, Judge] = {}
_judges_lock = threading.Lock()


def _judge_for(cfg: JudgeConfig) -> Judge:
    """One judge client per endpoint for the life of the process (a build verifies many batches)."""
    key = tuple(sorted(vars(cfg).items()))
    with _judges_lock:
        if key not in _judges:
            _judges[key] = Judge(cfg)
        return _judges[key]


def verify_rows(rows: list[dict[str, Any]], cfg: VerifyConfig) -> list[dict[str, Any]]:
    """Return the rows with `verification` filled in (input order kept; the input dicts are not changed)."""
    from data_prep.verifiers.code import verify_code_many
    from data_prep.verifiers.math import verify_math
    from data_prep.verifiers.reward import score_rows

    out = [dict(r) for r in rows]
    math_idx, code_idx, rm_idx = [], [], []
    no_ref: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(out):
        if row.get("category") == "code" or row.get("test_cases"):
            if row.get("test_cases"):
                code_idx.append(i)
        elif row.get("category") == "math" and row.get("reference_answer") not in (None, ""):
            math_idx.append(i)
        elif row.get("category") == "math" and cfg.majority is not None:
            no_ref[problem_key(row)].append(i)
        elif row.get("category") in ("science", "other") and cfg.reward_model is not None:
            rm_idx.append(i)

    # Majority vote: the winning answer becomes the group's reference, graded by the same grader below.
    pairs = [(str(out[i]["reference_answer"]), response_of(out[i])) for i in math_idx]
    voted: list[tuple[int, Any]] = []
    for idxs in no_ref.values():
        v = vote([response_of(out[i]) for i in idxs], cfg.majority)
        if v.answer is None:
            for i in idxs:
                out[i]["verification"] = _verdict("majority", None, None, f"unverifiable: {v.reason}")
            continue
        for i in idxs:
            voted.append((i, v))
            pairs.append((v.answer, response_of(out[i])))
    grades = verify_math(pairs, timeout_s=cfg.timeout_s, workers=cfg.workers, strict=cfg.math_strict)
    for i, g in zip(math_idx, grades):
        out[i]["verification"] = _verdict("math_verify", g.passed, g.score, g.reason)
    for (i, v), g in zip(voted, grades[len(math_idx):]):
        out[i]["reference_answer"] = v.answer
        out[i]["verification"] = _verdict("majority", g.passed, round(v.votes / v.samples, 4) if g.passed else 0.0,
                                          f"{v.reason}; " + ("agrees" if g.passed else f"disagrees ({g.reason})"))

    if cfg.judge is not None:
        asks = [i for i, g in zip(math_idx, grades) if g.judgeable]
        judged = _judge_for(cfg.judge).judge_many(
            [(out[i]["problem"], str(out[i]["reference_answer"]), response_of(out[i])) for i in asks])
        for i, j in zip(asks, judged):
            grader = out[i]["verification"]["reason"]
            if j.equivalent:
                out[i]["verification"] = _verdict("llm_judge", True, 1.0, f"{j.reason}; grader said {grader}")
            else:
                out[i]["verification"]["reason"] = f"{grader}; {j.reason}"

    if code_idx:
        c = cfg.code
        verdicts = verify_code_many([(response_of(out[i]), out[i]["test_cases"]) for i in code_idx],
                                    timeout_s=c.timeout_s, max_tests=c.max_tests, workers=c.workers,
                                    memory_mb=c.memory_mb)
        for i, v in zip(code_idx, verdicts):
            out[i]["verification"] = _verdict("code_tests", v.passed, v.score, v.reason)

    if rm_idx:
        rm = cfg.reward_model
        scores = score_rows([(out[i]["problem"], response_of(out[i])) for i in rm_idx], rm)
        for i, s in zip(rm_idx, scores):
            ok = s >= rm.threshold
            out[i]["verification"] = _verdict("reward_model", ok, round(s, 6),
                                              f"reward {s:.4f} {'>=' if ok else '<'} threshold {rm.threshold:g}")

    done = set(math_idx) | set(code_idx) | set(rm_idx) | {i for idxs in no_ref.values() for i in idxs}
    for i, row in enumerate(out):
        if i in done:
            continue
        ver = row.get("verification") or {}
        if ver.get("passed") is not None and ver.get("method") != "unverified":
            continue  # a seed row that arrived with a verdict (OpenMathInstruct's is_correct) keeps it
        if row.get("category") == "code":
            why = "code row without test_cases"
        elif row.get("category") == "math":
            why = "no reference answer and majority vote is off"
        else:
            why = "no reward_model configured for science/other rows"
        row["verification"] = _verdict("none", None, None, f"unverifiable: {why}")
    return out


def add_counts(stats: dict[str, Any], kept: list[dict[str, Any]], rejects: list[Any] = ()) -> dict[str, Any]:
    """Accumulate a batch into `stats` (a plain dict, JSON-ready; start from {}):

    - `by_source` / `by_category` / `by_difficulty`: {name: kept rows};
    - `by_method`: {method: {"passed": n, "failed": n, "unverifiable": n}} over the kept rows;
    - `by_filter`: {"<stage>.<filter>": rejected rows} from reasons written `<stage>.<filter>: detail`
      (quality.think, quality.duplicates, difficulty.downsample, ...), other reasons under their stage.
    """
    for row in kept:
        for key, value in (("by_source", row.get("source")), ("by_category", row.get("category")),
                           ("by_difficulty", row.get("difficulty"))):
            if value is not None:
                stats.setdefault(key, {})
                stats[key][value] = stats[key].get(value, 0) + 1
        ver = row.get("verification") or {}
        p = ver.get("passed")
        slot = stats.setdefault("by_method", {}).setdefault(ver.get("method", "none"),
                                                            {"passed": 0, "failed": 0, "unverifiable": 0})
        slot["passed" if p else ("unverifiable" if p is None else "failed")] += 1
    for rej in rejects:
        reason = rej.reason if hasattr(rej, "reason") else rej.get("reason", "?")
        head = reason.split(":", 1)[0]
        name = head if "." in head else f"{getattr(rej, 'stage', None) or 'other'}.{head}"
        stats.setdefault("by_filter", {})
        stats["by_filter"][name] = stats["by_filter"].get(name, 0) + 1
    return stats


def card_counts(stats: dict[str, Any]) -> list[str]:
    """Markdown lines for the dataset card: counts per source, category, verification method and filter."""
    lines: list[str] = []
    for key, title in (("by_source", "source"), ("by_category", "category"), ("by_difficulty", "difficulty")):
        if stats.get(key):
            lines += [f"| {title} | rows |", "|---|---:|"]
            lines += [f"| {k} | {v} |" for k, v in sorted(stats[key].items(), key=lambda kv: -kv[1])]
            lines.append("")
    if stats.get("by_method"):
        lines += ["| verification method | passed | failed | unverifiable |", "|---|---:|---:|---:|"]
        lines += [f"| {m} | {c['passed']} | {c['failed']} | {c['unverifiable']} |"
                  for m, c in sorted(stats["by_method"].items())]
        lines.append("")
    if stats.get("by_filter"):
        lines += ["| filter | rejected |", "|---|---:|"]
        lines += [f"| {k} | {v} |" for k, v in sorted(stats["by_filter"].items(), key=lambda kv: -kv[1])]
        lines.append("")
    return lines
