"""data_prep.slurm with the Ray engine on the test cluster: a Ray head started by srun on the allocated node, the
build run against it (engine ray), the Ray processes gone when the job ends."""

from __future__ import annotations

import json
from pathlib import Path

import yaml


def test_data_prep_job_runs_the_build_on_a_ray_cluster(slurm_cluster, repo: Path, shared: Path, tmp_path: Path):
    src = tmp_path / "gsm.jsonl"
    src.write_text("\n".join((shared / "samples" / "gsm8k_train.jsonl").read_text().splitlines()[:150]) + "\n")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({
        "name": "ray-slurm", "shard_size": 50, "decontaminate": None, "out": str(tmp_path / "corpus"),
        "sources": [{"path": str(src), "format": "gsm8k"}],
        "verify": {"timeout_s": 5.0, "workers": 1},
    }))
    job = slurm_cluster.sbatch(
        "--cpus-per-task=2", "--mem=6000", f"--output={tmp_path}/%x-%j.out", "slurm/data_prep.slurm", str(recipe),
        cwd=repo, env={"DISTILLERY_LOG_DIR": str(tmp_path), "RAY_PORT": str(_free_port())},
    )  # fmt: skip
    state = slurm_cluster.wait(job, timeout=400)
    log = (tmp_path / f"distillery-data-{job}.out").read_text(errors="replace")
    assert state == "COMPLETED", log[-4000:]
    assert "ray cluster up:" in log and "--engine ray" in log
    assert json.loads((tmp_path / "corpus" / "work" / "recipe.json").read_text())["engine"] == "ray"
    stats = json.loads((tmp_path / "corpus" / "stats.json").read_text())
    assert stats["rows"] == 150 and stats["stages"]["verify"]["rows"] == 150
    assert "data_prep build exited 0" in log


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
