"""Every 4xx/5xx carries OpenAI's error envelope with the documented status."""

import pytest

CHAT = {"model": "router/auto", "messages": [{"role": "user", "content": "What is 6 * 7?"}]}


def assert_error(r, status, type_):
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == status
    assert error["type"] == type_
    assert error["message"]
    assert r.headers["x-request-id"]
    return error


def test_malformed_json_is_400(gateway):
    r = gateway.post("/v1/chat/completions", content=b'{"model": "router/auto", "messages": [', headers={"content-type": "application/json"})
    error = assert_error(r, 400, "BadRequestError")
    assert "not valid JSON" in error["message"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        pytest.param({"model": "router/auto", "messages": "hi"}, "messages", id="messages-not-a-list"),
        pytest.param({"model": "router/auto", "messages": []}, "messages", id="no-messages"),
        pytest.param({**CHAT, "temperature": "hot"}, "temperature", id="temperature-not-a-number"),
        pytest.param({**CHAT, "orchestrator": {"k": 0}}, "orchestrator.k", id="k-below-one"),
        pytest.param({**CHAT, "orchestrator": {"kk": 2}}, "orchestrator.kk", id="unknown-option"),
    ],
)
def test_wrong_types_are_400_naming_the_field(gateway, body, param):
    error = assert_error(gateway.post("/v1/chat/completions", json=body), 400, "BadRequestError")
    assert error["param"] == param


def test_unknown_model_is_404(gateway):
    error = assert_error(gateway.post("/v1/chat/completions", json={**CHAT, "model": "gpt-17"}), 404, "NotFoundError")
    assert error["param"] == "model"
    assert_error(gateway.post("/v1/chat/completions", json={**CHAT, "model": "router/astrology"}), 404, "NotFoundError")


def test_unknown_expert_in_options_is_400(gateway):
    error = assert_error(gateway.post("/v1/chat/completions", json={**CHAT, "orchestrator": {"experts": ["nobody"]}}), 400, "BadRequestError")
    assert error["param"] == "orchestrator.experts"


def test_no_user_message_is_400(gateway):
    body = {"model": "router/auto", "messages": [{"role": "system", "content": "be nice"}]}
    assert_error(gateway.post("/v1/chat/completions", json=body), 400, "BadRequestError")


def test_oversized_body_is_413(make_gateway):
    client = make_gateway(max_body_bytes=2000)
    body = {**CHAT, "messages": [{"role": "user", "content": "x" * 5000}]}
    assert_error(client.post("/v1/chat/completions", json=body), 413, "RequestTooLargeError")


def test_oversized_chunked_body_is_413(make_gateway):
    client = make_gateway(max_body_bytes=2000)

    def chunks():
        yield b'{"model": "router/auto", "messages": [{"role": "user", "content": "'
        for _ in range(10):
            yield b"x" * 500
        yield b'"}]}'

    r = client.post("/v1/chat/completions", content=chunks(), headers={"content-type": "application/json"})
    assert_error(r, 413, "RequestTooLargeError")


def test_prompt_over_token_limit_is_400(make_gateway):
    client = make_gateway(max_prompt_tokens=100)
    body = {**CHAT, "messages": [{"role": "user", "content": "word " * 200}]}
    error = assert_error(client.post("/v1/chat/completions", json=body), 400, "BadRequestError")
    assert error["param"] == "messages"


def test_missing_api_key_is_401(make_gateway):
    client = make_gateway(keys=("sk-right",))
    r = client.post("/v1/chat/completions", json=CHAT)
    assert_error(r, 401, "AuthenticationError")
    assert r.headers["www-authenticate"] == "Bearer"


def test_bad_api_key_is_401_and_good_key_passes(make_gateway):
    client = make_gateway(keys=("sk-right", "sk-other"))
    assert_error(client.post("/v1/chat/completions", json=CHAT, headers={"authorization": "Bearer sk-wrong"}), 401, "AuthenticationError")
    assert client.post("/v1/chat/completions", json=CHAT, headers={"authorization": "Bearer sk-other"}).status_code == 200
    assert client.get("/v1/models", headers={"authorization": "Bearer sk-right"}).status_code == 200
    assert client.get("/health").status_code == 200  # liveness needs no key


def test_rate_limit_is_429_with_retry_after_per_key(make_gateway):
    client = make_gateway(keys=("sk-a", "sk-b"), rate_limit_rpm=2)
    a = {"authorization": "Bearer sk-a"}
    assert client.get("/v1/models", headers=a).status_code == 200
    assert client.get("/v1/models", headers=a).status_code == 200
    r = client.get("/v1/models", headers=a)
    assert_error(r, 429, "RateLimitError")
    assert int(r.headers["retry-after"]) >= 1
    assert client.get("/v1/models", headers={"authorization": "Bearer sk-b"}).status_code == 200


def test_unknown_path_and_method_use_error_envelope(gateway):
    assert_error(gateway.get("/v1/nothing"), 404, "NotFoundError")
    assert_error(gateway.get("/v1/chat/completions"), 405, "MethodNotAllowed")


def test_router_models_without_router_artifacts_are_503_but_experts_work(make_gateway, tmp_path):
    client = make_gateway(router=None, artifacts=tmp_path / "missing")
    error = assert_error(client.post("/v1/chat/completions", json=CHAT), 503, "ServiceUnavailableError")
    assert "no router artifacts" in error["message"]
    assert client.post("/v1/chat/completions", json={**CHAT, "model": "alpha"}).status_code == 200


def test_experts_option_excluding_every_expert_of_a_pinned_category_is_400(gateway):
    # router/math may only use beta and gamma (router.category_experts): allowing only alpha
    # leaves nobody, which is the client's mistake, never a silent widening.
    body = {"model": "router/math", "messages": [{"role": "user", "content": "2+2?"}], "orchestrator": {"experts": ["alpha"]}}
    r = gateway.post("/v1/chat/completions", json=body)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["param"] == "orchestrator.experts"
    assert "alpha" in error["message"] and "beta, gamma" in error["message"]
    r = gateway.post("/v1/route", json={"model": "router/math", "prompt": "2+2?", "orchestrator": {"experts": ["alpha"]}})
    assert r.status_code == 400 and r.json()["error"]["param"] == "orchestrator.experts"


def test_experts_option_narrowing_a_pinned_category_is_honoured(gateway):
    body = {"model": "router/math", "messages": [{"role": "user", "content": "2+2?"}], "orchestrator": {"experts": ["alpha", "gamma"]}}
    r = gateway.post("/v1/chat/completions", json=body)
    assert r.status_code == 200 and r.headers["x-orchestrator-experts"] == "gamma"
