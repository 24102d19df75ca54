"""Per-batch work of dedup, pure over texts so it runs in a worker process or a Ray task.

`exact_keys` hashes the normalised form; `minhash_signatures` shingles it into word n-grams and signs them with
rensa (Rust MinHash; about 3x a datasketch loop at equal recall, see benchmarks/near_dedup.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import rensa

from data_prep.textnorm import normalize, text_hash, word_shingles


def exact_keys(texts: Sequence[str]) -> np.ndarray:
    """uint64 hash of each text's normalised form."""
    return np.frombuffer(b"".join(text_hash(normalize(t), 8) for t in texts), dtype=np.uint64).copy()


def minhash_signatures(texts: Sequence[str], num_perm: int = 128, shingle: int = 3, seed: int = 1) -> np.ndarray:
    """(n, num_perm) uint32 MinHash signatures of word `shingle`-grams of the normalised texts."""
    if not texts:
        return np.zeros((0, num_perm), dtype=np.uint32)
    sets = [word_shingles(normalize(t), shingle) for t in texts]
    matrix = rensa.RMinHash.digest_matrix_from_token_sets(sets, num_perm, seed)
    return np.asarray(matrix.to_rows(), dtype=np.uint32)


def batch_features(texts: Sequence[str], methods: Sequence[str], num_perm: int = 128, shingle: int = 3,
                   seed: int = 1) -> dict[str, np.ndarray]:
    """The exact keys and MinHash signatures a batch needs (embeddings are computed where the model lives)."""
    out = {"exact": exact_keys(texts)}
    if "minhash" in methods:
        out["minhash"] = minhash_signatures(texts, num_perm, shingle, seed)
    return out
