"""Reading one problem source into items: a thin entry point over data_prep/sources (kept for callers and tests).

`Reject` lives in data_prep/reject.py and is re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from data_prep.reject import Reject
from data_prep.sources import SourceStatus, iter_source
from data_prep.sources.adapters import FORMATS

__all__ = ["FORMATS", "Reject", "ingest"]


def ingest(path: str | Path, fmt: str, source: str, offset: int = 0, limit: int | None = None,
           fields: dict[str, str] | None = None, response: str = "reference") -> Iterator[dict[str, Any] | Reject]:
    """Items (or Rejects) for records [offset, offset+limit) of one source; a source that cannot be read at all
    raises ValueError with its one-line reason."""
    from data_prep.recipe import SourceConfig

    if fmt not in FORMATS:
        raise ValueError(f"unknown source format {fmt!r} (known: {', '.join(FORMATS)})")
    src = SourceConfig(path=str(path), format=fmt, name=source, offset=offset, limit=limit, fields=fields or {},
                       response=response)
    status = SourceStatus(source, str(path))
    yield from iter_source(src, status)
    if status.error:
        raise ValueError(status.error)
