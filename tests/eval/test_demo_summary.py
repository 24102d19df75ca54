"""`make demo`'s stage timer and one-screen summary (eval.demo)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data" / "demo_run"  # the JSON files a real demo run wrote (see README there)


def run_demo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "eval.demo", *args], capture_output=True, text=True, timeout=60)


def test_timer_records_each_stage_and_passes_the_exit_code_through(tmp_path: Path) -> None:
    run = tmp_path / "run"
    ok = run_demo("time", str(run), "first", "--", sys.executable, "-c", "print('hello from the stage')")
    assert ok.returncode == 0 and "hello from the stage" in ok.stdout
    bad = run_demo("time", str(run), "second", "--", sys.executable, "-c", "import sys; sys.exit(3)")
    assert bad.returncode == 3  # make stops on a failing stage
    timings = json.loads((run / "timings.json").read_text())
    assert list(timings) == ["first", "second"]
    assert timings["first"]["rc"] == 0 and timings["second"]["rc"] == 3
    assert all(t["seconds"] >= 0 for t in timings.values())
    assert "no command" in run_demo("time", str(run), "third", "--").stderr


def test_summary_of_a_real_run_shows_stages_teacher_and_scores(tmp_path: Path) -> None:
    run = tmp_path / "demo"
    for rel in ("timings.json", "corpus/stats.json", "sft/distillery_train.json", "eval/base/summary.json",
                "eval/sft/summary.json"):
        (run / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DATA / rel.replace("/", "__"), run / rel)
    (run / "report.md").write_text("# report\n")
    proc = run_demo("summary", str(run))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    stats = json.loads((run / "corpus/stats.json").read_text())
    teacher = stats["teacher"]
    assert f"teacher: {teacher['requests']} asked, {teacher['answered']} answered, {teacher['stopped']} finished" in out
    assert "CPU: " in out and "generation dtype" in out
    for stage in json.loads((run / "timings.json").read_text()):
        assert f"{stage} " in out
    base = json.loads((run / "eval/base/summary.json").read_text())["benchmarks"]
    sft = json.loads((run / "eval/sft/summary.json").read_text())["benchmarks"]
    line = next(x for x in out.splitlines() if x.startswith("gsm8k "))
    assert f"{base['gsm8k']['pass@1']:5.1f}% → {sft['gsm8k']['pass@1']:5.1f}%" in line
    assert f"{base['gsm8k']['truncated_rate']:5.1f}% → {sft['gsm8k']['truncated_rate']:5.1f}%" in line
    train = json.loads((run / "sft/distillery_train.json").read_text())
    assert f"fine-tune: {train['global_step']} steps, loss " in out
    assert f"report: {run / 'report.md'}" in out
    assert len(out.splitlines()) <= 24  # one screen


def test_summary_of_an_unfinished_run_says_what_is_missing(tmp_path: Path) -> None:
    proc = run_demo("summary", str(tmp_path))
    assert proc.returncode == 0
    assert "no timings.json" in proc.stdout and "no stats.json" in proc.stdout
    assert "no eval summary.json" in proc.stdout and "(not written)" in proc.stdout
