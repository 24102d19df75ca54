"""The respond stage: a response for every problem — its own reference solution, a seed row's response, or a
teacher's samples (served locally with `transformers serve` or any OpenAI-compatible endpoint)."""

from __future__ import annotations

import json
import time
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from data_prep.ingest import Reject
from data_prep.progress import console, progress
from data_prep.row import make_row
from data_prep.teacher import Teacher, TeacherConfig, TeacherServer
from eval.jsonl import iter_jsonl
from eval.recipe import to_dict

if TYPE_CHECKING:
    from data_prep.build import Build, BuildRecipe


def item_row(item: dict[str, Any], response: str, teacher: str | None = None,
             sampling: dict | None = None, n_tokens: int | None = None) -> dict[str, Any]:
    return make_row(problem=item["problem"], response=response, source=item["source"], category=item["category"],
                    reference_answer=item.get("reference_answer"), teacher=teacher, sampling=sampling,
                    n_tokens=n_tokens, extra={"origin": item["origin"], "item_id": item["item_id"],
                                              "response_mode": item["response_mode"]})


def run_teacher(items: list[dict], cfg: TeacherConfig, b: Build) -> tuple[list[dict], list[Reject]]:
    """Ask the teacher for every (item, sample) not already answered in work/teacher.jsonl."""
    results_path = b.work / "teacher.results.jsonl"
    answered: dict[tuple[str, int], dict] = {}
    if results_path.exists():
        for _, rec in iter_jsonl(results_path):
            if isinstance(rec, dict) and "error" not in rec:  # failed requests are retried on resume
                answered[(rec["item_id"], rec["sample"])] = rec
    by_id = {it["item_id"]: it for it in items}
    jobs = [(it["item_id"], s, it["problem"]) for it in items for s in range(cfg.samples)
            if (it["item_id"], s) not in answered]
    if jobs:
        serving = (TeacherServer(cfg.serve_model, b.work / "teacher_server.log", cfg.server_start_timeout_s,
                                 dtype=cfg.serve_dtype, extra_args=tuple(cfg.serve_args))
                   if cfg.serve_model and not cfg.base_url else nullcontext())
        with serving as server:
            base_url = cfg.base_url or server.base_url
            model = cfg.model if cfg.base_url or cfg.model != "teacher" else cfg.serve_model
            teacher = Teacher(TeacherConfig(**{**to_dict(cfg), "model": model}), base_url)
            console.print(f"teacher: {len(jobs)} requests to {base_url} ({len(answered)} already answered)")
            t0, tokens = time.monotonic(), 0
            with progress() as bar, results_path.open("a", encoding="utf-8") as fh:
                task = bar.add_task("teacher", total=len(jobs), rate="")

                def on_result(res: dict) -> None:
                    nonlocal tokens
                    fh.write(json.dumps(res, ensure_ascii=False) + "\n")
                    fh.flush()
                    if "error" not in res:
                        answered[(res["item_id"], res["sample"])] = res
                    tokens += res.get("completion_tokens") or 0
                    rate = f"{tokens / max(time.monotonic() - t0, 1e-9):.0f} tok/s"
                    bar.update(task, advance=1, rate=rate)

                teacher.respond(jobs, on_result)
    rows, rejects = [], []
    sampling = {"temperature": cfg.temperature, "top_p": cfg.top_p, "max_tokens": cfg.max_tokens}
    for it in items:
        for s in range(cfg.samples):
            res = answered.get((it["item_id"], s))
            if res is None:
                rejects.append(Reject("respond", "teacher request failed (retried on --resume)",
                                      file=it["origin"]["file"], line=it["origin"]["line"],
                                      record={"item_id": it["item_id"], "sample": s}))
                continue
            if not res["response"].replace("<think>", "").replace("</think>", "").strip():
                rejects.append(Reject("respond", "teacher returned no text (content and reasoning empty)",
                                      file=it["origin"]["file"], line=it["origin"]["line"], field="response",
                                      record={"item_id": it["item_id"], "sample": s}))
                continue
            if res.get("finish_reason") == "length":
                rejects.append(Reject("respond", f"teacher hit max_tokens={cfg.max_tokens} (truncated response)",
                                      file=it["origin"]["file"], line=it["origin"]["line"], field="response",
                                      record={"item_id": it["item_id"], "sample": s, "response": res["response"]}))
                continue
            rows.append(item_row(by_id[it["item_id"]], res["response"], teacher=cfg.model if cfg.base_url
                                 else Path(cfg.serve_model or "teacher").name, sampling={**sampling, "sample": s},
                                 n_tokens=res.get("completion_tokens")))
    return rows, rejects


def run_respond(items: list[dict], recipe: BuildRecipe, b: Build) -> tuple[list[dict], list[Reject]]:
    rows, rejects, to_teacher = [], [], []
    for it in items:
        mode = it["response_mode"]
        if mode == "teacher":
            to_teacher.append(it)
        elif mode == "reference":
            if it.get("reference_response"):
                rows.append(item_row(it, it["reference_response"], teacher="reference"))
            else:
                rejects.append(Reject("respond", "response: reference requested but the source has no solution",
                                      file=it["origin"]["file"], line=it["origin"]["line"], field="solution"))
        elif mode == "own":
            if "row" in it:
                row = dict(it["row"])
                row["extra"] = {**(row.get("extra") or {}), "origin": it["origin"], "item_id": it["item_id"],
                                "response_mode": "own"}
                rows.append(row)
            else:
                rejects.append(Reject("respond", "response: own requested but the format carries no response",
                                      file=it["origin"]["file"], line=it["origin"]["line"]))
        else:
            raise ValueError(f"{it['origin']['file']}: unknown response mode {mode!r} (reference, teacher, own)")
    if to_teacher:
        if recipe.teacher is None:
            raise ValueError("a source asks for response: teacher but the recipe has no 'teacher' section")
        t_rows, t_rejects = run_teacher(to_teacher, recipe.teacher, b)
        rows += t_rows
        rejects += t_rejects
    return rows, rejects
