"""Near-duplicate dedup on >= 100,000 rows built from real problems with known duplicate pairs.

    python -m benchmarks.near_dedup                 # 100,000 rows, about a minute on 2 cores
    python -m benchmarks.near_dedup --rows 200000 --baseline-rows 20000

Base problems: GSM8K train, s1K, MATH-500, AIME 2024, LiveCodeBench statements (../shared), exact copies removed.
Every further row is a synthetic edit of a base problem of >= 25 words (case and spacing changed, a word dropped,
a word replaced, two words swapped, a lead-in or closing sentence added; one to three edits), so each base
problem and its edits form a known cluster. The rows are shuffled and written as JSONL; `python -m data_prep
dedup --method minhash` runs on them end to end (two passes over the file, kept / removed files written).

recall    = removed rows whose kept row is in their cluster / (rows - clusters)
precision = removed rows whose kept row is in their cluster / removed rows

Baseline in the same process: a plain single-process datasketch loop (MinHash per row, query then insert into a
MinHashLSH at the same threshold and permutation count) over the first --baseline-rows rows, with its recall and
precision there, and ours on the same rows for the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
LEADS = ["Problem: ", "Question: ", "Solve the following. ", "Here is a problem. ", "Try this one: "]
TAILS = [" Show your work.", " Explain your answer.", " Give the final answer only.", " Answer carefully."]
FILLER = ["quickly", "exactly", "total", "then", "also", "first", "again", "still", "only", "just"]


def base_problems() -> list[str]:
    texts = [json.loads(x)["question"] for x in (SHARED / "samples" / "gsm8k_train.jsonl").read_text().splitlines()]
    s1k = json.loads((SHARED / "samples" / "s1K__contamination-audit-converted__1000rows.json").read_text())
    texts += [r["problem"] for r in s1k]
    for name in ("math500.jsonl", "aime24.jsonl"):
        texts += [json.loads(x)["problem"] for x in (SHARED / "benchmarks" / name).read_text().splitlines()]
    lcb = SHARED / "benchmarks" / "livecodebench_release_v5_problems_notests.jsonl"
    texts += [json.loads(x)["question_content"] for x in lcb.read_text().splitlines()]
    from data_prep.textnorm import normalize

    seen, out = set(), []
    for t in texts:
        key = normalize(t)
        if key not in seen:
            seen.add(key)
            out.append(t)
    return out


def edit(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(6)
        i = rng.randrange(len(words))
        if kind == 0:
            words = [w.upper() if rng.random() < 0.3 else w for w in words]
        elif kind == 1 and len(words) > 5:
            del words[i]
        elif kind == 2:
            words[i] = rng.choice(FILLER)
        elif kind == 3 and i + 1 < len(words):
            words[i], words[i + 1] = words[i + 1], words[i]
        elif kind == 4:
            words[0] = rng.choice(LEADS) + words[0]
        else:
            words[-1] = words[-1] + rng.choice(TAILS)
    return ("  " if rng.random() < 0.2 else " ").join(words)


def make_rows(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    bases = base_problems()
    editable = [i for i, t in enumerate(bases) if len(t.split()) >= 25]
    rows = [{"id": f"b{i}", "problem": t, "cluster": i} for i, t in enumerate(bases)]
    for j in range(n - len(rows)):
        i = rng.choice(editable)
        rows.append({"id": f"e{j}", "problem": edit(bases[i], rng), "cluster": i})
    rng.shuffle(rows)
    return rows


def score(rows: list[dict], removed: dict[str, str]) -> tuple[float, float]:
    cluster = {r["id"]: r["cluster"] for r in rows}
    right = sum(cluster[a] == cluster[b] for a, b in removed.items())
    should = len(rows) - len(set(cluster.values()))
    return right / should, right / max(len(removed), 1)


def ours(rows: list[dict], folder: Path) -> tuple[dict[str, str], float]:
    from data_prep.standalone import run_dedup

    src, out = folder / "rows.jsonl", folder / "kept.jsonl"
    with src.open("w") as fh:
        for r in rows:
            fh.write(json.dumps({"id": r["id"], "problem": r["problem"]}) + "\n")
    t0 = time.perf_counter()
    run_dedup(src, out, method="minhash")
    secs = time.perf_counter() - t0
    removed = {}
    with (folder / "kept.removed.jsonl").open() as fh:
        for line in fh:
            rec = json.loads(line)
            removed[rec["id"]] = rec["duplicate_of"]
    return removed, secs


def datasketch_loop(rows: list[dict], threshold: float, num_perm: int) -> tuple[dict[str, str], float]:
    from datasketch import MinHash, MinHashLSH

    from data_prep.textnorm import normalize, word_shingles

    t0 = time.perf_counter()
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    removed = {}
    for r in rows:
        m = MinHash(num_perm=num_perm)
        m.update_batch([s.encode() for s in word_shingles(normalize(r["problem"]))])
        hits = lsh.query(m)
        if hits:
            removed[r["id"]] = hits[0]
        else:
            lsh.insert(r["id"], m)
    return removed, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--baseline-rows", type=int, default=20_000)
    args = ap.parse_args(argv)
    from data_prep.dedup import DedupConfig

    cfg = DedupConfig()
    rows = make_rows(args.rows)
    clusters = len({r["cluster"] for r in rows})
    print(f"{len(rows):,} rows: {clusters:,} real problems + {len(rows) - clusters:,} synthetic edits "
          f"(threshold {cfg.minhash_threshold}, {cfg.num_perm} permutations, {cfg.bands} bands)")
    with tempfile.TemporaryDirectory() as tmp:
        removed, secs = ours(rows, Path(tmp))
        recall, precision = score(rows, removed)
        rate = len(rows) / secs
        print(f"data_prep dedup --method minhash, {len(rows):,} rows: recall {recall:.4f}, precision {precision:.4f}, "
              f"{rate:,.0f} rows/s end to end ({secs:.1f} s); load average {os.getloadavg()[0]:.2f}")
        sub = rows[:args.baseline_rows]
        (Path(tmp) / "sub").mkdir()
        removed_s, secs_s = ours(sub, Path(tmp) / "sub")
        base, secs_b = datasketch_loop(sub, cfg.minhash_threshold, cfg.num_perm)
    r_s, p_s = score(sub, removed_s)
    r_b, p_b = score(sub, base)
    print(f"first {len(sub):,} rows: ours {len(sub) / secs_s:,.0f} rows/s (recall {r_s:.4f}, precision {p_s:.4f}); "
          f"datasketch loop {len(sub) / secs_b:,.0f} rows/s (recall {r_b:.4f}, precision {p_b:.4f}); "
          f"ratio {secs_b / secs_s:.1f}x; load average {os.getloadavg()[0]:.2f}")
    print(json.dumps({"rows": len(rows), "recall": round(recall, 4), "precision": round(precision, 4),
                      "rows_per_s": round(rate), "baseline_rows": len(sub), "ratio_to_datasketch": round(secs_b / secs_s, 2),
                      "datasketch_recall": round(r_b, 4), "load_avg": os.getloadavg()[0]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
