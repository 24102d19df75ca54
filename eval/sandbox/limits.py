"""What a sandboxed run may use: time, CPU, memory, output, processes, scratch space."""

from __future__ import annotations

from dataclasses import dataclass, replace

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Resource limits for one sandboxed run (or one session / worker process).

    `timeout` is wall-clock seconds; `cpu` defaults to the same number of CPU seconds. `max_output` caps stdout:
    a program that writes more is killed with status `output_limit`. stderr is kept up to `max_stderr` bytes and
    silently truncated beyond that.
    """

    timeout: float = 10.0
    cpu: float | None = None
    memory_mb: int = 1024
    max_output: int = 16 * MiB
    max_stderr: int = 64 * 1024
    max_processes: int = 32
    scratch_mb: int = 64
    max_open_files: int = 256

    def with_(self, **changes) -> Limits:
        """A copy with some fields changed (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def cpu_seconds(self) -> int:
        # RLIMIT_CPU counts whole seconds; round up so a 0.5 s limit does not become 0 (= unlimited).
        cpu = self.timeout if self.cpu is None else self.cpu
        return max(1, int(-(-cpu // 1)))

    def validate(self) -> None:
        for name in ("timeout", "memory_mb", "max_output", "max_stderr", "max_processes", "scratch_mb",
                     "max_open_files"):
            if getattr(self, name) <= 0:
                raise ValueError(f"sandbox limit {name} must be positive, got {getattr(self, name)!r}")
        if self.cpu is not None and self.cpu <= 0:
            raise ValueError(f"sandbox limit cpu must be positive, got {self.cpu!r}")
