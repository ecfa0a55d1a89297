"""The orchestrator's error tree.

Every failure the library expects is one of these; third-party errors are translated at one
boundary (``raise ... from exc``) and only the gateway maps them to HTTP statuses::

    OrchestratorError
    ├── ConfigError            experts.yaml is malformed (carries one Problem per error)
    ├── DatasetError           a routing dataset is malformed (carries one Problem per error)
    ├── ArtifactError          a router artifact folder is missing, stale or foreign
    ├── RoutingError           the router cannot produce a decision
    ├── ExpertError(expert)    a call to an expert failed
    │   ├── ExpertTimeout
    │   ├── ExpertUnavailable  connection refused, breaker open, expert asleep
    │   └── ExpertResponseError(status_code)
    └── InvalidRequest         a client request is wrong
        └── ModelNotFound
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestrator.experts.types import TraceEvent

__all__ = [
    "ArtifactError",
    "ConfigError",
    "DatasetError",
    "ExpertError",
    "ExpertResponseError",
    "ExpertTimeout",
    "ExpertUnavailable",
    "InvalidRequest",
    "ModelNotFound",
    "OrchestratorError",
    "Problem",
    "RoutingError",
]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located by a dotted path and, where known, a line."""

    path: str
    message: str
    source: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.source or ""
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
        prefix = f"{where}: " if where else ""
        return f"{prefix}{self.path}: {self.message}" if self.path else f"{prefix}{self.message}"


class OrchestratorError(Exception):
    """Root of every error the orchestrator raises on purpose."""


class _ProblemsError(OrchestratorError):
    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = [Problem(path="", message=problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ConfigError(_ProblemsError):
    """The composition file (experts.yaml) is invalid."""


class DatasetError(_ProblemsError):
    """A routing dataset is invalid."""


class ArtifactError(OrchestratorError):
    """A router artifact folder cannot be used."""


class RoutingError(OrchestratorError):
    """The router cannot produce a decision for a query."""


class ExpertError(OrchestratorError):
    """A call to an expert failed; ``expert`` names it, ``retryable`` says whether to retry.

    The expert client fills ``events`` (retries, breaker changes, fallbacks, swaps and queue
    waits on the way to the failure) and ``attempts`` (HTTP attempts made) before raising.
    """

    retryable: bool = False

    def __init__(self, expert: str, message: str):
        self.expert = expert
        self.events: list[TraceEvent] = []
        self.attempts: int = 0
        super().__init__(f"expert {expert!r}: {message}")


class ExpertTimeout(ExpertError):
    retryable = True


class ExpertUnavailable(ExpertError):
    retryable = True


class ExpertResponseError(ExpertError):
    """The expert answered with an error; ``param`` is the field its error envelope named."""

    def __init__(self, expert: str, message: str, status_code: int, param: str | None = None):
        self.status_code = status_code
        self.param = param
        self.retryable = status_code in (408, 429) or status_code >= 500
        super().__init__(expert, f"HTTP {status_code}: {message}")


class InvalidRequest(OrchestratorError):
    """A client request is malformed; ``param`` names the offending field."""

    def __init__(self, message: str, param: str | None = None):
        self.param = param
        super().__init__(message)


class ModelNotFound(InvalidRequest):
    def __init__(self, model: str):
        super().__init__(f"The model `{model}` does not exist.", param="model")
        self.model = model
