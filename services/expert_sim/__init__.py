"""A vLLM-compatible expert simulator: the same HTTP API, a latency model, replayed answers.

``create_app(SimSettings(...))`` builds the FastAPI app; ``python -m services.expert_sim``
runs one under uvicorn; :mod:`services.expert_sim.launcher` starts real simulator processes
for tests, benchmarks and ``orchestrator sim``.
"""

from services.expert_sim.app import create_app
from services.expert_sim.settings import SimSettings

__all__ = ["SimSettings", "create_app"]
