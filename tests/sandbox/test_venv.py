"""The sandbox works wherever the interpreter lives: here from a virtualenv under /tmp, the directory the sandbox
covers with its scratch tmpfs (the interpreter is bound elsewhere inside; see isolation.inside_path)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig

import pytest

PROGRAM = "import sys, venv_only\nprint(venv_only.VALUE, sys.executable.startswith('/.sandbox-python/tmp/'))\n"


@pytest.fixture(scope="module", params=["symlinks", "copies"])
def venv_python(request, tmp_path_factory, repo):
    root = tmp_path_factory.mktemp("venv")
    assert str(root).startswith("/tmp/")
    venv = root / "venv"
    flags = ["--copies"] if request.param == "copies" else []
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", *flags, str(venv)],
                   check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert site.startswith(str(venv)) and site != sysconfig.get_paths()["purelib"]
    # A module only this virtualenv has: the sandboxed program must see the venv's own site-packages.
    (root / "venv" / os.path.relpath(site, venv) / "venv_only.py").write_text("VALUE = 'from the venv'\n")
    return python


def _env(repo):
    return {**os.environ, "PYTHONPATH": str(repo)}


def test_cli_one_sandbox_per_run(venv_python, repo, tmp_path):
    program = tmp_path / "prog.py"
    program.write_text(PROGRAM)
    proc = subprocess.run([str(venv_python), "-m", "eval.sandbox", "run", str(program)], capture_output=True,
                          text=True, timeout=120, env=_env(repo), cwd=tmp_path)
    result = json.loads(proc.stdout)
    assert (result["status"], result["stdout"], result["isolated"]) == ("ok", "from the venv True\n", True), proc.stderr


def test_pooled_runs_and_livecodebench_grading(venv_python, repo, tmp_path):
    code = (
        "import json\n"
        "from eval.sandbox import run\n"
        "from eval.livecodebench import TestCase, grade_program\n"
        f"r = run({PROGRAM!r})\n"
        "g = grade_program('a, b = map(int, input().split())\\nprint(a + b)', [TestCase('1 2\\n', '3\\n')], timeout=5)\n"
        "print(json.dumps([r.status, r.stdout, r.backend, g.passed, g.isolated]))\n"
    )
    proc = subprocess.run([str(venv_python), "-c", code], capture_output=True, text=True, timeout=180,
                          env=_env(repo), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == ["ok", "from the venv True\n", "bwrap-zygote", True, True]
