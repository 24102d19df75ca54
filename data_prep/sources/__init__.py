"""Sources: where problems come from, read as a stream of items (or Rejects), mixed by weight and capped.

A source is a local file (JSONL, JSON, Parquet), a glob of such files, or a hub dataset (`hub:` + `config:`,
`split:`, `revision:`; or the short `path: hf://<repo>[:<config>]/<split>`). Its `format` picks an adapter
(sources/adapters.py) and `fields:` renames the fields the adapter reads. A source that cannot be read at all
(directory, corrupt file, unreachable hub) gives a one-line error in its status and 0 rows; the build goes on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from data_prep.reject import Reject
from data_prep.row import stable_id
from data_prep.sources.adapters import FORMATS, adapt
from data_prep.sources.readers import HUB_PREFIX, SourceError, expand, iter_file, iter_hub, parse_hub
from eval.jsonl import BadLine

if TYPE_CHECKING:
    from data_prep.recipe import SourceConfig

__all__ = ["FORMATS", "SourceError", "SourceStatus", "iter_source", "label", "mixed", "quotas", "source_name"]


@dataclass
class SourceStatus:
    """What one source gave: records read, items passed on, rejects, and an error if it could not be read."""

    name: str
    label: str
    records: int = 0
    items: int = 0
    rejects: int = 0
    error: str | None = None
    files: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None and k != "files"}


def source_name(src: SourceConfig) -> str:
    return src.name or src.format


def label(src: SourceConfig) -> str:
    if src.hub:
        return f"hf://{src.hub}" + (f":{src.config}" if src.config else "") + f"/{src.split}"
    return str(src.path)


def _records(src: SourceConfig) -> Iterator[tuple[str, int, dict[str, Any] | BadLine]]:
    """(file label, line, record) across the source's files, in order."""
    if src.hub or str(src.path).startswith(HUB_PREFIX):
        if src.hub:
            name, config, split = src.hub, src.config, src.split
        else:
            name, config, split = parse_hub(str(src.path))
        for line, rec in iter_hub(name, config, split, src.revision):
            yield label(src), line, rec
        return
    files = expand(str(src.path))
    if not files:
        raise SourceError(f"{src.path}: the pattern matches no file")
    for path in files:
        for line, rec in iter_file(path):
            yield str(path), line, rec


def iter_source(src: SourceConfig, status: SourceStatus, cap: int | None = None) -> Iterator[dict[str, Any] | Reject]:
    """Items (or Rejects) for records [offset, offset + min(limit, cap)) of one source; never raises on bad data."""
    name = source_name(src)
    limit = src.limit if cap is None else (cap if src.limit is None else min(src.limit, cap))
    multi_file = not src.hub and not str(src.path).startswith(HUB_PREFIX) and len(expand(str(src.path))) > 1
    records = _records(src)
    index = 0
    while True:
        if limit is not None and status.records >= limit:
            return
        try:
            file, line, rec = next(records)
        except StopIteration:
            return
        except SourceError as exc:
            status.error = str(exc)
            return
        index += 1
        if index <= src.offset:
            continue
        status.records += 1
        if isinstance(rec, BadLine):
            status.rejects += 1
            yield Reject("ingest", rec.reason, file=file, line=line, record=rec.text[:2000], source=name)
            continue
        got = adapt(src.format, rec, src.fields, name)
        if isinstance(got, tuple):
            fld, reason = got
            status.rejects += 1
            yield Reject("ingest", reason, file=file, line=line, field=fld, record=rec, source=name)
            continue
        if src.category:
            got["category"] = src.category
            if "row" in got:
                got["row"] = {**got["row"], "category": src.category}
        oid = got.pop("original_id", None)
        where = (f"{Path(file).name}:" if multi_file else "") + (f"id={oid}" if oid is not None else f"#{line}")
        item_id = stable_id(name, where, got["problem"])
        got.setdefault("reference_answer", None)
        got.update(id=item_id, item_id=item_id, source=name, response_mode=src.response,
                   origin={"file": file, "line": line, "original_id": oid})
        status.items += 1
        yield got


def quotas(sources: list[SourceConfig], max_items: int | None) -> list[int | None]:
    """Records each source may give: `max_items` split by weight (largest remainder), within each `limit`."""
    if max_items is None:
        return [None] * len(sources)
    total = sum(s.weight for s in sources) or 1.0
    exact = [max_items * s.weight / total for s in sources]
    out = [int(x) for x in exact]
    for i in sorted(range(len(sources)), key=lambda i: exact[i] - out[i], reverse=True)[:max_items - sum(out)]:
        out[i] += 1
    return out


def mixed(sources: list[SourceConfig], statuses: list[SourceStatus], max_items: int | None = None
          ) -> Iterator[dict[str, Any] | Reject]:
    """All sources interleaved by weight (smooth weighted round robin: deterministic, so resume can skip)."""
    caps = quotas(sources, max_items)
    streams = [iter_source(s, st, cap) for s, st, cap in zip(sources, statuses, caps)]
    weights = [max(s.weight, 0.0) for s in sources]
    live = [i for i, w in enumerate(weights) if w > 0]
    credit = [0.0] * len(sources)
    while live:
        total = sum(weights[i] for i in live)
        for i in live:
            credit[i] += weights[i]
        pick = max(live, key=lambda i: (credit[i], -i))
        credit[pick] -= total
        try:
            yield next(streams[pick])
        except StopIteration:
            live.remove(pick)
            credit[pick] = 0.0
