"""Doubles for unit tests: a ranked router and a vLLM stand-in behind ``httpx.MockTransport``.

The gateway, its ExpertClient and Scheduler are all real; only the network is replaced.
"""

from __future__ import annotations

import json

import httpx

from orchestrator.config import parse_config
from orchestrator.router.decision import RankedExpert, RoutingDecision

EXPERTS = ("alpha", "beta", "gamma", "delta")


def config_yaml(**gateway: object) -> str:
    experts = "\n".join(
        f"  - {{name: {n}, model: hosted_vllm/org/{n}, api_base: 'http://{n}.test/v1', roles: [expert, aggregator], "
        f"max_retries: 0, price: {{input_per_mtok: 1, output_per_mtok: 2}}}}"
        for n in EXPERTS
    )
    gw = "\n".join(f"  {k}: {json.dumps(v)}" for k, v in gateway.items()) or "  host: 127.0.0.1"
    return f"""
version: 1
experts:
{experts}
router:
  category_experts: {{math: [beta, gamma]}}
scheduler: {{max_wait_ms: 0}}
aggregation:
  per_category: {{writing: synthesis}}
gateway:
{gw}
"""


def make_config(**gateway: object):
    return parse_config(config_yaml(**gateway))


class RankedRouter:
    """Ranks experts in a fixed order; prompts containing 'poem' are writing, the rest math."""

    categories_ = ["math", "writing"]

    def __init__(self, k: int = 3):
        self.k = k

    def route(self, prompts, *, k=None, cost_weight=None, budget=None, allowed_experts=None, mode=None):
        order = [e for e in EXPERTS if allowed_experts is None or e in allowed_experts]
        n = min(k or self.k, len(order))
        out = []
        for p in prompts:
            category = "writing" if "poem" in p else "math"
            ranked = [RankedExpert(e, 1.0 - i / 10, 0.9, 1e-5) for i, e in enumerate(order)]
            ranked += [RankedExpert(e, float("-inf"), 0.1, 1e-5) for e in EXPERTS if e not in order]
            out.append(RoutingDecision(category, {category: 0.9}, ["arithmetic"], ranked, n, order[:n], "alpha", None))
        return out


class FakeVllm:
    """Answers ``/chat/completions`` per served model; experts in ``down`` refuse connections."""

    def __init__(self, answers: dict[str, str], down: set[str] | None = None):
        self.answers = answers
        self.down = down or set()
        self.requests: list[dict] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        expert = request.url.host.removesuffix(".test")
        if expert in self.down:
            raise httpx.ConnectError("connection refused", request=request)
        body = json.loads(request.content)
        self.requests.append(body)
        text = self.answers.get(expert, f"{expert} says hello")
        if body.get("stream"):
            words = [w + " " for w in text.split(" ")]
            chunks = [{"choices": [{"index": 0, "delta": {"content": w}}]} for w in words]
            sse = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
            return httpx.Response(200, text=sse, headers={"content-type": "text/event-stream"})
        return httpx.Response(
            200,
            json={
                "id": "chatcmpl-x", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14},
            },
        )  # fmt: skip
