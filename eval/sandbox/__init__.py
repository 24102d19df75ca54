"""Run untrusted Python: namespaces + rlimits + an unprivileged uid, one-shot or as a stateful session.

    from eval.sandbox import run, run_many, Job, Limits, Session
    result = run("print(input())", stdin="hi", limits=Limits(timeout=2))
    result.status  # ok | runtime_error | timeout | memory | output_limit | killed | sandbox_error
"""

from eval.sandbox.isolation import SandboxUnavailable, probe
from eval.sandbox.limits import Limits
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
    "default_workers",
    "probe",
    "run",
    "run_many",
]
