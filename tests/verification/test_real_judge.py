"""One verification end to end with a REAL model as judge (``make test-vllm`` serves SmolLM2;
any vLLM server named by VLLM_BASE_URL / VLLM_MODEL works). The three experts are simulators
replaying a recorded three-way split, so the trigger fires; the judge's reply is whatever the
real model says, and the gateway must turn it into a verdict or, after one re-ask, an answer
flagged unverified. Skips when no real vLLM server is given."""

from __future__ import annotations

import json
import os

import httpx
import pytest
import yaml

from orchestrator.config import parse_config
from orchestrator.router.decision import RankedExpert, RoutingDecision
from services.gateway import create_app
from services.gateway.server import ThreadedServer

pytestmark = [pytest.mark.vllm, pytest.mark.integration]

QUESTION = "What is 6 * 7?\n(A) 42\n(B) 41\n(C) 40"
EXPERTS = ("alpha", "beta", "gamma")


class Ranked:
    """alpha, beta, gamma in that order; the router's P(correct) of alpha is 0.4 (under the gate)."""

    categories_ = ("math",)

    def route(self, prompts, *, k=None, cost_weight=None, budget=None, allowed_experts=None, mode=None):
        ranked = [RankedExpert(e, 1.0 - i / 10, 0.4, 1e-6) for i, e in enumerate(EXPERTS)]
        return [RoutingDecision("math", {"math": 1.0}, [], ranked, 3, list(EXPERTS), None, None) for _ in prompts]


@pytest.fixture(scope="module")
def gateway(sim_factory, tmp_path_factory):
    base, model = os.environ.get("VLLM_BASE_URL"), os.environ.get("VLLM_MODEL")
    if not base or not model:
        pytest.skip("no real vLLM server: set VLLM_BASE_URL and VLLM_MODEL (make test-vllm does)")
    row = {"id": "q1", "prompt": QUESTION, "task": "arithmetic", "category": "math", "split": "test",
           "experts": {"alpha": {"score": 1.0, "answer": "A"}, "beta": {"score": 0.0, "answer": "B"}, "gamma": {"score": 0.0, "answer": "C"}}}  # fmt: skip
    data = tmp_path_factory.mktemp("real-judge") / "replay.jsonl"
    data.write_text(json.dumps(row) + "\n")
    experts = []
    for name in EXPERTS:
        sim = sim_factory(f"org/rj-{name}", expert=name, replay=str(data))
        experts.append({"name": name, "model": f"hosted_vllm/org/rj-{name}", "api_base": sim.api_base, "max_retries": 0, "roles": ["expert", "aggregator"]})
    experts.append({"name": "judge", "model": f"hosted_vllm/{model}", "api_base": f"{base.rstrip('/')}/v1", "roles": ["judge"], "timeout_s": 120})
    verification = {"enabled": True, "max_rounds": 1, "require_low_confidence": True, "trigger_confidence": 0.5, "judge_timeout_s": 120}
    config = yaml.safe_dump({"version": 1, "experts": experts, "scheduler": {"max_wait_ms": 1},
                             "aggregation": {"default_mode": "vote"}, "verification": verification})  # fmt: skip
    with ThreadedServer(create_app(parse_config(config), router=Ranked())) as server:
        yield server


def test_a_real_judge_settles_a_three_way_split_or_the_answer_is_flagged_unverified(gateway):
    body = {"model": "router/auto", "messages": [{"role": "user", "content": QUESTION}], "orchestrator": {"trace": True}}
    r = httpx.post(f"{gateway.url}/v1/chat/completions", json=body, timeout=600)
    assert r.status_code == 200, r.text
    events = r.json()["trace"]["events"]
    verify = next(e for e in events if e["step"] == "verify")
    d = verify["decision"]
    # The gate saw the router's 0.4 for alpha, the holder of the vote's answer (a three-way split: alpha's, A).
    assert d["trigger"] == {"fire": True, "reasons": ["disagreement", "low_confidence"], "distinct_answers": 3, "confidence": 0.4}
    assert d["aggregated_answer"] == "A"
    # alpha and beta argued one round; every call (2 speeches, the judge's asks) is in the usage.
    assert [t["expert"] for t in d["transcript"]] == ["alpha", "beta"]
    assert d["usage"]["calls"] >= 3 and verify["expert"] == "judge"
    content = r.json()["choices"][0]["message"]["content"]
    header = r.headers["x-orchestrator-verified"]
    assert header == d["status"]
    if header == "verified":
        (verdict,) = d["verdicts"]
        assert set(verdict["p"]) == {"A", "B"} and len(verdict["by_order"]) == 2
        assert all(0.0 <= p <= 1.0 for p in verdict["by_order"])
        assert d["answer"] in ("A", "B")
        assert float(r.headers["x-orchestrator-verification-p"]) == pytest.approx(d["probability"], abs=1e-3)
        assert content.rstrip().endswith(f"The answer is {d['answer']}.")
    else:
        # The real model gave no usable P(A)=... twice (or timed out twice): the vote's answer goes out, flagged.
        assert header == "unverified" and d["answer"] is None and "x-orchestrator-verification-p" not in r.headers
        assert set(d["flags"]) & {"judge_malformed", "judge_timeout", "judge_error"}, d
        if "judge_malformed" in d["flags"]:
            assert d["usage"]["calls"] >= 2 + 2  # the two speeches, the malformed reply and its re-ask
        assert content.rstrip().endswith("The answer is A.")
