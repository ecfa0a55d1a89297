from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import write  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SHARED_ROUTING = REPO / ".." / "shared" / "data" / "routing"


@pytest.fixture(scope="session")
def synthetic_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 rows, three experts, four categories, USD costs and recorded answers."""
    return write(tmp_path_factory.mktemp("eval") / "synthetic.jsonl", 400)


@pytest.fixture
def shared_routing() -> Path:
    if not SHARED_ROUTING.is_dir():
        pytest.skip(f"shared routing data not found at {SHARED_ROUTING}")
    return SHARED_ROUTING
