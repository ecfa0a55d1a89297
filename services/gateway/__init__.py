"""The OpenAI-compatible gateway: ``create_app(config)``; run it with ``orchestrator serve``."""

from services.gateway.app import create_app

__all__ = ["create_app"]
