"""Targets of the API-contract suite: the simulator always, real vLLM when it is running.

Real vLLM is used when ``VLLM_BASE_URL`` is set (``tests/vllm_cpu/run.sh`` does that);
``VLLM_MODEL`` names its served model (default: the first one ``/v1/models`` lists). Tests
against it are marked ``vllm``; the simulator side runs in every ``pytest`` run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from orchestrator.config import server_root
from services.expert_sim.launcher import SimProcess

SimFactory = Callable[..., SimProcess]

#: The simulator stands in with vLLM's settings from tests/vllm_cpu/run.sh.
SIM_MODEL = "contract-model"
SIM_MAX_MODEL_LEN = 512


@dataclass(frozen=True)
class Target:
    kind: str  # "sim" or "vllm"
    url: str  # server root, no /v1
    model: str

    @property
    def api_base(self) -> str:
        return f"{self.url}/v1"


def _vllm_target() -> Target:
    base = os.environ.get("VLLM_BASE_URL")
    if not base:
        pytest.skip("VLLM_BASE_URL is not set; `make test-vllm` starts a real vLLM server")
    url = server_root(base)
    model = os.environ.get("VLLM_MODEL") or httpx.get(f"{url}/v1/models", timeout=10).json()["data"][0]["id"]
    return Target("vllm", url, model)


def _sim_target(sim_factory: SimFactory, fresh: bool = False) -> Target:
    sim = sim_factory(SIM_MODEL, max_model_len=SIM_MAX_MODEL_LEN, fresh=fresh)
    return Target("sim", sim.url, SIM_MODEL)


@pytest.fixture(scope="session")
def sim_target(sim_factory: SimFactory) -> Target:
    return _sim_target(sim_factory)


@pytest.fixture(scope="session")
def vllm_target() -> Target:
    return _vllm_target()


@pytest.fixture(scope="session", params=["sim", pytest.param("vllm", marks=pytest.mark.vllm)])
def target(request: pytest.FixtureRequest, sim_factory: SimFactory) -> Target:
    """Each contract test runs once per target."""
    return _sim_target(sim_factory) if request.param == "sim" else _vllm_target()


@pytest.fixture(params=["sim", pytest.param("vllm", marks=pytest.mark.vllm)])
def sleepy_target(request: pytest.FixtureRequest, sim_factory: SimFactory) -> Target:
    """A target the test may put to sleep (its own simulator; vLLM needs VLLM_SERVER_DEV_MODE=1)."""
    if request.param == "sim":
        return _sim_target(sim_factory, fresh=True)
    target = _vllm_target()
    if httpx.get(f"{target.url}/is_sleeping", timeout=10).status_code == 404:
        pytest.skip("vLLM runs without VLLM_SERVER_DEV_MODE=1: no sleep endpoints")
    return target
