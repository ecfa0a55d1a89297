"""Property-based fuzzing of the served OpenAPI schema: no input may produce a 5xx."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from orchestrator.experts.client import ExpertClient
from services.gateway import create_app
from services.gateway.server import ThreadedServer

from .fakes import FakeVllm, RankedRouter, make_config

_config = make_config()
_app = create_app(
    _config,
    router=RankedRouter(),
    client=ExpertClient(_config, http_client=httpx.AsyncClient(transport=httpx.MockTransport(FakeVllm({})))),
)
schema = schemathesis.openapi.from_dict(_app.openapi())


@pytest.fixture(scope="module")
def server():
    with ThreadedServer(_app) as running:
        yield running


@pytest.mark.integration
@pytest.mark.timeout(120)
@schema.exclude(path="/ready").parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_never_answers_5xx(case, server):
    case.call_and_validate(base_url=server.url, checks=[not_a_server_error])
