"""Sandbox overhead: ms per trivial run (single) and runs/s in batches, vs plain subprocess.run in the same process.

    python -m benchmarks.sandbox_overhead [--runs 100] [--pool-runs 400] [--blocks 5] [--workers N]

Both sandbox paths are measured: the default zygote pool (each run forked from a pre-started sandbox,
eval/sandbox/pool.py) and a sandbox of its own per run (`pool=False`). The baseline starts the same interpreter
the same way (`python -I -S file.py`) without any isolation; `python file.py` (with site imports) is printed too,
for scale. Timings are interleaved (single runs) or in alternating blocks (batches) so that changes in the load
of this shared machine hit every variant alike; median and best are printed.

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
from eval.sandbox.pool import close_shared_pool
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


def rate_blocks(fns: dict, per: int, blocks: int) -> dict[str, list[float]]:
    """runs/s of each batch function over `blocks` alternating blocks of `per` runs."""
    rates: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(blocks):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn(per)
            rates[name].append(per / (time.perf_counter() - start))
    return rates


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--pool-runs", type=int, default=400)
    ap.add_argument("--blocks", type=int, default=5)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    found = probe()
    if not found.ok:
        raise SystemExit(f"sandbox unavailable here: {found.reason}")
    workers = args.workers or default_workers(RUNS_PER_CPU)  # run_many's default concurrency
    limits = Limits(timeout=10)
    # Before any sandbox starts: the zygotes must be in the measured cgroup too.
    meter = CpuMeter()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp, "trivial.py")
            script.write_text(TRIVIAL)
            report(args, workers, limits, script, meter)
    finally:
        close_shared_pool()
        meter.close()


def report(args, workers: int, limits: Limits, script: Path, meter: CpuMeter) -> None:
    def plain() -> None:
        subprocess.run([sys.executable, "-I", "-S", str(script)], capture_output=True, check=True)

    def plain_site() -> None:
        subprocess.run([sys.executable, str(script)], capture_output=True, check=True)

    def pooled_run() -> None:
        result = run(TRIVIAL, limits=limits)
        assert result.status == "ok" and result.backend == "bwrap-zygote", result

    def oneshot_run() -> None:
        result = run(TRIVIAL, limits=limits, pool=False)
        assert result.status == "ok" and result.backend == "bwrap", result

    fns = {"plain": plain, "site": plain_site, "pool": pooled_run, "oneshot": oneshot_run}
    times = interleaved(fns, args.runs)
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    best = {k: min(v) * 1000 for k, v in times.items()}
    print(f"single runs, {args.runs} trivial runs each, interleaved (median / best ms per run):")
    print(f"  plain subprocess.run(python -I -S):  {med['plain']:7.2f} / {best['plain']:6.2f}")
    print(f"  plain subprocess.run(python):        {med['site']:7.2f} / {best['site']:6.2f}   (site imports, for scale)")
    for key, label in (("pool", "sandbox run() [zygote pool]:"), ("oneshot", "sandbox run(pool=False) [own bwrap]:")):
        print(f"  {label:36s} {med[key]:7.2f} / {best[key]:6.2f}   overhead {med[key] - med['plain']:+6.2f} ms"
              f" (best {best[key] - best['plain']:+.2f}), ratio to plain {med[key] / med['plain']:.2f}x")

    cpu = {name: cpu_per_run(meter, fn, args.runs) for name, fn in (("plain", plain), ("pool", pooled_run),
                                                                   ("oneshot", oneshot_run))}
    if cpu["plain"] is not None:
        cores = default_workers()
        print("CPU time per run, all processes (cpuacct cgroup; independent of other load) and what it allows on "
              f"{cores} idle cores:")
        for name in ("plain", "pool", "oneshot"):
            print(f"  {name:8s} {cpu[name]:6.2f} ms   ratio to plain {cpu[name] / cpu['plain']:.2f}x   "
                  f"=> {cores * 1000 / cpu[name]:5.0f} runs/s")

    def plain_batch(n: int) -> None:
        pooled(plain, n, workers)

    def sandbox_batch(pool: bool):
        jobs = [Job(TRIVIAL, limits=limits) for _ in range(args.pool_runs // args.blocks)]

        def batch(n: int) -> None:
            results = run_many(jobs[:n], workers=workers, pool=pool)
            assert all(r.status == "ok" for r in results), [r for r in results if r.status != "ok"][:1]
        return batch

    per = max(1, args.pool_runs // args.blocks)
    rates = rate_blocks({"plain": plain_batch, "pool": sandbox_batch(True), "oneshot": sandbox_batch(False)},
                        per, args.blocks)
    med_r = {k: statistics.median(v) for k, v in rates.items()}
    best_r = {k: max(v) for k, v in rates.items()}
    print(f"batches: {workers} concurrent runs, {args.blocks} alternating blocks of {per} trivial runs "
          "(median / best block, runs/s):")
    print(f"  plain subprocess.run(python -I -S):       {med_r['plain']:7.1f} / {best_r['plain']:6.1f}")
    print(f"  sandbox run_many() [zygote pool]:         {med_r['pool']:7.1f} / {best_r['pool']:6.1f}"
          f"   ratio to plain {med_r['pool'] / med_r['plain']:.2f}x")
    print(f"  sandbox run_many(pool=False) [own bwrap]: {med_r['oneshot']:7.1f} / {best_r['oneshot']:6.1f}"
          f"   ratio to plain {med_r['oneshot'] / med_r['plain']:.2f}x")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} (1 min)")


if __name__ == "__main__":
    main()
