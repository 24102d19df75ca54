"""Sandbox overhead: ms per trivial run (sequential) and runs/s with the worker pool, vs plain subprocess.run.

    python benchmarks/sandbox_overhead.py [--runs 100] [--pool-runs 400]

The baseline starts the same interpreter the same way (`python -I -S file.py`) without any isolation, so the
difference is what namespaces, mounts, the uid switch and rlimits cost. `python file.py` (with site imports)
is printed too, for scale.

Wall-clock figures depend on what else the machine is doing, so where a cgroup-v1 cpuacct hierarchy is writable
(as root on the dev machine) the script also measures the CPU time each run costs, summed over every process it
starts, namespaces included; CPU per run is what bounds the pool's rate on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from eval.sandbox import Job, Limits, default_workers, probe, run, run_many
from eval.sandbox.runner import RUNS_PER_CPU

TRIVIAL = "pass\n"


def interleaved(fns: dict, n: int) -> dict[str, list[float]]:
    """Time each function n times, alternating between them, so a change in machine load hits all alike."""
    for fn in fns.values():
        fn()  # warm-up (the probe, page cache)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(n):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def pooled(fn, n: int, workers: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda _: fn(), range(n)))
    return n / (time.perf_counter() - start)


class CpuMeter:
    """CPU nanoseconds used by this process and all its descendants, via a private cpuacct cgroup (or None)."""

    ROOT = Path("/sys/fs/cgroup/cpuacct")

    def __init__(self) -> None:
        self.group = self.ROOT / f"distillery-bench-{os.getpid()}"
        try:
            self.group.mkdir()
            (self.group / "cgroup.procs").write_text(str(os.getpid()))
        except OSError:
            self.group = None

    def read(self) -> int | None:
        return int((self.group / "cpuacct.usage").read_text()) if self.group else None

    def close(self) -> None:
        if self.group:
            (self.ROOT / "cgroup.procs").write_text(str(os.getpid()))
            self.group.rmdir()


def cpu_per_run(meter: CpuMeter, fn, n: int) -> float | None:
    before = meter.read()
    for _ in range(n):
        fn()
    after = meter.read()
    return None if before is None else (after - before) / n / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--pool-runs", type=int, default=400)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    found = probe()
    if not found.ok:
        raise SystemExit(f"sandbox unavailable here: {found.reason}")
    workers = args.workers or default_workers(RUNS_PER_CPU)  # run_many's default pool size
    limits = Limits(timeout=10)
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp, "trivial.py")
        script.write_text(TRIVIAL)

        def plain() -> None:
            subprocess.run([sys.executable, "-I", "-S", str(script)], capture_output=True, check=True)

        def plain_site() -> None:
            subprocess.run([sys.executable, str(script)], capture_output=True, check=True)

        def boxed() -> None:
            result = run(TRIVIAL, limits=limits)
            assert result.status == "ok", result

        times = interleaved({"plain": plain, "site": plain_site, "sandbox": boxed}, args.runs)
        med = {k: statistics.median(v) for k, v in times.items()}
        best = {k: min(v) for k, v in times.items()}
        print(f"sequential, {args.runs} runs of a trivial program each, interleaved (median / best):")
        print(f"  plain subprocess.run(python -I -S): {med['plain'] * 1000:7.2f} / {best['plain'] * 1000:6.2f} ms/run")
        print(f"  plain subprocess.run(python):       {med['site'] * 1000:7.2f} / {best['site'] * 1000:6.2f} ms/run"
              "   (with site imports, for scale)")
        print(f"  sandbox run():                      {med['sandbox'] * 1000:7.2f} / {best['sandbox'] * 1000:6.2f} ms/run")
        print(f"  overhead (median): {(med['sandbox'] - med['plain']) * 1000:.2f} ms/run   "
              f"ratio sandbox/plain: {med['sandbox'] / med['plain']:.2f}x")

        meter = CpuMeter()
        try:
            cpu_plain = cpu_per_run(meter, plain, args.runs)
            cpu_box = cpu_per_run(meter, boxed, args.runs)
        finally:
            meter.close()
        if cpu_plain is not None:
            print("CPU time per run (all processes, from a cpuacct cgroup; independent of other load):")
            print(f"  plain: {cpu_plain:6.2f} ms   sandbox: {cpu_box:6.2f} ms   overhead: {cpu_box - cpu_plain:.2f} ms"
                  f"   ratio {cpu_box / cpu_plain:.2f}x")
            cores = default_workers()
            print(f"  => capacity of {cores} idle cores: plain {cores * 1000 / cpu_plain:.0f} runs/s, "
                  f"sandbox {cores * 1000 / cpu_box:.0f} runs/s")

        # Pool: alternate blocks of plain and sandboxed runs, for the same reason.
        blocks = 4
        per = max(1, args.pool_runs // blocks)
        plain_rates, box_rates = [], []
        jobs = [Job(TRIVIAL, limits=limits) for _ in range(per)]
        for _ in range(blocks):
            plain_rates.append(pooled(plain, per, workers))
            start = time.perf_counter()
            results = run_many(jobs, workers=workers)
            box_rates.append(per / (time.perf_counter() - start))
            assert all(r.status == "ok" for r in results)
        print(f"pool of {workers} workers, {blocks} alternating blocks of {per} runs (median / best block):")
        print(f"  plain subprocess.run(python -I -S): {statistics.median(plain_rates):7.1f} / {max(plain_rates):6.1f} runs/s")
        print(f"  sandbox run_many():                 {statistics.median(box_rates):7.1f} / {max(box_rates):6.1f} runs/s"
              f"   ratio sandbox/plain: {statistics.median(box_rates) / statistics.median(plain_rates):.2f}x")


if __name__ == "__main__":
    main()
