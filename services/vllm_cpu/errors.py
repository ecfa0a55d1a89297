"""Errors of real-model preparation; each names the expert it is about."""

from __future__ import annotations

from orchestrator.errors import OrchestratorError

__all__ = ["ModelPrepareError", "ModelStartError"]


class ModelPrepareError(OrchestratorError):
    """Weights could not be fetched, verified or converted, or the vLLM venv is missing."""

    def __init__(self, expert: str, message: str):
        self.expert = expert
        super().__init__(f"expert {expert!r}: {message}")


class ModelStartError(ModelPrepareError):
    """A vLLM server exited during start-up or never became healthy; carries its log tail."""
