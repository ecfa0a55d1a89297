"""Retrieval fixtures: the packaged MiniLM, and retrieval settings for each store.

``store_settings`` is parametrised over the embedded store and Milvus (Milvus Lite, the real
Milvus engine embedded, started by pymilvus for this test session), so every test that takes
it runs against both.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.config import MilvusSettings, RetrievalSettings
from orchestrator.embeddings import Embedder

_counter = itertools.count()


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    e = Embedder()
    e.encode(["warm up"])
    return e


@pytest.fixture(scope="session")
def milvus_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    pytest.importorskip("pymilvus")
    lite = pytest.importorskip("milvus_lite.server_manager")
    yield tmp_path_factory.mktemp("milvus") / "lite.db"
    # Stop the embedded servers now: milvus-lite's own atexit hook logs after pytest has closed
    # the streams ("--- Logging error ---" at the end of every run).
    lite.server_manager_instance.release_all()


def settings_for(store: str, tmp_path: Path, milvus_db: Path | None, **extra: object) -> RetrievalSettings:
    if store == "milvus":
        assert milvus_db is not None
        # A fresh collection prefix per test: indices never leak between tests sharing the Lite file.
        milvus = MilvusSettings(uri=str(milvus_db), collection_prefix=f"t{next(_counter)}_")
        return RetrievalSettings(store="milvus", milvus=milvus, **extra)
    return RetrievalSettings(store="embedded", path=str(tmp_path / "indices"), **extra)


@pytest.fixture(params=["embedded", pytest.param("milvus", marks=pytest.mark.integration)])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> RetrievalSettings:
    milvus_db = request.getfixturevalue("milvus_db") if request.param == "milvus" else None
    return settings_for(request.param, tmp_path, milvus_db, chunk_chars=300, chunk_overlap=60)
