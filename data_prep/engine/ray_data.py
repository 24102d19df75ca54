"""The Ray engine: the same stage functions through Ray Data `map_batches`, on a local Ray or a cluster.

Rows travel as JSON strings (one Arrow string column), so the heterogeneous nested rows of a corpus never meet
Arrow's schema inference, and `preserve_order` keeps the output in input order: the kept rows and rejects are
exactly those of the local engine.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from data_prep.engine.local import StageFn
from data_prep.reject import Reject


def _apply(batch: dict[str, np.ndarray], fn: StageFn, cfg: Any) -> dict[str, np.ndarray]:
    rows = [json.loads(s) for s in batch["row"]]
    kept, rejects = fn(rows, cfg)
    kinds = ["kept"] * len(kept) + ["reject"] * len(rejects)
    data = [json.dumps(r, ensure_ascii=False) for r in kept]
    data += [json.dumps(r.to_json(), ensure_ascii=False) for r in rejects]
    return {"kind": np.array(kinds, dtype=object), "data": np.array(data, dtype=object)}


class RayEngine:
    name = "ray"

    def __init__(self, address: str | None = None, batch_rows: int = 256):
        import ray

        self.batch_rows = batch_rows
        self.started = not ray.is_initialized()
        if self.started:
            address = address or os.environ.get("RAY_ADDRESS")
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     **({} if address else {"num_cpus": os.cpu_count()}))
        self.ray = ray

    def map(self, fn: StageFn, rows: list[dict[str, Any]], cfg: Any) -> tuple[list[dict[str, Any]], list[Reject]]:
        if not rows:
            return fn(rows, cfg)
        import ray.data

        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True
        ctx.enable_progress_bars = False
        ds = ray.data.from_items([{"row": json.dumps(r, ensure_ascii=False)} for r in rows])
        out = ds.map_batches(_apply, fn_kwargs={"fn": fn, "cfg": cfg}, batch_size=self.batch_rows,
                             batch_format="numpy")
        kept: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        for rec in out.iter_rows():
            if rec["kind"] == "kept":
                kept.append(json.loads(rec["data"]))
            else:
                rejects.append(Reject.from_json(json.loads(rec["data"])))
        return kept, rejects

    def close(self) -> None:
        """Stop the Ray runtime if this engine started it; one started by a caller or `ray start` stays up."""
        if self.started:
            self.ray.shutdown()
