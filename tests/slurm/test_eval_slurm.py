"""`sbatch slurm/eval.slurm` on the test cluster: a real `python -m eval run` of a checkpoint folder, and the
clear failure when the checkpoint is gone."""

from __future__ import annotations

import json
import os
from pathlib import Path


def test_eval_job_scores_a_checkpoint_into_the_default_folder(
    slurm_cluster, repo: Path, tiny_model: Path, tmp_path: Path
) -> None:
    # A checkpoint-N folder of a run named "sft-run" (the tiny model stands in for trained weights).
    ckpt = tmp_path / "sft-run" / "checkpoint-7"
    ckpt.parent.mkdir()
    ckpt.symlink_to(tiny_model, target_is_directory=True)
    job = slurm_cluster.sbatch(
        "--gpus-per-node=1",
        "--cpus-per-task=2",
        f"--output={tmp_path}/%x-%j.out",
        str(repo / "slurm" / "eval.slurm"),
        str(repo / "recipes" / "eval" / "demo.yaml"),
        str(ckpt),
        "limit=2",
        "samples=1",
        "sampling.max_new_tokens=16",
        cwd=tmp_path,  # the submit directory: default output goes under ./runs/eval
        env={"PYTHONPATH": os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")]))},
    )
    state = slurm_cluster.wait(job, timeout=240)
    log = (tmp_path / f"distillery-eval-{job}.out").read_text(errors="replace")
    assert state == "COMPLETED", log
    out = tmp_path / "runs" / "eval" / "demo" / "sft-run" / "checkpoint-7"
    assert "--out runs/eval/demo/sft-run/checkpoint-7" in log
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == str(ckpt)
    for name in ("math500", "aime24"):
        bench = summary["benchmarks"][name]
        assert (bench["n_problems"], bench["samples_per_problem"], bench["mean_tokens"]) == (2, 1, 16.0)
        rows = [json.loads(line) for line in (out / f"{name}.samples.jsonl").read_text().splitlines()]
        assert len(rows) == 2 and all(r["n_tokens"] == 16 for r in rows)


def test_eval_job_for_a_rotated_away_checkpoint_fails_with_the_reason(
    slurm_cluster, repo: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "run" / "checkpoint-9"
    job = slurm_cluster.sbatch(
        "--gpus-per-node=1",
        "--cpus-per-task=1",
        f"--output={tmp_path}/%x-%j.out",
        "slurm/eval.slurm",
        "recipes/eval/quick.yaml",
        str(missing),
        cwd=repo,
    )
    assert slurm_cluster.wait(job, timeout=60) == "FAILED"
    assert slurm_cluster.job(job)["ExitCode"] == "2:0"
    log = (tmp_path / f"distillery-eval-{job}.out").read_text()
    assert f"error: model folder {missing} does not exist (deleted by checkpoint rotation?" in log
