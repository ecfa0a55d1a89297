"""experts.yaml is the truth at serve time: dials apply without retraining, reloads validate first.

The router is a real :class:`TwoLevelRouter` fitted on the synthetic two-topic data with the
hashing embedder (no MiniLM needed); the experts are the mocked vLLM of ``fakes.py``.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from router.conftest import EXPERTS, HashingEmbedder, make_dataset

from orchestrator.config import load_config
from orchestrator.experts.client import ExpertClient
from orchestrator.router import TwoLevelRouter
from orchestrator.router.dials import load_configured
from services.gateway import create_app

from .fakes import FakeVllm

ADMIN = {"authorization": "Bearer s3cret-admin"}
PROMPT = "integral derivative equation algebra war treaty"


def _yaml(router: str, extra: str = "") -> str:
    experts = "\n".join(
        f"  - {{name: {n}, model: hosted_vllm/org/{n}, api_base: 'http://{n}.test/v1', roles: [expert, aggregator], max_retries: 0}}"
        for n in EXPERTS
    )
    return f"version: 1\nexperts:\n{experts}\nrouter:\n{router}\ngateway:\n  admin_key_env: ADMIN_KEY\n{extra}"


@pytest.fixture(scope="module")
def fitted() -> TwoLevelRouter:
    router = TwoLevelRouter(embedder=HashingEmbedder(), cv=3, n_neighbors_grid=(5, 10), C_grid=(1.0,))
    return router.fit(make_dataset().split("train"))


@pytest.fixture
def served(tmp_path: Path, fitted: TwoLevelRouter):
    path = tmp_path / "experts.yaml"
    path.write_text(_yaml("  k_min: 1\n  k_max: 1\n  cost_weight: 0.0\n"))
    config = load_config(path)
    client = ExpertClient(config, http_transport=httpx.MockTransport(FakeVllm({})))
    app = create_app(config, router=fitted, client=client, environ={"ADMIN_KEY": "s3cret-admin"})
    with TestClient(app, raise_server_exceptions=False) as http:
        yield http, path


def _route(http: TestClient) -> dict:
    response = http.post("/v1/route", json={"prompt": PROMPT})
    assert response.status_code == 200, response.text
    return response.json()["decision"]


def test_reload_applies_edited_router_dials_without_retraining(served) -> None:
    http, path = served
    before = _route(http)
    assert before["k"] == 1
    assert all(e["score"] == pytest.approx(e["predicted_quality"]) for e in before["experts"])  # cost_weight 0

    path.write_text(_yaml("  k_min: 3\n  k_max: 3\n  cost_weight: 0.5\n"))
    response = http.post("/admin/reload", headers=ADMIN)
    assert response.status_code == 200, response.text
    assert "router" in response.json()["changed"]

    after = _route(http)
    assert after["k"] == 3 and len(after["chosen"]) == 3
    priced = {e["name"]: e for e in after["experts"]}
    assert priced["generalist"]["score"] < priced["generalist"]["predicted_quality"], "the cost dial now weighs in"


def test_reload_keeps_the_running_config_when_the_edit_is_broken(served) -> None:
    http, path = served
    path.write_text(_yaml("  k_min: 1\n  k_max: 0\n"))
    response = http.post("/admin/reload", headers=ADMIN)
    assert response.status_code == 400
    error = response.json()["error"]
    assert "not reloaded" in error["message"] and "router.k_max" in error["message"]
    assert f"{path}:" in error["message"], "the message points at the file and line"
    assert _route(http)["k"] == 1


def test_reload_warns_about_a_dial_the_artifact_cannot_honour(served) -> None:
    http, path = served
    path.write_text(_yaml("  fallback_category: astronomy\n"))
    response = http.post("/admin/reload", headers=ADMIN)
    assert response.status_code == 200
    assert any("fallback_category" in w and "retrain" in w for w in response.json()["warnings"])


def _chat(http: TestClient, model: str = "router/auto") -> httpx.Response:
    return http.post("/v1/chat/completions", json={"model": model, "messages": [{"role": "user", "content": PROMPT}]})


CASCADE_FROM_THE_ARTIFACT = "escalation:\n  default: {signal: router, dial: beat}\n"


def test_reload_refuses_a_default_cascade_whose_dial_the_artifact_lacks(served) -> None:
    http, path = served
    path.write_text(_yaml("  k_min: 1\n  k_max: 1\n  cost_weight: 0.0\n", CASCADE_FROM_THE_ARTIFACT))
    response = http.post("/admin/reload", headers=ADMIN)
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    line = path.read_text().splitlines().index("  default: {signal: router, dial: beat}") + 1
    assert f"{path}:{line}: escalation.default.dial" in message and "no tuned escalation settings" in message
    r = _chat(http)
    assert r.status_code == 200 and "x-orchestrator-escalation" not in r.headers, "the running config stays"


def test_reload_deploys_a_default_cascade_that_needs_no_tuned_setting(served) -> None:
    http, path = served
    assert "x-orchestrator-escalation" not in _chat(http).headers
    path.write_text(_yaml("  k_min: 1\n  k_max: 1\n  cost_weight: 0.0\n", "escalation:\n  default: {signal: router, threshold: 0.0}\n"))
    response = http.post("/admin/reload", headers=ADMIN)
    assert response.status_code == 200, response.text
    assert "escalation" in response.json()["changed"]
    r = _chat(http)
    assert r.status_code == 200, r.text
    assert r.headers["x-orchestrator-escalation"].startswith("tiers=1; stopped=accepted; signal=router")


def test_a_gateway_started_with_an_unservable_default_cascade_says_why_and_keeps_direct_models(tmp_path: Path, fitted: TwoLevelRouter) -> None:
    path = tmp_path / "experts.yaml"
    path.write_text(_yaml("  k_max: 1\n", CASCADE_FROM_THE_ARTIFACT))
    config = load_config(path)
    client = ExpertClient(config, http_transport=httpx.MockTransport(FakeVllm({})))
    with TestClient(create_app(config, router=fitted, client=client, environ={}), raise_server_exceptions=False) as http:
        ready = http.get("/ready")
        routed = _chat(http)
        direct = _chat(http, model=EXPERTS[0])
    assert ready.status_code == 503 and "escalation.default.dial" in ready.json()["router"]
    assert routed.status_code == 503 and f"{path}:" in routed.json()["error"]["message"]
    assert direct.status_code == 200, direct.text


@pytest.mark.parametrize(
    ("headers", "status"), [({}, 401), ({"authorization": "Bearer wrong"}, 401), ({"authorization": "Bearer s3cret-admin"}, 200)]
)
def test_admin_reload_needs_the_admin_key(served, headers: dict, status: int) -> None:
    http, _ = served
    assert http.post("/admin/reload", headers=headers).status_code == status


def test_admin_reload_is_off_without_an_admin_key(tmp_path: Path, fitted: TwoLevelRouter) -> None:
    path = tmp_path / "experts.yaml"
    path.write_text(_yaml("  k_max: 1\n"))
    app = create_app(load_config(path), router=fitted, environ={})
    with TestClient(app, raise_server_exceptions=False) as http:
        response = http.post("/admin/reload", headers=ADMIN)
    assert response.status_code == 403 and "admin API is off" in response.json()["error"]["message"]


def test_loading_an_artifact_applies_the_configured_dials(tmp_path: Path, fitted: TwoLevelRouter) -> None:
    fitted.save(tmp_path / "router")
    path = tmp_path / "experts.yaml"
    path.write_text(_yaml("  k_min: 2\n  k_max: 2\n  top_p: 0.9\n  selection: cover\n"))
    router, warnings = load_configured(tmp_path / "router", load_config(path).router, tier="minilm", embedder=fitted.embedder)
    assert warnings == []
    assert (router.k_min, router.k_max, router.top_p, router.selection) == (2, 2, 0.9, "cover")
    assert router.route([PROMPT])[0].k == 2


@pytest.mark.anyio
async def test_sighup_reloads_experts_yaml(tmp_path: Path, fitted: TwoLevelRouter) -> None:
    path = tmp_path / "experts.yaml"
    path.write_text(_yaml("  k_max: 1\n"))
    app = create_app(load_config(path), router=fitted, environ={})
    gateway = app.state.gateway
    async with app.router.lifespan_context(app):
        path.write_text(_yaml("  k_min: 2\n  k_max: 2\n"))
        os.kill(os.getpid(), signal.SIGHUP)
        for _ in range(200):
            if gateway.config.router.k_max == 2:
                break
            await asyncio.sleep(0.01)
        assert gateway.config.router.k_max == 2 and gateway.router.k_max == 2
        path.write_text("experts: [not, a, mapping")  # a broken edit is logged, never fatal
        os.kill(os.getpid(), signal.SIGHUP)
        await asyncio.sleep(0.2)
        assert gateway.config.router.k_max == 2
