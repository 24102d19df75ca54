"""The 2-node command that train.launch builds, run for real: ranks 0 and 1 of a fake node list, both on this
machine with one process each, meet over TCP and train ZeRO-2 as one data-parallel world of 2."""

from __future__ import annotations

import json
import math
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_nodes_one_process_each_train_as_one_world(repo: Path, sft_recipe, losses_in, tmp_path: Path) -> None:
    out = tmp_path / "run"
    recipe = sft_recipe(tmp_path / "recipe.yaml", out, max_steps=4, save_steps=4)
    base = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    base.pop("SLURM_CONF", None)  # no cluster: the node list is expanded by train.launch's own parser
    common = {
        **base,
        "SLURM_JOB_ID": "77",
        "SLURM_JOB_NODELIST": "trn-[07-08]",
        "SLURM_NNODES": "2",
        "SLURM_NTASKS": "2",
        "GPUS_PER_NODE": "1",
        # The fake hosts do not resolve; on a real cluster this is how the rendezvous is put on another interface.
        "MAIN_PROCESS_IP": "127.0.0.1",
        "MAIN_PROCESS_PORT": str(_free_port()),
        "PYTHONUNBUFFERED": "1",
    }
    procs = []
    for rank in (0, 1):
        env = {**common, "SLURM_NODEID": str(rank), "SLURM_PROCID": str(rank)}
        log = (tmp_path / f"node{rank}.log").open("w")
        cmd = [sys.executable, "-m", "train.launch", "recipes/accelerate/zero2.yaml", str(recipe)]
        procs.append((subprocess.Popen(cmd, cwd=repo, env=env, stdout=log, stderr=subprocess.STDOUT), log))
    try:
        codes = [proc.wait(timeout=300) for proc, _ in procs]
    finally:
        for proc, log in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
    logs = [(tmp_path / f"node{rank}.log").read_text(errors="replace") for rank in (0, 1)]
    assert codes == [0, 0], "\n\n".join(
        f"--- node {r} exited {c}\n{t[-4000:]}" for r, (c, t) in enumerate(zip(codes, logs, strict=True))
    )

    for rank, text in enumerate(logs):
        launch = re.search(
            r"\[train\.launch\] node (\d)/2 \(trn-07, trn-08\), 1 processes per node, 2 in all: (.*)", text
        )
        assert launch and int(launch.group(1)) == rank, text[:2000]
        assert f"--num_machines 2 --machine_rank {rank} --num_processes 2 --main_process_ip 127.0.0.1" in launch.group(
            2
        )

    summary = json.loads((out / "distillery_train.json").read_text())
    assert summary["global_step"] == 4 and len(summary["losses"]) == 4
    # One world of 2: each step takes 2 sequences on each of the 2 ranks, so an epoch is examples / 4 steps
    # (a lone process would log half that epoch fraction per step).
    examples = summary["data"]["examples"]
    first_epoch = float(re.search(r"'epoch': '([0-9.]+)'", logs[0]).group(1))
    assert math.isclose(first_epoch, 1 / math.ceil(examples / 4), rel_tol=1e-3), (first_epoch, examples)
    assert losses_in(logs[0]) == pytest.approx(summary["losses"], rel=1e-3)
    assert (out / "checkpoint-4" / "trainer_state.json").is_file() and (out / "model.safetensors").is_file()
