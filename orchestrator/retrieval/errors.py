"""Retrieval's errors, under the orchestrator's error tree.

    OrchestratorError
    └── RetrievalError
        ├── DocumentError       one document cannot be ingested (reported per file, then skipped)
        ├── IndexNotFound       searched an index that was never built
        └── StoreUnavailable    the vector store cannot be reached (the pipeline answers without retrieval)
"""

from __future__ import annotations

from orchestrator.errors import OrchestratorError

__all__ = ["DocumentError", "IndexNotFound", "RetrievalError", "StoreUnavailable"]


class RetrievalError(OrchestratorError):
    """Ingest, search or the gate failed."""


class DocumentError(RetrievalError):
    """A document is unusable; ``path`` names it and the message says why."""

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class IndexNotFound(RetrievalError):
    def __init__(self, name: str, where: str):
        self.name = name
        super().__init__(f"no index named {name!r} at {where} (build it with `orchestrator ingest PATH --index {name}`)")


class StoreUnavailable(RetrievalError):
    """The store cannot serve (server down, file locked, corrupt)."""
