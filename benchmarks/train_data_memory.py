"""Corpus preparation at two sizes: peak memory of the main process stays flat; tokenisation rows/s with 1 and 2 workers.

    python -m benchmarks.train_data_memory                         # 1.5k and 6k rows, about 2 minutes on 2 cores
    python -m benchmarks.train_data_memory --sizes 50000 200000    # the AM-scale check (about 1 minute per 10k rows)

Writes synthetic AM-shaped corpus folders (data_prep layout, 8 KB reasoning traces, optional fields present in some
rows only) and prepares each in a fresh process exactly as `train.sft` does — read and check the rows
(`train.corpus.read_corpus`), tokenise them with the tiny model's tokenizer (`train.pretokenize.build_tokenized`) —
recording the main process's peak RSS (`ru_maxrss`; and, sampled from /proc, its anonymous memory apart from
memory-mapped Arrow pages, which are page cache the kernel can drop) and the map workers' peak. The baseline, in the
same run: the previous loader, which parsed every row into a Python list before `Dataset.from_list`. Then the same
rows are tokenised with 1 and with 2 workers. Prints the figures, the large/small ratios and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SHARD_ROWS = 5000
TRACE_BYTES = 8000
SOURCES = ["natural_reasoning", "NuminaMath_1.5", "codeio", "OpenCoder", "KodCode", "InfinityInstruct"]


# Words of reasoning traces, so that a BPE tokenizer sees text like a real corpus (random strings would tokenise into
# three times as many pieces and turn the benchmark into a tokenizer stress test).
WORDS = (
    """the a of to and is in that we so it for this be with as are then by on not from at or which can
let number total each two three four five six seven eight nine ten half twice more less than equal sum
difference product times divided per cost price money dollars cents hours minutes days weeks year old
how many much if after before now left remaining gets buys sells spends earns has had have will would
first second third next last step answer check wait hmm right compute find value need means so since
therefore thus because again first together altogether each every some all none both either same
""".split()
    + ["=", "+", "-", "*", "/", "\\frac{1}{2}", "x^2", "\\sqrt{3}", "(", ")", "Wait,", "Let's", "check:"]
)


def _text(rng: random.Random, words: list[str], size: int) -> str:
    """About `size` characters of words and numbers."""
    parts, n = [], 0
    while n < size:
        w = rng.choice(words) if rng.random() > 0.1 else str(rng.randint(0, 9999))
        parts.append(w)
        n += len(w) + 1
    return " ".join(parts)


def am_row(i: int, rng: random.Random, words: list[str]) -> dict:
    """One corpus row shaped like data_prep's AM conversion: fixed fields plus optional ones in some rows only."""
    problem = _text(rng, words, 300)
    answer = str(rng.randint(0, 999))
    row = {
        "id": f"am-{i:08d}",
        "messages": [
            {"role": "user", "content": problem},
            {
                "role": "assistant",
                "content": f"<think>\n{_text(rng, words, TRACE_BYTES)}\n</think>\n\nThe answer is \\boxed{{{answer}}}.",
            },
        ],
        "problem": problem,
        "source": rng.choice(SOURCES),
        "category": rng.choice(["math", "code", "science", "other"]),
        "verification": {"method": "math_verify", "passed": rng.random() > 0.05, "score": 1.0, "reason": "ok"},
        "extra": {"origin": {"file": "am_0.9M.jsonl", "line": i + 1}, "info": {"think_content": None}},
    }
    if rng.random() < 0.39:  # AM paper: 38.9 % of rows carry a reference answer, 21.9 % test cases
        row["reference_answer"] = answer
    if rng.random() < 0.22:
        row["test_cases"] = [{"input": str(rng.randint(0, 99)), "output": answer}]
    return row


def write_corpus(root: Path, rows: int, seed: int = 0) -> Path:
    """A data_prep-style folder with `rows` rows in shards of SHARD_ROWS, plus a stats.json."""
    rng = random.Random(seed)
    words = WORDS
    (root / "data").mkdir(parents=True, exist_ok=True)
    shards = -(-rows // SHARD_ROWS)
    for s in range(shards):
        with (root / "data" / f"train-{s:05d}-of-{shards:05d}.jsonl").open("w") as f:
            for i in range(s * SHARD_ROWS, min(rows, (s + 1) * SHARD_ROWS)):
                f.write(json.dumps(am_row(i, rng, words)) + "\n")
    (root / "stats.json").write_text(json.dumps({"name": "synthetic-am", "rows": rows}) + "\n")
    return root


class PeakSampler:
    """Samples /proc/self/status every 20 ms: peak anonymous and file-backed resident memory of this process."""

    def __init__(self):
        self.peak = {"RssAnon": 0, "RssFile": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for line in Path("/proc/self/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in self.peak:
                    self.peak[key] = max(self.peak[key], int(value.split()[0]))
            self._stop.wait(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def tokenise(rows, tok, workers: int, tmp: Path, name: str) -> dict:
    """build_tokenized as train.sft calls it (assistant-only loss, overlong rows dropped); returns its summary."""
    from train.pretokenize import build_tokenized

    args = dict(max_length=16384, loss_on="assistant", overlong="drop", num_proc=workers)
    return build_tokenized(rows, tok, tok.chat_template, rejects_dir=tmp / "rejects", out_dir=tmp / name, **args)[1]


def child(mode: str, corpus: Path, tokenizer_dir: str, workers: int) -> dict:
    """Run one preparation in this (fresh) process and report its memory."""
    from transformers import AutoTokenizer

    t0 = time.perf_counter()
    with PeakSampler() as sampler, tempfile.TemporaryDirectory(dir=corpus.parent) as tmp:
        if mode == "ours":
            from train.corpus import read_corpus

            tok = AutoTokenizer.from_pretrained(tokenizer_dir)
            rows, stats, _ = read_corpus(
                corpus, num_proc=workers, rejects_dir=Path(tmp) / "rejects", work_dir=Path(tmp) / "work"
            )
            summary = tokenise(rows, tok, workers, Path(tmp), "tok")
            done = {"rows_kept": summary["examples"], "tokens": summary["tokens"]}
        else:  # the previous loader: a Python list of every row, then Dataset.from_list
            from datasets import Dataset

            kept = []
            for f in sorted((corpus / "data").glob("train-*.jsonl")):
                with f.open() as fh:
                    for line in fh:
                        row = json.loads(line)
                        if row["verification"]["passed"]:
                            kept.append({"id": row["id"], "messages": row["messages"]})
            ds = Dataset.from_list(kept)
            done = {"rows_kept": len(ds), "tokens": None}
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        **done,
        "seconds": round(time.perf_counter() - t0, 1),
        "main_peak_rss_mb": round(self_kb / 1024, 1),
        "main_peak_anon_mb": round(sampler.peak["RssAnon"] / 1024, 1),
        "main_peak_file_mb": round(sampler.peak["RssFile"] / 1024, 1),
        "worker_peak_rss_mb": round(children_kb / 1024, 1),
    }


def run_child(mode: str, corpus: Path, tokenizer_dir: str, workers: int) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.train_data_memory", "--child", mode, str(corpus), tokenizer_dir]
    cmd += ["--workers", str(workers)]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{mode} at {corpus} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def tokenisation_rates(corpus: Path, tokenizer_dir: str, rows: int) -> dict[int, float]:
    """Rows/s of build_tokenized over the first `rows` checked rows, with 1 and with 2 workers (same process)."""
    from transformers import AutoTokenizer

    from train.corpus import read_corpus

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    rates = {}
    with tempfile.TemporaryDirectory(dir=corpus.parent) as tmp:
        checked, _, _ = read_corpus(corpus, rejects_dir=Path(tmp) / "rejects", work_dir=Path(tmp) / "work")
        subset = checked.select(range(min(rows, len(checked))))
        for workers in (1, 2, 1, 2):  # alternated, so that a load change on a shared machine hits both alike
            t0 = time.perf_counter()
            tokenise(subset, tok, workers, Path(tmp), f"tok{workers}-{time.monotonic_ns()}")
            rates.setdefault(workers, []).append(len(subset) / (time.perf_counter() - t0))
    return {w: max(r) for w, r in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs=2, default=[1500, 6000], metavar=("SMALL", "LARGE"))
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="dataset_num_proc of the preparation runs (the recipes use 16-32; with 1 the main process reads the "
        "Arrow files itself, and its RSS then also counts their memory-mapped pages)",
    )
    parser.add_argument("--rate-rows", type=int, default=600, help="rows tokenised for the 1-vs-2-worker rate")
    parser.add_argument("--tokenizer", default=None, help="tokenizer folder (default: the tiny test model, built)")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "CORPUS", "TOKENIZER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, corpus, tokenizer_dir = args.child
        print(json.dumps(child(mode, Path(corpus), tokenizer_dir, args.workers)))
        return

    tokenizer_dir = args.tokenizer
    if tokenizer_dir is None:
        from train.tiny import build_tiny_model

        cache = Path(os.environ.get("DISTILLERY_CACHE", ".cache"))
        tokenizer_dir = str(build_tiny_model(cache / "models" / "tiny-qwen3"))
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="train-data-memory-") as tmp:
        results = {}
        for size in args.sizes:
            t0 = time.perf_counter()
            corpus = write_corpus(Path(tmp) / f"corpus-{size}", size)
            mb = sum(f.stat().st_size for f in (corpus / "data").iterdir()) / 1e6
            print(f"{size:,} rows ({mb:,.0f} MB of JSONL) written in {time.perf_counter() - t0:.0f} s", flush=True)
            results[size] = {"jsonl_mb": round(mb, 1)}
            for mode in ("baseline", "ours"):
                results[size][mode] = r = run_child(mode, corpus, tokenizer_dir, args.workers)
                print(
                    f"  {mode:>8}: main peak RSS {r['main_peak_rss_mb']:8,.0f} MB (anonymous {r['main_peak_anon_mb']:,.0f}, "
                    f"mapped files {r['main_peak_file_mb']:,.0f}), workers' peak {r['worker_peak_rss_mb']:,.0f} MB, "
                    f"{r['seconds']:.0f} s",
                    flush=True,
                )
        small, large = args.sizes
        rates = tokenisation_rates(Path(tmp) / f"corpus-{small}", tokenizer_dir, args.rate_rows)

    def ratio(mode: str, key: str) -> float:
        return results[large][mode][key] / results[small][mode][key]

    print(f"\nrows ×{large / small:.1f}:")
    for mode, label in (("ours", "streaming (train.corpus + train.pretokenize)"), ("baseline", "Python list loader")):
        print(
            f"  {label:>46}: main peak RSS ×{ratio(mode, 'main_peak_rss_mb'):.2f}, "
            f"anonymous ×{ratio(mode, 'main_peak_anon_mb'):.2f}, mapped files ×{ratio(mode, 'main_peak_file_mb'):.2f}"
        )
    print(
        "  (mapped files: pages of memory-mapped Arrow files and libraries the process has touched — page cache the "
        "kernel can reclaim, shared between processes)"
    )
    print(
        f"tokenisation: {rates[1]:,.0f} rows/s with 1 worker, {rates[2]:,.0f} rows/s with 2 "
        f"(×{rates[2] / rates[1]:.2f}); {os.cpu_count()} CPUs, load average {load:.2f} at start"
    )
    summary = {
        "sizes": args.sizes,
        "results": results,
        "main_peak_rss_ratio": ratio("ours", "main_peak_rss_mb"),
        "baseline_main_peak_rss_ratio": ratio("baseline", "main_peak_rss_mb"),
        "tokenize_rows_per_second": rates,
        "load_average": load,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
