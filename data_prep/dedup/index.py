"""`Deduplicator`: two passes over the rows with bounded memory (hashes, signatures, vectors; never the rows).

Pass 1, `add(rows)` batch by batch, records each row's id, exact key, MinHash signature and embedding;
`finalize()` finds the duplicate pairs, joins them into clusters and picks one row per cluster by the keep rule
(reference answer or tests first, then `source_priority`, then the first seen); pass 2, `filter(rows)` over the
same rows in the same order, returns the kept rows and a reject for every other one naming the kept row's id,
the method and the score. `save`/`load` let an interrupted build resume either pass.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from data_prep.dedup.config import DedupConfig
from data_prep.dedup.features import batch_features
from data_prep.dedup.lsh import band_hashes, candidate_pairs, jaccard_estimates, same_key_pairs
from data_prep.dedup.rows import Reject, has_reference, make_reject, row_id

METHOD_CODES = {"exact": 1, "minhash": 2, "semantic": 3}
METHOD_NAMES = {v: k for k, v in METHOD_CODES.items()}


class _Grow:
    """An append-only numpy array (capacity doubles), so pass 1 does not hold a Python object per row."""

    def __init__(self, dtype: Any, width: int | None = None):
        self.n = 0
        self.data = np.zeros((1024,) if width is None else (1024, width), dtype=dtype)

    def extend(self, values: np.ndarray) -> None:
        need = self.n + len(values)
        if need > len(self.data):
            cap = max(need, 2 * len(self.data))
            bigger = np.zeros((cap, *self.data.shape[1:]), dtype=self.data.dtype)
            bigger[:self.n] = self.data[:self.n]
            self.data = bigger
        self.data[self.n:need] = values
        self.n = need

    @property
    def values(self) -> np.ndarray:
        return self.data[:self.n]


class Deduplicator:
    """Exact, MinHash and semantic duplicate finding over streamed batches; see the module docstring."""

    def __init__(self, cfg: DedupConfig | None = None, embedder: Any = None):
        self.cfg = cfg or DedupConfig()
        self._embedder = embedder
        self.n = 0
        self._id_bytes = bytearray()
        self._id_ends = _Grow(np.int64)
        self._has_ref = _Grow(np.uint8)
        self._prio = _Grow(np.int32)
        self._exact = _Grow(np.uint64)
        self._sig = _Grow(np.uint32, self.cfg.num_perm) if "minhash" in self.cfg.methods else None
        self._sem_pairs: list[np.ndarray] = []  # (m, 2) int64 and (m,) float32 scores, found while adding
        self._sem_scores: list[np.ndarray] = []
        self._faiss = None
        self.decision: dict[str, np.ndarray] | None = None  # set by finalize
        self._cursor = 0  # rows seen by filter (pass 2)
        self._rank = {s: i for i, s in enumerate(self.cfg.source_priority)}

    # ---- pass 1 ----
    def add(self, rows: Sequence[dict[str, Any]], features: dict[str, np.ndarray] | None = None) -> None:
        """Record a batch (in the order pass 2 will see it). `features` are the batch's precomputed exact keys /
        signatures / embeddings when an engine computed them elsewhere (`features.batch_features`)."""
        if self.decision is not None:
            raise RuntimeError("dedup: add() after finalize(); start a new Deduplicator for new rows")
        if not rows:
            return
        cfg = self.cfg
        texts = [str(r.get(cfg.field) or "") for r in rows]
        feats = dict(features or {})
        if "exact" not in feats or ("minhash" in cfg.methods and "minhash" not in feats):
            feats.update(batch_features(texts, cfg.methods, cfg.num_perm, cfg.shingle, cfg.seed))
        for r in rows:
            self._id_bytes += row_id(r, cfg.id_field).encode("utf-8", "surrogatepass")
            self._id_ends.extend(np.array([len(self._id_bytes)], dtype=np.int64))
        self._has_ref.extend(np.array([has_reference(r) for r in rows], dtype=np.uint8))
        self._prio.extend(np.array([self._rank.get(r.get("source"), len(self._rank)) for r in rows], dtype=np.int32))
        self._exact.extend(feats["exact"])
        if self._sig is not None:
            self._sig.extend(feats["minhash"])
        if "semantic" in cfg.methods:
            vecs = feats.get("semantic")
            self._add_vectors(self.embedder.encode(texts) if vecs is None else vecs)
        self.n += len(rows)

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from data_prep.embeddings import Embedder

            self._embedder = Embedder(self.cfg.model)
        return self._embedder

    def _add_vectors(self, vecs: np.ndarray) -> None:
        import faiss

        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        if self._faiss is None:
            dim = vecs.shape[1]
            self._faiss = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT) if self.cfg.index == "hnsw" \
                else faiss.IndexFlatIP(dim)
        start = self.n
        self._faiss.add(vecs)  # the batch itself is searched too, so pairs inside one batch are found
        k = min(self.cfg.neighbours + 1, self._faiss.ntotal)
        scores, idx = self._faiss.search(vecs, k)
        me = np.arange(start, start + len(vecs))[:, None]
        mask = (idx >= 0) & (idx < me) & (scores >= self.cfg.semantic_threshold)
        rows, cols = np.nonzero(mask)
        if len(rows):
            self._sem_pairs.append(np.stack([idx[rows, cols], me[rows, 0]], axis=1).astype(np.int64))
            self._sem_scores.append(scores[rows, cols].astype(np.float32))

    def id_of(self, i: int) -> str:
        ends = self._id_ends.values
        start = int(ends[i - 1]) if i else 0
        return self._id_bytes[start:int(ends[i])].decode("utf-8", "surrogatepass")

    def finalize(self) -> dict[str, int]:
        """Find the pairs, join them into clusters, choose the kept row of each; return counts per method."""
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        n, cfg = self.n, self.cfg
        pairs, scores, codes = [], [], []

        def found(p: np.ndarray, s: np.ndarray, method: str) -> None:
            pairs.append(p.reshape(-1, 2))
            scores.append(s.astype(np.float32))
            codes.append(np.full(len(p), METHOD_CODES[method], dtype=np.uint8))

        # Identical normalised texts are duplicates whichever methods run (and cost one sort to find).
        p = same_key_pairs(self._exact.values)
        found(p, np.ones(len(p)), "exact")
        if self._sig is not None and n:
            sig = self._sig.values
            cand = candidate_pairs(band_hashes(sig, cfg.bands))
            est = jaccard_estimates(sig, cand)
            ok = est >= cfg.minhash_threshold
            found(cand[ok], est[ok], "minhash")
        if self._sem_pairs:
            found(np.concatenate(self._sem_pairs), np.concatenate(self._sem_scores), "semantic")
        allp = np.concatenate(pairs) if pairs else np.zeros((0, 2), dtype=np.int64)
        alls = np.concatenate(scores) if scores else np.zeros(0, dtype=np.float32)
        allc = np.concatenate(codes) if codes else np.zeros(0, dtype=np.uint8)

        graph = coo_matrix((np.ones(len(allp)), (allp[:, 0], allp[:, 1])), shape=(n, n))
        _, comp = connected_components(graph, directed=False)
        # Keep rule: reference/tests first, then source priority, then first seen (lexsort: last key is primary).
        order = np.lexsort((np.arange(n), self._prio.values, 1 - self._has_ref.values.astype(np.int32), comp))
        first = np.ones(n, dtype=bool)
        first[1:] = comp[order][1:] != comp[order][:-1]
        winner_of_comp = np.empty(comp.max() + 1 if n else 0, dtype=np.int64)
        winner_of_comp[comp[order[first]]] = order[first]
        winner = winner_of_comp[comp] if n else np.zeros(0, dtype=np.int64)

        # Why each row is in its cluster: its first pair (exact before minhash before semantic).
        partner = np.full(n, -1, dtype=np.int64)
        how = np.zeros(n, dtype=np.uint8)
        score = np.zeros(n, dtype=np.float32)
        if len(allp):
            ends = np.concatenate([allp[:, 1], allp[:, 0]])
            others = np.concatenate([allp[:, 0], allp[:, 1]])
            uniq, at = np.unique(ends, return_index=True)
            m = len(allp)
            partner[uniq] = others[at]
            how[uniq] = allc[at % m]
            score[uniq] = alls[at % m]
        self.decision = {"winner": winner, "partner": partner, "how": how, "score": score}
        self._sig = None  # the signatures are no longer needed; pass 2 only reads the decision arrays
        self._faiss = None
        removed = winner != np.arange(n)
        return {"rows": n, "removed": int(removed.sum()),
                **{name: int(((how == code) & removed).sum()) for name, code in METHOD_CODES.items()}}

    # ---- pass 2 ----
    def seek(self, position: int) -> None:
        """Continue pass 2 at row `position` of pass 1's order (a resumed build skips finished shards)."""
        if not 0 <= position <= self.n:
            raise ValueError(f"dedup: seek to row {position} outside pass 1's {self.n} rows")
        self._cursor = position

    def filter(self, rows: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Reject]]:
        """Kept rows and rejects for a batch of pass 2 (rows in the order `add` saw them)."""
        if self.decision is None:
            raise RuntimeError("dedup: filter() before finalize()")
        d, cfg = self.decision, self.cfg
        kept, rejects = [], []
        for r in rows:
            i = self._cursor
            if i >= self.n:
                raise ValueError(f"dedup: pass 2 has more rows than pass 1 ({self.n}); the input changed")
            rid = row_id(r, cfg.id_field)
            if rid != self.id_of(i):
                raise ValueError(f"dedup: row {i + 1} of pass 2 has id {rid!r}, pass 1 had {self.id_of(i)!r}; "
                                 "both passes must read the same rows in the same order")
            self._cursor += 1
            w = int(d["winner"][i])
            if w == i:
                kept.append(r)
                continue
            method = METHOD_NAMES[int(d["how"][i])]
            sc = round(float(d["score"][i]), 4)
            detail = {"duplicate_of": self.id_of(w), "matched": self.id_of(int(d["partner"][i])), "method": method,
                      "score": sc}
            rejects.append(make_reject("dedup", f"{method} duplicate of {detail['duplicate_of']} (score {sc})", r,
                                       cfg.field, cfg.id_field, detail))
        return kept, rejects

    # ---- resume ----
    def save(self, path: str | Path) -> None:
        """Write the state (pass-1 arrays, or the decision after finalize) to folder `path`."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        arrays = {"id_ends": self._id_ends.values, "has_ref": self._has_ref.values, "prio": self._prio.values,
                  "exact": self._exact.values, "id_bytes": np.frombuffer(bytes(self._id_bytes), dtype=np.uint8)}
        if self._sig is not None:
            arrays["sig"] = self._sig.values
        if self._sem_pairs:
            arrays["sem_pairs"] = np.concatenate(self._sem_pairs)
            arrays["sem_scores"] = np.concatenate(self._sem_scores)
        if self.decision is not None:
            arrays.update({f"decision_{k}": v for k, v in self.decision.items()})
        tmp = path / "state.tmp.npz"
        np.savez(tmp, **arrays)
        if self._faiss is not None:
            import faiss

            faiss.write_index(self._faiss, str(path / "semantic.faiss.tmp"))
            (path / "semantic.faiss.tmp").replace(path / "semantic.faiss")
        tmp.replace(path / "state.npz")  # written last: a state file always has its faiss index beside it
        (path / "state.json").write_text(json.dumps({"config": asdict(self.cfg), "rows": self.n,
                                                     "cursor": self._cursor}) + "\n")

    @classmethod
    def load(cls, path: str | Path, cfg: DedupConfig | None = None, embedder: Any = None) -> Deduplicator:
        """A Deduplicator as `save` left it; `cfg` must match the saved one (else the index means something else)."""
        path = Path(path)
        meta = json.loads((path / "state.json").read_text())
        saved = DedupConfig(**meta["config"])
        if cfg is not None and asdict(cfg) != asdict(saved):
            raise ValueError(f"{path}: saved dedup state was made with a different dedup config; start afresh")
        self = cls(saved, embedder)
        with np.load(path / "state.npz") as z:
            self._id_bytes = bytearray(z["id_bytes"].tobytes())
            self._id_ends.extend(z["id_ends"])
            self._has_ref.extend(z["has_ref"])
            self._prio.extend(z["prio"])
            self._exact.extend(z["exact"])
            if "sig" in z and self._sig is not None:
                self._sig.extend(z["sig"])
            if "sem_pairs" in z:
                self._sem_pairs, self._sem_scores = [z["sem_pairs"]], [z["sem_scores"]]
            if "decision_winner" in z:
                self.decision = {k: z[f"decision_{k}"] for k in ("winner", "partner", "how", "score")}
        self.n = meta["rows"]
        self._cursor = meta.get("cursor", 0)
        if self.decision is None and (path / "semantic.faiss").exists():
            import faiss

            self._faiss = faiss.read_index(str(path / "semantic.faiss"))
        return self
