"""Escalation inside the gateway over real simulator processes: the cascade asks the cheap
expert first, reads its token log-probabilities (which follow whether its replayed answer is
right), and escalates only when it is unsure; trace, header and Prometheus counter say so."""

from __future__ import annotations

import contextlib
import json

import httpx
import numpy as np
import pytest
import yaml

from orchestrator.config import parse_config
from orchestrator.escalation.signals import FEATURES, LearnedConfidence, TierModels
from orchestrator.router.decision import RankedExpert, RoutingDecision
from services.gateway import create_app
from services.gateway.server import ThreadedServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

RIGHT_FOR_CHEAP = "What is the capital of France?"
WRONG_FOR_CHEAP = "What is 17 * 23?"
ROWS = [
    {"id": "q1", "prompt": RIGHT_FOR_CHEAP, "experts": {"cheap": {"score": 1.0, "answer": "Paris"}, "strong": {"score": 1.0, "answer": "Paris"}}},
    {"id": "q2", "prompt": WRONG_FOR_CHEAP, "experts": {"cheap": {"score": 0.0, "answer": "381"}, "strong": {"score": 1.0, "answer": "391"}}},
]


def _reads_logprob() -> LearnedConfidence:
    m = LearnedConfidence()
    m.mean_, m.std_ = np.zeros(len(FEATURES)), np.ones(len(FEATURES))
    m.coef_ = np.array([20.0 if f == "logprob_p" else 0.0 for f in FEATURES] + [-16.0])
    return m


class CheapFirstRouter:
    """cheap: P(correct) 0.7 at a tenth of strong's price; strong: 0.9."""

    categories_ = ["general"]
    # What `orchestrator train` would have tuned (the logprob signal, and a learned model that
    # reads the answer's log-probability: P(right) = sigmoid(20 * (exp(mean logprob) - 0.8))).
    escalation_ = {
        "logprob": {
            "match": {"threshold": 0.0, "probes": 1, "max_tiers": 2, "probe_cost_weight": 1.0, "merge": "vote"},
            "beat": {"threshold": 0.8, "probes": 1, "max_tiers": 2, "probe_cost_weight": 1.0, "merge": "vote"},
        },
        "learned": {"beat": {"threshold": 0.5, "probes": 1, "max_tiers": 2, "probe_cost_weight": 1.0, "merge": "vote",
                             "model": TierModels("logistic", (_reads_logprob(),) * 2, "tokens", logprobs=True)}},
    }

    def route(self, prompts, *, k=None, cost_weight=None, budget=None, allowed_experts=None, mode=None):
        ranked = [RankedExpert("cheap", 0.7, 0.7, 1e-6), RankedExpert("strong", 0.6, 0.9, 1e-5)]
        return [RoutingDecision("general", {"general": 1.0}, [], ranked, 1, ["cheap"], None, None) for _ in prompts]


@contextlib.contextmanager
def _gateway(sim_factory, tmp_path_factory, tag: str, **settings):
    """Two replaying simulator experts behind a real gateway, with experts.yaml ``settings``."""
    data = tmp_path_factory.mktemp(tag) / "replay.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    experts = []
    for name in ("cheap", "strong"):
        sim = sim_factory(f"org/{tag}-{name}", expert=name, replay=str(data))
        experts.append({"name": name, "model": f"hosted_vllm/org/{tag}-{name}", "api_base": sim.api_base, "max_retries": 0, "roles": ["expert", "aggregator"]})
    config = parse_config(yaml.safe_dump({"version": 1, "experts": experts, "scheduler": {"max_wait_ms": 1}, **settings}))
    with ThreadedServer(create_app(config, router=CheapFirstRouter())) as server:
        yield server


@pytest.fixture(scope="module")
def live(sim_factory, tmp_path_factory):
    with _gateway(sim_factory, tmp_path_factory, "esc") as server:
        yield server


def _ask(live, prompt: str) -> httpx.Response:
    body = {
        "model": "router/auto",
        "messages": [{"role": "user", "content": prompt}],
        "orchestrator": {"escalation": {"signal": "logprob", "threshold": 0.8, "max_tiers": 2, "probe_cost_weight": 1.0}, "trace": True},
    }
    return httpx.post(f"{live.url}/v1/chat/completions", json=body, timeout=30)


def _tiers(response: httpx.Response) -> list[dict]:
    return [e["decision"] for e in response.json()["trace"]["events"] if e["step"] == "escalation"]


def test_a_confident_cheap_answer_is_accepted_without_escalating(live) -> None:
    r = _ask(live, RIGHT_FOR_CHEAP)
    assert r.status_code == 200, r.text
    first = _tiers(r)[0]
    assert first["accepted"] and "note" not in first, "the confidence came from the expert's own logprobs"
    assert r.json()["choices"][0]["message"]["content"].endswith("The answer is Paris.")
    assert r.headers["x-orchestrator-escalation"].startswith("tiers=1; stopped=accepted; signal=logprob")


def test_an_unsure_cheap_answer_escalates_to_the_strong_expert(live) -> None:
    r = _ask(live, WRONG_FOR_CHEAP)
    assert r.status_code == 200, r.text
    tiers = _tiers(r)
    assert not tiers[0]["accepted"] and tiers[0]["confidence"] < 0.8
    assert r.json()["choices"][0]["message"]["content"].endswith("The answer is 391.")
    assert r.headers["x-orchestrator-escalation"].startswith("tiers=2")
    calls = [e for e in r.json()["trace"]["events"] if e["step"] == "expert"]
    # each tier's call carries the same expert event as any other call: its tier, queue wait, attempts
    assert [c["decision"]["tier"] for c in calls] == [1, 2]
    assert all("queue_ms" in c["decision"] and c["decision"]["attempts"] >= 1 for c in calls)
    metrics = httpx.get(f"{live.url}/metrics").text
    assert 'orchestrator_escalation_tiers_total{signal="logprob"} 1.0' in metrics


def _ask_dial(live, prompt: str, escalation: dict) -> httpx.Response:
    body = {"model": "router/auto", "messages": [{"role": "user", "content": prompt}], "orchestrator": {"escalation": escalation, "trace": True}}
    return httpx.post(f"{live.url}/v1/chat/completions", json=body, timeout=30)


def test_a_dial_deploys_the_tuned_setting_through_the_gateway(live) -> None:
    r = _ask_dial(live, WRONG_FOR_CHEAP, {"signal": "logprob", "dial": "beat"})
    assert r.status_code == 200, r.text
    assert r.headers["x-orchestrator-escalation"].startswith("tiers=2")  # beat's threshold 0.8 escalates the unsure answer
    summary = next(e["decision"] for e in r.json()["trace"]["events"] if e["step"] == "escalation_summary")
    assert summary["dial"] == "beat" and summary["threshold"] == 0.8 and summary["plan"]["max_tiers"] == 2


@pytest.mark.parametrize(("prompt", "tiers"), [(RIGHT_FOR_CHEAP, 1), (WRONG_FOR_CHEAP, 2)])
def test_a_learned_dial_reads_the_live_answers_features_through_the_gateway(live, prompt, tiers) -> None:
    r = _ask_dial(live, prompt, {"signal": "learned", "dial": "beat"})
    assert r.status_code == 200, r.text
    assert r.headers["x-orchestrator-escalation"].startswith(f"tiers={tiers}; stopped=accepted; signal=learned")
    first = _tiers(r)[0]
    assert (first["confidence"] > 0.5) is (tiers == 1), "the model's only weight is on the cheap answer's log-probability"


@pytest.mark.parametrize(("escalation", "message"), [
    ({"signal": "posterior", "dial": "beat"}, "no tuned 'beat' setting for signal 'posterior'"),
    ({"signal": "learned", "threshold": 0.5}, "signal 'learned' needs dial"),
    ({"signal": "logprob", "dial": "beat", "threshold": 0.5}, "drop threshold or drop dial"),
])
def test_a_dial_the_gateway_cannot_honour_is_a_400_that_says_why(live, escalation, message) -> None:
    r = _ask_dial(live, RIGHT_FOR_CHEAP, escalation)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert message in error["message"] and "escalation" in (error["param"] or error["message"])


# ---------------------------------------------------------------- a deployment-wide default


@pytest.fixture(scope="module")
def deployed(sim_factory, tmp_path_factory):
    """The same experts, with experts.yaml making the learned "beat" dial every routed request's cascade."""
    with _gateway(sim_factory, tmp_path_factory, "esc-default", escalation={"default": {"signal": "learned", "dial": "beat"}}) as server:
        yield server


def _chat(server, prompt: str, model: str = "router/auto", **orchestrator) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "orchestrator": {"trace": True, **orchestrator}}
    return httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=30)


def _summary(response: httpx.Response) -> dict | None:
    return next((e["decision"] for e in response.json()["trace"]["events"] if e["step"] == "escalation_summary"), None)


@pytest.mark.parametrize(("prompt", "tiers"), [(RIGHT_FOR_CHEAP, 1), (WRONG_FOR_CHEAP, 2)])
def test_experts_yaml_makes_a_tuned_cascade_the_default_for_routed_requests(deployed, prompt, tiers) -> None:
    r = _chat(deployed, prompt)
    assert r.status_code == 200, r.text
    assert r.headers["x-orchestrator-escalation"].startswith(f"tiers={tiers}; stopped=accepted; signal=learned")
    assert r.headers["x-orchestrator-escalation"].endswith("; origin=experts.yaml")
    summary = _summary(r)
    assert summary["origin"] == "experts.yaml" and summary["dial"] == "beat" and summary["threshold"] == 0.5


@pytest.mark.parametrize("choice", [{"escalation": None}, {"k": 1}], ids=["escalation-null", "k"])
def test_a_request_that_chooses_for_itself_opts_out_of_the_default_cascade(deployed, choice) -> None:
    r = _chat(deployed, WRONG_FOR_CHEAP, **choice)
    assert r.status_code == 200, r.text
    assert "x-orchestrator-escalation" not in r.headers and _summary(r) is None
    assert [e["expert"] for e in r.json()["trace"]["events"] if e["step"] == "expert"] == ["cheap"]


def test_a_requests_own_cascade_replaces_the_default(deployed) -> None:
    r = _chat(deployed, RIGHT_FOR_CHEAP, escalation={"signal": "logprob", "threshold": 0.99, "max_tiers": 2, "probe_cost_weight": 1.0})
    assert r.status_code == 200, r.text
    summary = _summary(r)
    assert (summary["origin"], summary["signal"], summary["threshold"]) == ("request", "logprob", 0.99)


def test_the_default_cascade_leaves_direct_expert_models_alone(deployed) -> None:
    r = _chat(deployed, WRONG_FOR_CHEAP, model="cheap")
    assert r.status_code == 200, r.text
    assert "x-orchestrator-escalation" not in r.headers
    assert r.json()["choices"][0]["message"]["content"].endswith("The answer is 381.")


def test_a_streamed_request_gets_the_default_cascades_answer(deployed) -> None:
    body = {"model": "router/auto", "stream": True, "messages": [{"role": "user", "content": WRONG_FOR_CHEAP}]}
    with httpx.stream("POST", f"{deployed.url}/v1/chat/completions", json=body, timeout=30) as r:
        assert r.status_code == 200  # headers leave before the cascade runs: only the text can tell
        chunks = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text.endswith("The answer is 391."), "the strong expert's answer, not the cheap one's"
