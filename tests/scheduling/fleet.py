"""A fleet of fake vLLM servers behind one ``httpx.MockTransport``, one per port.

Each fake keeps vLLM's sleep state and records every breach of the rules the scheduler must
keep: a chat request reaching a sleeping server, a server put to sleep while it still had
requests running (vLLM aborts them), or more experts awake than the budget allows.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter

import httpx


def completion(text: str) -> dict:
    return {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


def sse(text: str) -> str:
    """``text`` as an OpenAI chunk stream: a delta a word, the finish reason, usage, [DONE]."""
    chunks = [{"choices": [{"index": 0, "delta": {"content": w + " "}, "finish_reason": None}]} for w in text.split()]
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append({"choices": [], "usage": completion(text)["usage"]})
    return "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"


class FakeFleet:
    def __init__(
        self,
        ports: list[int],
        *,
        service_s: float = 0.0,
        sleep_s: float = 0.0,
        wake_s: float = 0.0,
        asleep: tuple[int, ...] = (),
        max_awake: int | None = None,
        error_rate: float = 0.0,
        broken_wake: tuple[int, ...] = (),
        seed: int = 0,
    ):
        self.ports = ports
        self.service_s, self.sleep_s, self.wake_s = service_s, sleep_s, wake_s
        self.asleep = {p: p in asleep for p in ports}
        self.running = Counter[int]()
        self.max_awake = max_awake
        self.error_rate = error_rate
        self.broken_wake = set(broken_wake)
        self.rng = random.Random(seed)
        self.calls = Counter[int]()
        self.wakes: list[int] = []
        self.sleeps: list[int] = []
        self.violations: list[str] = []

    def transport(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self))

    def awake_count(self) -> int:
        return sum(not s for s in self.asleep.values())

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        port, path = request.url.port, request.url.path
        if path == "/is_sleeping":
            return httpx.Response(200, json={"is_sleeping": self.asleep[port]})
        if path == "/sleep":
            if self.running[port]:
                self.violations.append(f"port {port} put to sleep with {self.running[port]} requests running")
            self.asleep[port] = True
            self.sleeps.append(port)
            await asyncio.sleep(self.sleep_s)
            return httpx.Response(200, json={"status": "sleeping", "level": 1})
        if path == "/wake_up":
            if port in self.broken_wake:
                return httpx.Response(500, json={"error": {"message": "CUDA out of memory", "code": 500}})
            await asyncio.sleep(self.wake_s)
            self.asleep[port] = False
            self.wakes.append(port)
            if self.max_awake is not None and self.awake_count() > self.max_awake:
                self.violations.append(f"{self.awake_count()} experts awake, budget allows {self.max_awake}")
            return httpx.Response(200, json={"status": "awake"})
        if path.endswith("/chat/completions"):
            if self.asleep[port]:
                self.violations.append(f"chat request sent to sleeping port {port}")
            self.calls[port] += 1
            self.running[port] += 1
            try:
                await asyncio.sleep(self.service_s)
                if self.error_rate and self.rng.random() < self.error_rate:
                    return httpx.Response(500, json={"error": {"message": "injected", "code": 500}})
                if json.loads(request.content).get("stream"):
                    return httpx.Response(200, text=sse(f"answer from {port}"), headers={"content-type": "text/event-stream"})
                return httpx.Response(200, json=completion(f"answer from {port}"))
            finally:
                self.running[port] -= 1
        return httpx.Response(404, json={"detail": "Not Found"})
