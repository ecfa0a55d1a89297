"""One local Ray cluster (2 CPUs, no dashboard, no usage stats) for the tests of this folder."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "evaluation"))


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[object]:
    ray = pytest.importorskip("ray", reason="ray[data] is in the dev extra")
    pytest.importorskip("ray.data", reason="ray[data] is in the dev extra")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    # Workers must import this checkout (tests run from the repo root with PYTHONPATH set or an editable install).
    # tests/evaluation holds the stand-in embedder the eval tests ship to the workers.
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), str(REPO / "tests" / "evaluation"), os.environ.get("PYTHONPATH")) if p)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=100 * 1024**2)
    try:
        yield ray
    finally:
        ray.shutdown()
