"""One way to run a batched, multi-process `datasets` map over a corpus: output written to a named Arrow file (one per
worker), never a stale cache reused, and each batch bounded so that memory does not grow with the corpus."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def batched_map(
    ds,
    fn: Callable,
    *,
    batch_size: int,
    features,
    out_file: Path,
    workers: int | None,
    fn_kwargs: dict,
    desc: str,
    with_indices: bool = False,
):
    """`ds.map(fn)` in batches of `batch_size` rows, replacing every column by `features`, with the worker rank.

    With `workers` > 1 the shards go to `<out_file stem>_0000k_of_0000n.arrow`; `fn` receives `rank` (None when one
    process runs it) so each worker can write its own side files.
    """
    return ds.map(
        fn,
        batched=True,
        batch_size=batch_size,
        writer_batch_size=batch_size,
        with_indices=with_indices,
        with_rank=True,
        num_proc=workers if workers and workers > 1 else None,
        remove_columns=ds.column_names,
        features=features,
        fn_kwargs=fn_kwargs,
        load_from_cache_file=False,  # the rejects side files are only written when the function runs
        cache_file_name=str(out_file),
        new_fingerprint=f"{Path(out_file).stem}-{os.getpid()}",  # no hashing of the tokenizer in fn_kwargs
        desc=desc,
    )
