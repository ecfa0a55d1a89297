from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from orchestrator.experts.client import ExpertClient
from services.gateway import create_app
from services.gateway.auth import ApiKeys, hash_key

from .fakes import FakeVllm, RankedRouter, make_config

_DEFAULT = object()


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def fake_vllm() -> FakeVllm:
    return FakeVllm({"alpha": "The answer is 42.", "beta": "The answer is 42.", "gamma": "So: The answer is 41."})


@pytest.fixture
def make_gateway(fake_vllm):
    """Build a gateway (real app, client and scheduler; mocked network) and open a TestClient."""
    opened: list[TestClient] = []

    def build(*, keys: tuple[str, ...] = (), router=_DEFAULT, artifacts=None, config=None, **gateway_settings) -> TestClient:
        config = config or make_config(**gateway_settings)
        client = ExpertClient(config, http_client=httpx.AsyncClient(transport=httpx.MockTransport(fake_vllm)))
        app = create_app(
            config,
            router=RankedRouter() if router is _DEFAULT else router,
            client=client,
            artifacts=artifacts,
            api_keys=ApiKeys(tuple(hash_key(k) for k in keys)),
        )
        test_client = TestClient(app, raise_server_exceptions=False)
        test_client.__enter__()
        opened.append(test_client)
        return test_client

    yield build
    for c in opened:
        c.__exit__(None, None, None)


@pytest.fixture
def gateway(make_gateway) -> TestClient:
    return make_gateway()
