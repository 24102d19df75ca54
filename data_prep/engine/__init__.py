"""Engines run a stage function `(rows, cfg) -> (kept, rejects)` over a batch: in this process, in a local process
pool (engine/local.py), or on a Ray cluster through Ray Data (engine/ray_data.py). Same function, same output."""

from __future__ import annotations

from typing import Any

from data_prep.engine.local import LocalEngine


def make_engine(kind: str, workers: int = 1, ray_address: str | None = None) -> Any:
    if kind == "ray":
        from data_prep.engine.ray_data import RayEngine

        return RayEngine(ray_address)
    return LocalEngine(workers)


__all__ = ["LocalEngine", "make_engine"]
