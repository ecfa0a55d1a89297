"""In-process doubles for the router and the experts, so pipeline tests run in milliseconds."""

from __future__ import annotations

import asyncio

from orchestrator.config import parse_config
from orchestrator.errors import ExpertUnavailable
from orchestrator.experts.types import Completion
from orchestrator.router.decision import RankedExpert, RoutingDecision

CONFIG_YAML = """
version: 1
experts:
  - {name: alpha, model: hosted_vllm/alpha, api_base: "http://127.0.0.1:9/v1", roles: [expert, aggregator], price: {input_per_mtok: 1, output_per_mtok: 2}}
  - {name: beta, model: hosted_vllm/beta, api_base: "http://127.0.0.1:10/v1", price: {input_per_mtok: 1, output_per_mtok: 2}}
  - {name: gamma, model: hosted_vllm/gamma, api_base: "http://127.0.0.1:11/v1"}
  - {name: delta, model: hosted_vllm/delta, api_base: "http://127.0.0.1:12/v1"}
router:
  category_experts: {math: [beta, gamma]}
aggregation:
  per_category: {writing: synthesis}
"""


def make_config():
    return parse_config(CONFIG_YAML)


class RankedRouter:
    """Ranks experts in a fixed order; 'poem' prompts are writing, the rest math."""

    def __init__(self, order=("alpha", "beta", "gamma", "delta"), k=3):
        self.order = list(order)
        self.k = k
        self.calls: list[tuple[list[str], dict]] = []

    def route(self, prompts, *, k=None, cost_weight=None, budget=None, allowed_experts=None, mode=None):
        self.calls.append((list(prompts), {"k": k, "cost_weight": cost_weight, "budget": budget, "allowed_experts": allowed_experts}))
        order = [e for e in self.order if allowed_experts is None or e in allowed_experts]
        n = min(k or self.k, len(order))
        out = []
        for p in prompts:
            category = "writing" if "poem" in p else "math"
            ranked = [RankedExpert(e, 1.0 - i / 10, 0.9 - i / 10, 1e-5) for i, e in enumerate(order)]
            out.append(RoutingDecision(category, {category: 0.9, "general": 0.1}, ["arithmetic"], ranked, n, order[:n], "alpha", None))
        return out


class FakeExperts:
    """``call(expert, messages, params)``: answers from a table; experts in ``down`` fail."""

    def __init__(self, answers: dict[str, str], down=(), delay_s: float = 0.0):
        self.answers = answers
        self.down = set(down)
        self.delay_s = delay_s
        self.calls: list[tuple[str, list[dict], dict]] = []

    async def __call__(self, expert, messages, params):
        self.calls.append((expert, messages, params))
        await asyncio.sleep(self.delay_s)
        if expert in self.down:
            raise ExpertUnavailable(expert, "connection refused")
        text = self.answers.get(expert, "No idea.")
        return Completion(expert, text, "stop", 10, 5, self.delay_s, None, 2e-5, 1)
