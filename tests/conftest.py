"""Fixtures every test folder can use.

- ``anyio_backend``: run ``@pytest.mark.anyio`` tests on asyncio.
- ``sim_factory``: start real vLLM-simulator processes on free loopback ports::

      def test_something(sim_factory):
          sim = sim_factory("expert-a")                    # time_scale 0: instant answers
          slow = sim_factory("expert-b", time_scale=1.0, max_num_seqs=4)
          sleepy = sim_factory("expert-c", fresh=True)     # never shared (you may put it to sleep)
          httpx.get(f"{sim.url}/health"); openai.OpenAI(base_url=sim.api_base, api_key="x")

  Keyword arguments are :class:`services.expert_sim.launcher.SimSpec` fields (``replay``,
  ``expert``, ``params_b``, ``error_rate``, ``drop_rate``, ``stall_rate``, ``api_key``, ...).
  Calls with the same arguments share one process for the whole session (so do not change
  its state — sleep it, say — unless you pass ``fresh=True``). A ``fresh`` process started
  by a test or a function-scoped fixture is stopped when that test ends; one started by a
  wider-scoped fixture lives until the session ends. Each handle has ``url`` (the server
  root), ``api_base`` (``url + "/v1"``), ``port`` and ``served_model_name``. Every process
  is stopped at the end of the session, also when tests fail.
- ``sim``: one shared default simulator (served name ``sim-expert``, instant).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from services.expert_sim.launcher import SimProcess, SimSpec, stop_all

SimFactory = Callable[..., SimProcess]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def sim_factory() -> Iterator[SimFactory]:
    shared: dict[SimSpec, SimProcess] = {}
    started_fresh: list[SimProcess] = []

    def start(served_model_name: str = "sim-expert", *, fresh: bool = False, **options: Any) -> SimProcess:
        spec = SimSpec(served_model_name, **options)
        if not fresh and spec in shared:
            return shared[spec]
        sim = SimProcess(spec).start().wait_healthy()
        if fresh:
            started_fresh.append(sim)
        else:
            shared[spec] = sim
        return sim

    start.started_fresh = started_fresh  # type: ignore[attr-defined]
    try:
        yield start
    finally:
        stop_all([*shared.values(), *started_fresh])


@pytest.fixture(autouse=True)
def _stop_fresh_sims_after_each_test(sim_factory: SimFactory) -> Iterator[None]:
    # Wider-scoped fixtures are set up before this one, so only processes started by the
    # test itself or its function-scoped fixtures come after the mark.
    started: list[SimProcess] = sim_factory.started_fresh  # type: ignore[attr-defined]
    mark = len(started)
    yield
    ours = started[mark:]
    del started[mark:]
    stop_all(ours)


@pytest.fixture(scope="session")
def sim(sim_factory: SimFactory) -> SimProcess:
    return sim_factory("sim-expert")
