"""`sbatch slurm/train.slurm` on the real test cluster: a ZeRO-3 run on 2 (fake-GPU) processes that is
1. requeued by the operator (`scontrol requeue`) after its first checkpoint,
2. then hit by the time-limit signal (SIGUSR1 to the batch shell, as `--signal=B:USR1@300` sends it): the trainer
   saves a checkpoint at the next step boundary and stops, the job requeues itself, and the next run resumes from
   exactly that step (no step lost, none computed twice),
3. then loses a rank (SIGKILL, as when a GPU or NCCL fails): the launcher tears the step down and the script
   requeues the job because it made progress since its last start.
Each run resumes from the newest complete checkpoint, and the job finishes with the losses an uninterrupted run
computes. Its eval hook submits one eval job per checkpoint, none twice. Every checkpoint records the corpus it was
trained on (distillery_corpus.json)."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest

MAX_STEPS = 32
SAVE_STEPS = 4
ALIVE = ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "REQUEUED")
RUN_HEADER = re.compile(r"\[train\.slurm [^\]]*\] job \d+ \(restart (\d+)\)")


def _runs(text: str) -> list[str]:
    """The job log cut into the text of each (re)start, in order."""
    starts = [m.start() for m in RUN_HEADER.finditer(text)]
    return [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)][: len(starts)], strict=True)]


def _resumed_at(run: str) -> int:
    found = re.search(r"\] resuming from \S+/checkpoint-(\d+)\n", run)
    return int(found.group(1)) if found else 0


def test_zero3_job_requeued_after_first_checkpoint_resumes_and_finishes(
    slurm_cluster, repo: Path, sft_recipe, losses_in, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    recipe = sft_recipe(tmp_path / "recipe.yaml", out, max_steps=MAX_STEPS, save_steps=SAVE_STEPS)
    logs = tmp_path / "logs"
    logs.mkdir()
    eval_recipe = repo / "recipes" / "eval" / "quick.yaml"
    job = slurm_cluster.sbatch(
        "--gpus-per-node=2",
        f"--output={logs}/%x-%j.out",
        "--job-name=train-test",
        "slurm/train.slurm",
        str(recipe),
        "recipes/accelerate/zero3.yaml",
        cwd=repo,
        env={
            "DISTILLERY_LOG_DIR": str(logs),
            "EVAL_ON_CHECKPOINT": "1",
            "EVAL_RECIPE": str(eval_recipe),
            "EVAL_POLL_SECONDS": "1",
            # Held: this test checks what the hook submits; tests/slurm/test_eval_slurm.py runs eval.slurm itself.
            "EVAL_SBATCH_ARGS": "--hold --gpus-per-node=1",
        },
    )
    log = logs / f"train-test-{job}.out"

    def interrupt_after(checkpoint: int, restarts: int, how) -> int:
        """Once checkpoint-N is complete and the current run has logged 2 steps past it, call `how`; waiting for
        those steps means two runs compute them, so their losses can be compared. Returns the steps logged then."""
        done = out / f"checkpoint-{checkpoint}" / "trainer_state.json"
        deadline = time.monotonic() + 240
        while True:
            runs = _runs(_text(log))
            if len(runs) == restarts + 1 and done.exists():
                step = _resumed_at(runs[-1]) + len(losses_in(runs[-1]))
                if step >= checkpoint + 2:
                    break
            info = slurm_cluster.job(job)
            # COMPLETING and REQUEUED are the passage from one run to the next.
            assert info["JobState"] in ALIVE, f"job {job} is {info['JobState']}:\n{_text(log, 8000)}"
            assert time.monotonic() < deadline, (
                f"run {restarts}: no checkpoint-{checkpoint} in 240 s:\n{_text(log, 8000)}"
            )
            time.sleep(0.2)
        how()
        return step

    # the operator (or a preemption) requeues it
    interrupt_after(SAVE_STEPS, 0, lambda: slurm_cluster.run("scontrol", "requeue", job))
    # the time limit is near
    at_signal = interrupt_after(
        3 * SAVE_STEPS, 1, lambda: slurm_cluster.run("scancel", "--signal=USR1", "--batch", job)
    )
    # a rank dies
    interrupt_after(5 * SAVE_STEPS, 2, lambda: os.kill(_rank_pid(slurm_cluster, job, rank=1), signal.SIGKILL))

    state = slurm_cluster.wait(job, timeout=300)
    text = _text(log)
    assert state == "COMPLETED", f"job {job} ended {state}:\n{text[-8000:]}\n{slurm_cluster.logs()}"
    assert slurm_cluster.job(job)["Restarts"] == "3"
    runs = _runs(text)
    assert len(runs) == 4, text[-8000:]
    assert "starting from step 0" in runs[0] and "SIGTERM: job is being stopped" in runs[0]
    assert "SIGUSR1 (time limit near): asking the trainer to save a checkpoint at the next step" in runs[1]
    saved = re.search(r"\[distillery\] preemption warning seen at step (\d+): saving checkpoint-(\d+)", runs[1])
    assert saved and saved.group(1) == saved.group(2), runs[1][-3000:]
    at_save = int(saved.group(1))
    assert f"training saved {out}/checkpoint-{at_save} and stopped: requeueing job" in runs[1]
    assert "SIGTERM: job is being stopped" in runs[1]
    assert re.search(r"training exited \d+ after reaching \S+/checkpoint-\d+ \(crash requeue 1 of 2\)", runs[2])
    assert (logs / f"train-test-{job}" / "failure_requeues").read_text().strip() == "1"
    assert "training finished" in runs[3]
    resumed = [_resumed_at(run) for run in runs]
    # each run resumes from at least the checkpoint the interruption waited for, and later than the run before
    assert resumed[0] == 0 and resumed[1] >= SAVE_STEPS and resumed[2] >= 3 * SAVE_STEPS, resumed
    assert resumed[3] >= 5 * SAVE_STEPS and resumed == sorted(set(resumed)) and resumed[3] < MAX_STEPS, resumed
    assert resumed[1] % SAVE_STEPS == 0 and resumed[3] % SAVE_STEPS == 0, resumed
    # No step lost on the signal: the run saved at the first step boundary after it (at or after the steps it had
    # logged when the signal was sent), stopped there, and the next run resumed from exactly that step.
    assert at_save >= at_signal and resumed[2] == at_save, (at_signal, at_save, resumed)
    assert resumed[1] + len(losses_in(runs[1])) == at_save, (resumed, losses_in(runs[1]))
    for run, step in zip(runs[1:], resumed[1:], strict=True):
        assert f"--resume_from_checkpoint {out}/checkpoint-{step}" in run  # passed on to train.sft
        assert f"[train.sft] resuming from {out}/checkpoint-{step}" in run

    summary = json.loads((out / "distillery_train.json").read_text())
    assert summary["global_step"] == MAX_STEPS
    assert summary["resumed_from"] == str(out / f"checkpoint-{resumed[3]}")
    losses = summary["losses"]
    assert len(losses) == MAX_STEPS
    # Every run's printed losses equal the final history at the same steps: the steps a run computed after its
    # checkpoint and that the next run computed again came out the same (same data order, same RNG state).
    for run, step in zip(runs, resumed, strict=True):
        printed = losses_in(run)
        assert len(printed) >= 2, run[-3000:]
        assert printed == pytest.approx(losses[step : step + len(printed)], rel=2e-3), (step, printed)
    for k in (0, 2):  # the runs stopped without a save got past the checkpoint the next one resumed from
        assert resumed[k] + len(losses_in(runs[k])) > resumed[k + 1], (k, resumed)
    assert losses[-1] < losses[0] - 0.5, losses  # it learns: about 6.9 -> 5 on this corpus
    checkpoints = sorted({*range(SAVE_STEPS, MAX_STEPS + 1, SAVE_STEPS), at_save})
    lineage = json.loads((out / "distillery_corpus.json").read_text())
    assert lineage["kind"] == "jsonl" and len(lineage["content_sha256"]) == 64 and lineage["rows"]["kept"] == 64
    for step in checkpoints:
        state_file = out / f"checkpoint-{step}" / "trainer_state.json"
        assert json.loads(state_file.read_text())["global_step"] == step
        assert json.loads((out / f"checkpoint-{step}" / "distillery_corpus.json").read_text()) == lineage
    assert (out / "model.safetensors").is_file() and (out / "config.json").is_file()

    # Eval hook: exactly one (held) eval job per complete checkpoint and one for the final model, across all three runs.
    submitted = [line.split() for line in (logs / f"train-test-{job}" / "eval_jobs.txt").read_text().splitlines()]
    expected = [str(out / f"checkpoint-{s}") for s in checkpoints] + [str(out)]
    assert sorted(path for path, _ in submitted) == sorted(expected)
    for path, eval_job in submitted:
        info = slurm_cluster.job(eval_job)
        assert info["JobState"] == "PENDING" and info["Reason"] == "JobHeldUser"
        assert info["Command"].endswith("slurm/eval.slurm")
        assert info["JobName"] == f"eval-{Path(path).name}"
        slurm_cluster.run("scancel", eval_job)


def _rank_pid(cluster, job: str, rank: int) -> int:
    """Pid of the training worker with RANK=rank among the job's processes (`scontrol listpids`)."""
    out = cluster.run("scontrol", "listpids", job).stdout.split("\n")[1:]
    for line in out:
        pid = line.split()[0] if line.split() else ""
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (FileNotFoundError, ProcessLookupError, PermissionError, ValueError):
            continue
        if f"RANK={rank}".encode() in environ and b"train.sft" in cmdline and b"launch" not in cmdline:
            return int(pid)
    raise AssertionError(f"no worker with RANK={rank} among the processes of job {job}")


def _text(path: Path, tail: int | None = None) -> str:
    if not path.exists():
        return f"({path} not written)"
    text = path.read_text(errors="replace")
    return text if tail is None else text[-tail:]
