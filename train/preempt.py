"""Save a checkpoint when the job is warned of its end (time limit, preemption), then stop, so no step is lost.

slurm's `--signal=B:USR1@300` reaches only the batch script; slurm/train.slurm then creates the file named by
`DISTILLERY_PREEMPT_FILE`, which the main process looks for at every optimizer-step boundary (one stat). A SIGUSR1
sent to a training process itself (e.g. `python -m train.sft` under `--signal=USR1@300` without `B:`) sets the same
request. The ranks all-reduce the request at each step boundary, so they all save the same step — a rank that saved
alone would hang the others in the save's collectives. After the save, training stops; train.sft then writes
`<DISTILLERY_PREEMPT_FILE>.saved` with the checkpoint's path, and the batch script requeues the job, which resumes
from that checkpoint.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import torch
from transformers import TrainerCallback

PREEMPT_FILE_ENV = "DISTILLERY_PREEMPT_FILE"


class PreemptionCallback(TrainerCallback):
    """Turns a preemption warning (request file or SIGUSR1) into a checkpoint at the next step, then a stop."""

    def __init__(self, request_file: str | os.PathLike | None = None, signals: tuple[int, ...] = (signal.SIGUSR1,)):
        self.request_file = Path(request_file) if request_file else None
        self._signalled = False
        self.saved_step: int | None = None  # set once the checkpoint for the request is being written
        if threading.current_thread() is threading.main_thread():  # signal handlers: main thread only
            for sig in signals:
                signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, frame) -> None:
        self._signalled = True  # acted on at the next step boundary; a handler must not do work itself

    def _requested_here(self, state) -> bool:
        if self._signalled:
            return True
        # One process polls the file: the all-reduce tells the others, and a shared filesystem is not stat-ed N times.
        return bool(state.is_world_process_zero and self.request_file is not None and self.request_file.exists())

    def on_step_end(self, args, state, control, **kwargs):
        if self.saved_step is not None:
            return
        flag = torch.tensor([int(self._requested_here(state))], device=args.device)
        if torch.distributed.is_available() and torch.distributed.is_initialized() and args.world_size > 1:
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        if not flag.item() or state.global_step >= state.max_steps:
            return  # at the last step the run ends and saves anyway
        self.saved_step = state.global_step
        control.should_save = True
        control.should_training_stop = True
        if state.is_world_process_zero:
            print(
                f"[distillery] preemption warning seen at step {state.global_step}: saving checkpoint-"
                f"{state.global_step} and stopping; a restart with resume_from_checkpoint resumes from it",
                flush=True,
            )

    def acknowledge(self, checkpoint: Path) -> None:
        """Tell the batch script that the checkpoint is complete (`<request file>.saved` holds its path)."""
        if self.request_file is not None:
            done = self.request_file.with_name(self.request_file.name + ".saved")
            done.write_text(f"{checkpoint}\n")
