"""The router's artifact folder: joblib files plus ``manifest.json``.

The manifest records the format version, the embedding model's name and fingerprint (sha256 of
its weights) and a sha256 per file, so loading refuses — with a clear :class:`ArtifactError`,
never a traceback — a folder that is missing, truncated, edited, or built on other embeddings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

from orchestrator.errors import ArtifactError

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_TIER", "FORMAT_VERSION", "MANIFEST", "TIERS", "load_router", "read_manifest", "resolve_tier", "save_router", "tuned_escalation"]

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ROUTER_FILE = "router.joblib"
STATIC_FILE = "static_tier.joblib"
STATIC_ROUTER_FILE = "static_router.joblib"  # the router fitted on the static tier's vectors (optional)
TIERS = ("static", "minilm")
# The shipped default: with its own router (fitted on its vectors) the static tier routes within
# 0.004 of MiniLM's accuracy on every shared file (bench_routing_quality --tiers-only) and keeps
# 0.46-0.58x of pass-through's requests/s at 16 clients where MiniLM keeps 0.28-0.29x
# (bench_gateway_overhead). Numbers in docs/benchmarks.md.
DEFAULT_TIER = "static"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _base_embedder(embedder: Any) -> Any:
    """The MiniLM embedder behind a (possibly static-tier) embedder."""
    return getattr(embedder, "base", embedder)


def _blob(router: Any) -> dict[str, Any]:
    """A fitted router's constructor params (less the embedder) and fitted state. The static
    tier's table (~24 MB) has a file of its own (STATIC_FILE), so the state leaves it out."""
    params = {k: v for k, v in router.get_params().items() if k != "embedder"}
    state = {k: v for k, v in vars(router).items() if k.endswith("_") and not k.startswith("_") and k != "static_tier_"}
    return {"params": params, "state": state}


def save_router(router: Any, path: Path, *, static_router: Any = None) -> None:
    import joblib

    from orchestrator.router.text import VIEW_VERSION

    router._check_fitted()
    static = getattr(router, "static_tier_", None)
    if static_router is not None and static is None:
        raise ValueError("a static-tier router was given but the router has no static tier (static_tier_) to serve it with")
    path.mkdir(parents=True, exist_ok=True)
    embedder = router._get_embedder()
    base = _base_embedder(embedder)
    joblib.dump(_blob(router), path / ROUTER_FILE, compress=3)
    files = [ROUTER_FILE]
    if static is not None:
        joblib.dump(static, path / STATIC_FILE)
        files.append(STATIC_FILE)
        if static_router is not None:
            joblib.dump(_blob(static_router), path / STATIC_ROUTER_FILE, compress=3)
            files.append(STATIC_ROUTER_FILE)
    manifest = {
        "format_version": FORMAT_VERSION,
        "kind": "TwoLevelRouter",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "embedding_model": base.name,
        "embedder_fingerprint": base.fingerprint,
        "prompt_view_version": VIEW_VERSION,
        "experts": list(router.experts_),
        "categories": list(router.categories_),
        "cost_unit": router.cost_unit_,
        "files": {f: _sha256(path / f) for f in files},
    }
    (path / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def read_manifest(path: Path) -> dict[str, Any]:
    mf = path / MANIFEST
    if not path.is_dir():
        raise ArtifactError(f"router artifacts not found: {path} is not a folder (train one with `orchestrator train`)")
    if not mf.is_file():
        raise ArtifactError(f"{mf} is missing: {path} is not a router artifact folder (train one with `orchestrator train`)")
    try:
        manifest = json.loads(mf.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{mf} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        got = manifest.get("format_version") if isinstance(manifest, dict) else None
        raise ArtifactError(f"{mf}: format version {got!r}, this orchestrator reads {FORMAT_VERSION}; retrain with `orchestrator train`")
    for name, digest in (manifest.get("files") or {}).items():
        f = path / name
        if not f.is_file():
            raise ArtifactError(f"{f} is missing from the router artifacts; retrain with `orchestrator train`")
        if _sha256(f) != digest:
            raise ArtifactError(f"{f} is corrupt or was modified (checksum differs from {mf}); retrain with `orchestrator train`")
    return manifest


def resolve_tier(path: Path, tier: str) -> tuple[str, str | None]:
    """The tier a load will use, and a warning when it cannot be the one asked for.

    An artifact trained with ``--no-static-tier`` (or before the static tier was the default)
    still serves: on MiniLM, with a warning that says how to get the fast tier back."""
    if tier not in TIERS:
        raise ArtifactError(f"unknown embedding tier {tier!r}: use 'static' or 'minilm'")
    if tier == "static" and not (path / STATIC_FILE).is_file():
        return "minilm", (f"{path} has no static embedding tier ({STATIC_FILE}): routing on MiniLM instead, "
                          "~30x slower per query; retrain with `orchestrator train` (it distils the static tier by default)")
    return tier, None


def _state_file(path: Path, tier: str) -> str:
    # The static tier routes with the router fitted on its own vectors when the artifact has one
    # (older artifacts: the MiniLM-fitted router reads the projected static vectors).
    return STATIC_ROUTER_FILE if tier == "static" and (path / STATIC_ROUTER_FILE).is_file() else ROUTER_FILE


def tuned_escalation(path: Path, tier: str = DEFAULT_TIER) -> dict[str, Any] | None:
    """The escalation dials the router serving on ``tier`` carries (``escalation_``), read without
    loading an embedder: what ``orchestrator config validate`` checks experts.yaml against."""
    import joblib

    read_manifest(path)
    tier, _ = resolve_tier(path, tier)
    try:
        state = joblib.load(path / _state_file(path, tier))["state"]
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means an unusable artifact
        raise ArtifactError(f"{path / _state_file(path, tier)} cannot be loaded ({type(exc).__name__}: {exc}); retrain") from exc
    return state.get("escalation_")


def load_router(cls: type, path: Path, *, embedder: Any = None, tier: str = DEFAULT_TIER) -> Any:
    """Load an artifact folder on embedding ``tier``; the tier actually used (after a fallback,
    see :func:`resolve_tier`) is ``router.embedding_tier`` and its warning ``router.tier_warning``."""
    import joblib

    from orchestrator.router.text import VIEW_VERSION

    manifest = read_manifest(path)
    tier, tier_warning = resolve_tier(path, tier)
    if tier_warning:
        log.warning(tier_warning)
    if embedder is None:
        from orchestrator.embeddings import SERVING_THREADS, Embedder

        # A loaded router serves queries (the gateway, `route`): torch held to one thread, since
        # one query's small products lose more to waking threads than they gain and the gateway
        # batches concurrent queries instead (Embedder.threads; docs/benchmarks.md "Which
        # embedding tier ships" has the numbers).
        embedder = Embedder(threads=SERVING_THREADS)
    base = _base_embedder(embedder)
    if manifest.get("embedding_model") != base.name or manifest.get("embedder_fingerprint") != base.fingerprint:
        raise ArtifactError(
            f"{path} was trained with embedding model {manifest.get('embedding_model')!r} "
            f"(fingerprint {str(manifest.get('embedder_fingerprint'))[:12]}…), but the embedder here is {base.name!r} "
            f"(fingerprint {base.fingerprint[:12]}…); retrain with `orchestrator train` or use the matching model"
        )
    if manifest.get("prompt_view_version") != VIEW_VERSION:
        raise ArtifactError(f"{path} was trained with another prompt view (version {manifest.get('prompt_view_version')}); retrain")
    state_file = _state_file(path, tier)
    try:
        blob = joblib.load(path / state_file)
        router = cls(**blob["params"], embedder=embedder)
        for k, v in blob["state"].items():
            setattr(router, k, v)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means an unusable artifact
        raise ArtifactError(f"{path / state_file} cannot be loaded ({type(exc).__name__}: {exc}); retrain") from exc
    import numpy as np

    router._rng = np.random.default_rng(router.random_state)
    if tier == "static":
        from orchestrator.router.static_tier import StaticEmbedder

        router.embedder = StaticEmbedder(joblib.load(path / STATIC_FILE), base=base)
    # Plain attributes (no trailing "_"), so a re-saved router never persists how it was loaded.
    router.embedding_tier, router.tier_warning = tier, tier_warning
    return router
