"""Expert orchestrator: a model-level router and orchestrator for expert LLMs served by vLLM."""

from orchestrator.offline import apply_offline_env

apply_offline_env()

__version__ = "0.1.0"
__all__ = ["__version__"]
