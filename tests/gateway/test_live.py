"""The gateway on real loopback HTTP in front of real simulator processes, driven by the
official ``openai`` client, raw httpx (what curl sends) and LangChain's ``ChatOpenAI``."""

from __future__ import annotations

import socket

import httpx
import openai
import pytest
import yaml

from orchestrator.config import parse_config
from services.gateway import create_app
from services.gateway.launcher import GatewayProcess
from services.gateway.server import ThreadedServer

from .fakes import RankedRouter

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

ASK = [{"role": "user", "content": "What is 6 * 7?"}]


def _dead_base() -> str:
    """An address nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


def live_config_dict(sim_factory, *, all_down: bool = False) -> dict:
    experts = []
    for name in ("alpha", "beta", "gamma", "delta"):
        # delta drops every connection after two streamed tokens: a pod dying mid-answer.
        base = _dead_base() if all_down else sim_factory(f"org/{name}", **({"drop_rate": 1.0} if name == "delta" else {})).api_base
        experts.append({"name": name, "model": f"hosted_vllm/org/{name}", "api_base": base, "roles": ["expert", "aggregator"], "max_retries": 0, "timeout_s": 10})
    return {"version": 1, "experts": experts, "scheduler": {"max_wait_ms": 1}, "gateway": {"rate_limit_rpm": 100000}}


@pytest.fixture(scope="module")
def live(sim_factory):
    config = parse_config(yaml.safe_dump(live_config_dict(sim_factory)))
    with ThreadedServer(create_app(config, router=RankedRouter())) as server:
        yield server


@pytest.fixture
def oai(live) -> openai.OpenAI:
    with openai.OpenAI(base_url=f"{live.url}/v1", api_key="unused", max_retries=0, timeout=20) as client:
        yield client


def test_openai_client_gets_routed_answer_with_summed_usage(oai):
    raw = oai.chat.completions.with_raw_response.create(model="router/auto", messages=ASK, max_tokens=16)
    completion = raw.parse()
    assert completion.choices[0].message.content
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    assert raw.headers["x-orchestrator-experts"] == "alpha,beta,gamma"
    assert float(raw.headers["x-orchestrator-cost-usd"]) >= 0


def test_openai_client_streams_routed_answer(oai):
    chunks = list(oai.chat.completions.create(model="router/auto", messages=ASK, max_tokens=16, stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] in ("stop", "length")


def test_openai_client_streams_direct_expert(oai):
    chunks = list(oai.chat.completions.create(model="alpha", messages=ASK, max_tokens=16, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_openai_client_lists_models(oai):
    assert {"router/auto", "alpha", "delta"} <= {m.id for m in oai.models.list()}


def test_raw_http_request_like_curl_returns_trace(live):
    r = httpx.post(
        f"{live.url}/v1/chat/completions",
        content=b'{"model": "router/auto", "messages": [{"role": "user", "content": "What is 6 * 7?"}], "max_tokens": 8}',
        headers={"content-type": "application/json", "x-orchestrator-trace": "1"},
        timeout=20,
    )
    assert r.status_code == 200, r.text
    steps = [e["step"] for e in r.json()["trace"]["events"]]
    assert steps.count("expert") == 3 and steps[-1] == "respond"


def test_langchain_chat_openai_invokes_and_streams(live):
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(model="router/auto", base_url=f"{live.url}/v1", api_key="unused", max_tokens=16, max_retries=0, timeout=20)
    assert llm.invoke("What is 6 * 7?").content
    assert "".join(str(chunk.content) for chunk in llm.stream("What is 6 * 7?"))


def test_expert_dropping_mid_stream_ends_stream_with_error(oai):
    stream = oai.chat.completions.create(model="delta", messages=ASK, max_tokens=64, stream=True)
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass


def test_every_expert_down_gives_503(sim_factory):
    config = parse_config(yaml.safe_dump(live_config_dict(sim_factory, all_down=True)))
    with ThreadedServer(create_app(config, router=RankedRouter())) as server:
        with openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=20) as client:
            with pytest.raises(openai.APIStatusError) as caught:
                client.chat.completions.create(model="router/auto", messages=ASK)
    assert caught.value.status_code == 503
    assert caught.value.body["type"] == "ServiceUnavailableError"


@pytest.mark.timeout(120)
def test_orchestrator_serve_cli_starts_and_serves_direct_experts(sim_factory, tmp_path):
    path = tmp_path / "experts.yaml"
    data = live_config_dict(sim_factory)
    data["router"] = {"artifacts": str(tmp_path / "no-router")}
    path.write_text(yaml.safe_dump(data))
    with GatewayProcess(path, ready_path="/health") as gw:
        ready = httpx.get(f"{gw.url}/ready", timeout=10)
        assert ready.status_code == 503 and "no router artifacts" in ready.json()["router"]
        with openai.OpenAI(base_url=gw.api_base, api_key="unused", max_retries=0) as client:
            assert client.chat.completions.create(model="beta", messages=ASK, max_tokens=8).choices[0].message.content
            with pytest.raises(openai.APIStatusError) as caught:
                client.chat.completions.create(model="router/auto", messages=ASK)
            assert caught.value.status_code == 503
