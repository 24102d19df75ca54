"""The structured outcome of one sandboxed run."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Status = Literal["ok", "runtime_error", "timeout", "memory", "output_limit", "killed", "sandbox_error"]
STATUSES: tuple[str, ...] = ("ok", "runtime_error", "timeout", "memory", "output_limit", "killed", "sandbox_error")


@dataclass
class SandboxResult:
    """What happened: `status` says why the program ended; `exit_code`/`signal` are the raw facts.

    status: ok (exit 0) · runtime_error (non-zero exit) · timeout (wall or CPU limit) · memory (memory limit hit)
    · output_limit (stdout cap exceeded) · killed (ended by a signal it did not get from a limit)
    · sandbox_error (the sandbox itself failed; the program may not have run).
    """

    status: Status
    exit_code: int | None
    signal: int | None
    stdout: str
    stderr: str
    wall_time: float
    cpu_time: float | None  # program + children; None when it was killed before it could be measured
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    isolated: bool = True
    backend: str = "bwrap"

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
