"""serve.slurm + data_prep.slurm on the test cluster: a `transformers serve` teacher job publishes its endpoint,
a data_prep job that depends on it finds the endpoint and distills from it; then the server is stopped."""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import yaml


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_data_prep_job_distills_from_the_served_teacher(
    slurm_cluster, repo: Path, shared: Path, tiny_model: Path, tmp_path: Path
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    env = {"DISTILLERY_LOG_DIR": str(logs)}
    port = _free_port()
    serve = slurm_cluster.sbatch(
        "--gpus-per-node=1", "--cpus-per-task=1", "--mem=2000", f"--output={logs}/%x-%j.out",
        "slurm/serve.slurm", str(tiny_model), str(port),
        cwd=repo, env=env,
    )  # fmt: skip
    recipe = tmp_path / "teacher.yaml"
    recipe.write_text(
        yaml.safe_dump(
            {
                "name": "slurm-teacher",
                "sources": [
                    {
                        "path": str(shared / "samples" / "gsm8k_train.jsonl"),
                        "format": "gsm8k",
                        "limit": 4,
                        "response": "teacher",
                    },
                ],
                "teacher": {
                    "base_url": None,
                    "max_tokens": 16,
                    "samples": 1,
                    "concurrency": 2,
                    "retries": 0,
                    "request_timeout_s": 120.0,
                },
                "decontaminate": None,
                "verify": {"timeout_s": 5.0, "workers": 1},
                "out": str(tmp_path / "corpus"),
            }
        )
    )
    data = slurm_cluster.sbatch(
        f"--dependency=after:{serve}", "--cpus-per-task=1", f"--output={logs}/%x-%j.out",
        "slurm/data_prep.slurm", str(recipe),
        cwd=repo, env={**env, "TEACHER_JOB": serve, "TEACHER_WAIT": "150"},
    )  # fmt: skip
    state = slurm_cluster.wait(data, timeout=300)
    data_log = (logs / f"distillery-data-{data}.out").read_text(errors="replace")
    serve_log = (logs / f"distillery-serve-{serve}.out").read_text(errors="replace")
    assert state == "COMPLETED", f"{data_log}\n--- serve job\n{serve_log}"

    url = (logs / f"serve-{serve}.url").read_text().strip()
    # the node's name as other nodes reach it (hostname -f), the port given to sbatch
    assert re.fullmatch(rf"http://[\w.-]+:{port}/v1", url), url
    assert (logs / f"serve-{serve}.model").read_text().strip() == str(tiny_model)
    assert f"ready: {url}" in serve_log
    assert f"teacher.base_url={url} teacher.model={tiny_model}" in data_log
    assert f"teacher: 4 requests to {url}" in data_log
    results = [json.loads(line) for line in (tmp_path / "corpus" / "work" / "teacher.results.jsonl").open()]
    assert len(results) == 4 and not [r for r in results if "error" in r], results
    # 16 generated tokens each (max_tokens): the served tiny model answered every request itself.
    assert [r["completion_tokens"] for r in results] == [16] * 4
    assert (tmp_path / "corpus" / "stats.json").is_file()

    # Stopping the server job removes its endpoint files, so no later job talks to a dead URL.
    slurm_cluster.run("scancel", serve)
    assert slurm_cluster.wait(serve, timeout=60) == "CANCELLED"
    deadline = time.monotonic() + 20
    while (logs / f"serve-{serve}.url").exists() and time.monotonic() < deadline:
        time.sleep(0.3)
    assert not (logs / f"serve-{serve}.url").exists() and not (logs / f"serve-{serve}.model").exists()


def test_data_prep_job_stops_when_the_teacher_job_is_gone(slurm_cluster, repo: Path, tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: x\nsources: []\n")
    job = slurm_cluster.sbatch(
        "--cpus-per-task=1", f"--output={tmp_path}/%x-%j.out", "slurm/data_prep.slurm", str(recipe),
        cwd=repo, env={"TEACHER_JOB": "987654", "DISTILLERY_LOG_DIR": str(tmp_path)},
    )  # fmt: skip
    assert slurm_cluster.wait(job, timeout=60) == "FAILED"
    log = (tmp_path / f"distillery-data-{job}.out").read_text()
    assert "error: teacher job 987654 is not running (finished or cancelled)" in log
