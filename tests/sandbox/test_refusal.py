"""When the host cannot isolate, the sandbox refuses unless the caller opts in, and then it says so loudly."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from eval.sandbox import Job, SandboxUnavailable, ZygotePool, isolation, probe, run, run_many
from eval.sandbox.isolation import ENV_ALLOW_UNISOLATED, ENV_BWRAP


@pytest.fixture
def no_bwrap(monkeypatch, tmp_path):
    # A bwrap that exists but cannot run: the probe must notice by actually trying it.
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv(ENV_BWRAP, str(fake))
    monkeypatch.delenv(ENV_ALLOW_UNISOLATED, raising=False)
    return fake


def test_probe_fails_and_run_refuses(no_bwrap):
    found = probe()
    assert not found.ok and "Permission denied" in found.reason
    with pytest.raises(SandboxUnavailable, match="Refusing to run it"):
        run("print('should not run')")
    with pytest.raises(SandboxUnavailable, match="Refusing to run it"):
        run_many([Job("print('should not run')")])
    with pytest.raises(SandboxUnavailable, match="Refusing to run it"):
        ZygotePool(found)


def test_missing_bwrap_path(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_BWRAP, str(tmp_path / "not-there"))
    assert "not found" in probe().reason


def test_opt_in_runs_unisolated_with_a_loud_warning(no_bwrap, capfd, monkeypatch):
    monkeypatch.setattr(isolation, "_warned", False)  # the banner prints once per process
    with pytest.warns(RuntimeWarning, match="isolation is off"):
        r = run("import os\nprint('ran', os.getcwd().startswith('/tmp/sandbox-unisolated-'))", allow_unisolated=True)
    assert (r.status, r.stdout, r.isolated, r.backend) == ("ok", "ran True\n", False, "unisolated")
    assert "SANDBOX ISOLATION IS OFF" in capfd.readouterr().err


def test_opt_in_warning_on_stderr_via_env_and_cli(tmp_path, no_bwrap):
    script = tmp_path / "p.py"
    script.write_text("print('hi')\n")
    refused = subprocess.run([sys.executable, "-m", "eval.sandbox", "run", str(script)],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 3 and "Refusing to run it" in refused.stderr and refused.stdout == ""
    allowed = subprocess.run([sys.executable, "-m", "eval.sandbox", "run", str(script), "--allow-unisolated"],
                             capture_output=True, text=True, timeout=60)
    assert allowed.returncode == 0
    assert "SANDBOX ISOLATION IS OFF" in allowed.stderr
    assert json.loads(allowed.stdout)["isolated"] is False
    via_env = subprocess.run([sys.executable, "-m", "eval.sandbox", "run", str(script)], capture_output=True,
                             text=True, timeout=60, env={**os.environ, ENV_ALLOW_UNISOLATED: "1"})
    assert via_env.returncode == 0 and "SANDBOX ISOLATION IS OFF" in via_env.stderr


def test_unisolated_still_applies_limits(no_bwrap):
    with pytest.warns(RuntimeWarning):
        r = run("x = bytearray(4 << 30)", allow_unisolated=True)
    assert r.status == "memory"
