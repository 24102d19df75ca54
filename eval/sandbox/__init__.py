"""Run untrusted Python: namespaces + rlimits + an unprivileged uid, one-shot or as a stateful session.

One-shot runs are forked from a pool of pre-started sandboxes by default (eval/sandbox/pool.py).

    from eval.sandbox import run, run_many, Job, Limits, Session
    result = run("print(input())", stdin="hi", limits=Limits(timeout=2))
    result.status  # ok | runtime_error | timeout | memory | output_limit | killed | sandbox_error
"""

from eval.sandbox.isolation import SandboxUnavailable, probe
from eval.sandbox.limits import Limits
from eval.sandbox.pool import ZygotePool
from eval.sandbox.result import STATUSES, SandboxResult
from eval.sandbox.runner import Job, default_workers, run, run_many
from eval.sandbox.session import CellResult, Session

__all__ = [
    "STATUSES",
    "CellResult",
    "Job",
    "Limits",
    "SandboxResult",
    "SandboxUnavailable",
    "Session",
    "ZygotePool",
    "default_workers",
    "probe",
    "run",
    "run_many",
]
