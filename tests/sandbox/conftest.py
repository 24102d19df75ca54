"""Shared helpers for the sandbox tests: skip nothing — the sandbox must work here (CI installs bubblewrap)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from eval.sandbox.isolation import UID_RANGE, probe


def sandbox_processes() -> list[tuple[int, int, str]]:
    """(pid, uid, command) of every live process running under a sandbox uid."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("Uid:"):
                uid = int(line.split()[1])
                if UID_RANGE[0] <= uid <= UID_RANGE[1]:
                    found.append((int(entry.name), uid, cmd))
    return found


@pytest.fixture(scope="session", autouse=True)
def isolation_available() -> None:
    found = probe()
    if not found.ok:
        pytest.fail(f"the sandbox cannot isolate on this machine ({found.reason}); "
                    "tests/setup_system.sh installs bubblewrap")
    if os.geteuid() != 0:
        pytest.fail("these tests check the root path (uid switch); run them as root like CI does")


@pytest.fixture(name="sandbox_processes")
def sandbox_processes_fixture():
    """The function above, as a fixture (test modules cannot import conftest under --import-mode=importlib)."""
    return sandbox_processes
