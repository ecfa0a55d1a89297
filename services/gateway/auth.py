"""API keys: bearer tokens checked against SHA-256 hashes with a constant-time comparison.

Keys come from ``gateway.api_keys_env`` (comma-separated plain keys, hashed on load) and/or
``gateway.api_keys_file`` (one key per line; a line ``sha256:<hex>`` is an already-hashed key,
so the file need not hold secrets; ``#`` starts a comment). No keys configured means no auth,
which suits a gateway bound to 127.0.0.1 for local use.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

from orchestrator.config import Config
from orchestrator.errors import ConfigError, Problem

__all__ = ["ApiKeys", "hash_key", "load_api_keys"]


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class ApiKeys:
    hashes: tuple[str, ...] = ()

    @property
    def enabled(self) -> bool:
        return bool(self.hashes)

    def identify(self, presented: str) -> str | None:
        """The matching key's hash, or ``None``. Compares against every stored hash, in constant time each."""
        digest = hash_key(presented)
        found = None
        for stored in self.hashes:
            if hmac.compare_digest(digest, stored):
                found = stored
        return found


def load_api_keys(config: Config, environ: dict[str, str] | None = None) -> ApiKeys:
    env = os.environ if environ is None else environ
    settings = config.gateway
    hashes: list[str] = []
    if settings.api_keys_env:
        hashes += [hash_key(k.strip()) for k in env.get(settings.api_keys_env, "").split(",") if k.strip()]
    if settings.api_keys_file:
        path = config.resolve_path(settings.api_keys_file)
        assert path is not None
        hashes += _read_key_file(path)
    return ApiKeys(tuple(dict.fromkeys(hashes)))


def _read_key_file(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(Problem("gateway.api_keys_file", f"cannot read {path}: {exc}")) from exc
    out = []
    for n, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("sha256:"):
            digest = line[len("sha256:") :].lower()
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ConfigError(Problem("gateway.api_keys_file", "malformed sha256 hash", source=str(path), line=n))
            out.append(digest)
        else:
            out.append(hash_key(line))
    return out
