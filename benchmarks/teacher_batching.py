"""Does `transformers serve --continuous-batching` help the demo teacher (SmolLM2-135M) on this CPU?

    python -m benchmarks.teacher_batching [--model .cache/models/smollm2-135m-instruct] [--requests 8]

Serves the model with data_prep's TeacherServer (the same command the build runs), sends the same chat requests
one at a time and 4 at a time, with and without continuous batching, and prints completion tokens/s and the ratio
to the plain server answering one request at a time.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from data_prep.teacher import TeacherServer
from eval.generation.cpu import cpu_info, native_dtype

PROBLEMS = [
    "Tom has 3 boxes of 12 pencils and gives away 7 pencils. How many pencils does he have left?",
    "A baker makes 48 muffins and sells them in bags of 6. Each bag costs $4. How much money does he make?",
    "Sara reads 15 pages a day. How many pages does she read in 2 weeks?",
    "A train travels 60 miles per hour for 3 hours, then 40 miles per hour for 2 hours. How far does it go?",
]


def run(base_url: str, model: str, requests: int, concurrency: int, max_tokens: int) -> tuple[int, float]:
    from openai import OpenAI

    client = OpenAI(base_url=base_url, api_key="not-needed", timeout=600)

    def ask(k: int) -> int:
        out = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": PROBLEMS[k % len(PROBLEMS)]}],
            temperature=0.6, top_p=0.95, max_tokens=max_tokens, seed=k)
        return out.usage.completion_tokens if out.usage else 0

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        tokens = sum(pool.map(ask, range(requests)))
    return tokens, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cache = Path(os.environ.get("DISTILLERY_CACHE", ".cache"))
    ap.add_argument("--model", default=str(cache / "models" / "smollm2-135m-instruct"))
    ap.add_argument("--requests", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=96)
    args = ap.parse_args()
    name, flags = cpu_info()
    dtype = native_dtype()
    print(f"CPU: {name}; bf16 flags: {sorted(flags & {'avx512_bf16', 'amx_bf16'}) or 'none'}; dtype {dtype}; "
          f"{len(os.sched_getaffinity(0))} cores")
    base = None
    for label, extra in (("plain", ()), ("continuous-batching", ("--continuous-batching",))):
        with tempfile.TemporaryDirectory() as tmp, \
                TeacherServer(args.model, Path(tmp) / "server.log", dtype=dtype, extra_args=extra) as server:
            run(server.base_url, args.model, 1, 1, 8)  # warm-up: first request pays lazy loading
            for conc in (1, 4):
                tokens, secs = run(server.base_url, args.model, args.requests, conc, args.max_tokens)
                rate = tokens / secs
                base = base or rate
                print(f"{label:<20} concurrency {conc}: {tokens} tokens in {secs:5.1f} s = {rate:6.1f} tok/s "
                      f"(× {rate / base:.2f} vs plain, 1 at a time)  load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
