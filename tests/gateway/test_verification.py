"""Verification inside the gateway: it runs for a request whose experts disagree, and is
skipped for one where they agree; the trace, the metrics and the header say which."""

import json

import pytest

from orchestrator.config import parse_config

from .fakes import config_yaml

QUESTION = {"role": "user", "content": "What is 6 * 7?"}


def verifying_config(**verification: object):
    """delta judges; the trigger is ungated (every disagreement) unless ``verification`` says otherwise."""
    text = config_yaml().replace(
        "name: delta, model: hosted_vllm/org/delta, api_base: 'http://delta.test/v1', roles: [expert, aggregator]",
        "name: delta, model: hosted_vllm/org/delta, api_base: 'http://delta.test/v1', roles: [expert, judge]",
    )
    settings = {"enabled": True, "judge": "delta", "require_low_confidence": False, **verification}
    return parse_config(text + f"verification: {json.dumps(settings)}\n")


@pytest.fixture
def gateway_for(make_gateway, fake_vllm):
    """A gateway whose experts answer from ``answers`` (delta is the judge)."""

    def build(answers: dict[str, str]):
        fake_vllm.answers = answers
        return make_gateway(config=verifying_config())

    return build


def metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{wanted}}}") or (not labels and line.startswith(name + " ")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_disagreeing_experts_trigger_a_debate_visible_in_trace_metrics_and_header(gateway_for):
    gateway = gateway_for({
        "alpha": "The answer is 42.", "beta": "The answer is 41.", "gamma": "The answer is 40.",
        "delta": "P(A)=0.95",  # the judge
    })  # fmt: skip
    r = gateway.post("/v1/chat/completions", json={"model": "router/auto", "messages": [QUESTION], "orchestrator": {"trace": True}})
    assert r.status_code == 200, r.text
    assert r.headers["x-orchestrator-verified"] == "verified"
    verify = next(e for e in r.json()["trace"]["events"] if e["step"] == "verify")
    decision = verify["decision"]
    # confidence: the router's P(correct) of alpha, the best-ranked expert holding the pipeline's answer
    assert decision["trigger"] == {"fire": True, "reasons": ["disagreement"], "distinct_answers": 3, "confidence": 0.9}
    # the two best-ranked rival answers argue; this judge favours whichever it reads first, so the
    # two orders average to 0.5 and the debate runs to the round cap
    assert [t["expert"] for t in decision["transcript"]] == ["alpha", "beta"] * 3
    assert (decision["stop_reason"], decision["probability"]) == ("round_cap", 0.5)
    assert decision["rounds"] >= 1 and decision["status"] == "verified" and verify["cost_usd"] > 0
    # the debate's calls are part of the request's usage and cost
    assert r.json()["usage"]["prompt_tokens"] == 10 * (3 + decision["usage"]["calls"])
    metrics = gateway.get("/metrics").text
    assert metric(metrics, "orchestrator_verification_triggers_total", reason="disagreement") == 1
    assert metric(metrics, "orchestrator_verification_runs_total", mode="debate", status="verified") == 1
    assert metric(metrics, "orchestrator_verification_rounds_total", mode="debate") == decision["rounds"]


def test_agreeing_experts_skip_verification(gateway_for):
    gateway = gateway_for({"alpha": "The answer is 42.", "beta": "The answer is 42.", "gamma": "The answer is 42.", "delta": "P(A)=0.9"})
    r = gateway.post("/v1/chat/completions", json={"model": "router/auto", "messages": [QUESTION], "orchestrator": {"trace": True}})
    assert r.status_code == 200, r.text
    assert r.headers["x-orchestrator-verified"] == "skipped"
    verify = next(e for e in r.json()["trace"]["events"] if e["step"] == "verify")
    assert (verify["decision"]["status"], verify["decision"]["reason"]) == ("skipped", "not triggered")
    metrics = gateway.get("/metrics").text
    assert metric(metrics, "orchestrator_verification_runs_total", mode="debate", status="skipped") == 1
    assert metric(metrics, "orchestrator_verification_runs_total", mode="debate", status="verified") == 0


def test_request_can_force_or_forbid_verification_and_pick_the_mode(gateway_for):
    answers = {"alpha": "The answer is 42.", "beta": "The answer is 42.", "gamma": "The answer is 41.", "delta": "P(A)=0.9"}
    gateway = gateway_for(answers)
    always = {"when": "always", "mode": "consultancy"}
    r = gateway.post("/v1/chat/completions", json={"model": "router/auto", "messages": [QUESTION], "orchestrator": {"verify": always, "trace": True}})
    verify = next(e for e in r.json()["trace"]["events"] if e["step"] == "verify")["decision"]
    assert (verify["status"], verify["mode"]) == ("verified", "consultancy")
    r = gateway.post("/v1/chat/completions", json={"model": "router/auto", "messages": [QUESTION], "orchestrator": {"verify": "off"}})
    assert r.headers["x-orchestrator-verified"] == "skipped"
    r = gateway.post("/v1/chat/completions", json={"model": "router/auto", "messages": [QUESTION], "orchestrator": {"verify": "sometimes"}})
    assert r.status_code == 400 and "orchestrator.verify" in r.json()["error"]["param"]


@pytest.mark.parametrize(("gate", "status"), [(0.95, "verified"), (0.5, "skipped")])
def test_the_confidence_gate_reads_the_routers_probability(make_gateway, fake_vllm, gate, status):
    """With require_low_confidence a disagreement is debated only when the router's P(correct)
    of the pipeline answer's expert (0.9 here) is below trigger_confidence."""
    fake_vllm.answers = {"alpha": "The answer is 42.", "beta": "The answer is 41.", "gamma": "The answer is 40.", "delta": "P(A)=0.95"}
    config = verifying_config(require_low_confidence=True, trigger_confidence=gate)
    assert config.verification.require_low_confidence and config.verification.trigger_confidence == gate
    gateway = make_gateway(config=config)
    r = gateway.post("/v1/chat/completions", json={"model": "router/auto", "messages": [QUESTION], "orchestrator": {"trace": True}})
    assert r.status_code == 200, r.text
    assert r.headers["x-orchestrator-verified"] == status
    trigger = next(e for e in r.json()["trace"]["events"] if e["step"] == "verify")["decision"]["trigger"]
    assert trigger["confidence"] == 0.9
    if status == "skipped":
        assert trigger == {"fire": False, "reasons": [], "distinct_answers": 3, "confidence": 0.9, "held": f"confidence 0.900 >= trigger_confidence {gate:g}"}
