"""Candidate pairs from MinHash signatures by banding, done as sorts over whole columns.

Written by hand on purpose: rensa's LSH index answers queries one signature object at a time, so a streamed
pass would create a Python object per row and query it in a loop. Here each band of each row is one uint64
(256 B per row for 32 bands, built at the end of pass 1), every band is sorted once with numpy at the end of pass 1, and rows sharing a band
value become candidate pairs (each row paired with the first row of its bucket, as datatrove's MinHash stage
does). Candidates are then checked against the estimated Jaccard similarity, so a chance collision is no pair.
"""

from __future__ import annotations

import numpy as np

# Odd 64-bit multipliers: a band's values are mixed into one uint64 (wrapping arithmetic).
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
                 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x94D049BB133111EB, 0xBF58476D1CE4E5B9],
                dtype=np.uint64)


def band_hashes(signatures: np.ndarray, bands: int) -> np.ndarray:
    """(n, bands) uint64: one hash per band of `rows = num_perm / bands` signature values."""
    n, perm = signatures.shape
    rows = perm // bands
    sig = signatures.astype(np.uint64).reshape(n, bands, rows)
    mix = np.resize(_MIX, rows)
    with np.errstate(over="ignore"):
        h = (sig * mix).sum(axis=2, dtype=np.uint64)
        h ^= h >> np.uint64(29)
        h *= np.uint64(0xBF58476D1CE4E5B9)
    return h


def same_key_pairs(keys: np.ndarray) -> np.ndarray:
    """(m, 2) pairs (first index of a key, later index with the same key) for a 1-D key array."""
    if len(keys) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    same = np.empty(len(k), dtype=bool)
    same[0] = False
    same[1:] = k[1:] == k[:-1]
    starts = np.where(~same, np.arange(len(k)), 0)
    first = np.maximum.accumulate(starts)
    pos = np.nonzero(same)[0]
    return np.stack([order[first[pos]], order[pos]], axis=1).astype(np.int64)


def candidate_pairs(bands: np.ndarray) -> np.ndarray:
    """Unique (i, j) with i < j that share at least one band value."""
    found = [same_key_pairs(bands[:, b]) for b in range(bands.shape[1])]
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.concatenate(found)
    pairs = np.sort(pairs, axis=1)
    return np.unique(pairs, axis=0) if len(pairs) else pairs


def jaccard_estimates(signatures: np.ndarray, pairs: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Share of equal signature values for each pair (the MinHash estimate of Jaccard similarity)."""
    out = np.empty(len(pairs), dtype=np.float32)
    for s in range(0, len(pairs), chunk):
        p = pairs[s:s + chunk]
        out[s:s + chunk] = (signatures[p[:, 0]] == signatures[p[:, 1]]).mean(axis=1)
    return out
