"""The router's artifact folder: joblib files plus ``manifest.json``.

The manifest records the format version, the embedding model's name and fingerprint (sha256 of
its weights) and a sha256 per file, so loading refuses — with a clear :class:`ArtifactError`,
never a traceback — a folder that is missing, truncated, edited, or built on other embeddings.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from orchestrator.errors import ArtifactError

__all__ = ["FORMAT_VERSION", "MANIFEST", "load_router", "read_manifest", "save_router"]

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ROUTER_FILE = "router.joblib"
STATIC_FILE = "static_tier.joblib"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _base_embedder(embedder: Any) -> Any:
    """The MiniLM embedder behind a (possibly static-tier) embedder."""
    return getattr(embedder, "base", embedder)


def save_router(router: Any, path: Path) -> None:
    import joblib

    from orchestrator.router.text import VIEW_VERSION

    router._check_fitted()
    path.mkdir(parents=True, exist_ok=True)
    embedder = router._get_embedder()
    base = _base_embedder(embedder)
    params = {k: v for k, v in router.get_params().items() if k != "embedder"}
    state = {k: v for k, v in vars(router).items() if k.endswith("_") and not k.startswith("_")}
    joblib.dump({"params": params, "state": state}, path / ROUTER_FILE, compress=3)
    files = [ROUTER_FILE]
    static = getattr(router, "static_tier_", None)
    if static is not None:
        joblib.dump(static, path / STATIC_FILE)
        files.append(STATIC_FILE)
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


def load_router(cls: type, path: Path, *, embedder: Any = None, tier: str = "minilm") -> Any:
    import joblib

    from orchestrator.router.text import VIEW_VERSION

    manifest = read_manifest(path)
    if embedder is None:
        from orchestrator.embeddings import SERVING_THREADS, Embedder

        embedder = Embedder(threads=SERVING_THREADS)  # a loaded router serves queries: see Embedder.threads
    base = _base_embedder(embedder)
    if manifest.get("embedding_model") != base.name or manifest.get("embedder_fingerprint") != base.fingerprint:
        raise ArtifactError(
            f"{path} was trained with embedding model {manifest.get('embedding_model')!r} "
            f"(fingerprint {str(manifest.get('embedder_fingerprint'))[:12]}…), but the embedder here is {base.name!r} "
            f"(fingerprint {base.fingerprint[:12]}…); retrain with `orchestrator train` or use the matching model"
        )
    if manifest.get("prompt_view_version") != VIEW_VERSION:
        raise ArtifactError(f"{path} was trained with another prompt view (version {manifest.get('prompt_view_version')}); retrain")
    try:
        blob = joblib.load(path / ROUTER_FILE)
        router = cls(**blob["params"], embedder=embedder)
        for k, v in blob["state"].items():
            setattr(router, k, v)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means an unusable artifact
        raise ArtifactError(f"{path / ROUTER_FILE} cannot be loaded ({type(exc).__name__}: {exc}); retrain") from exc
    import numpy as np

    router._rng = np.random.default_rng(router.random_state)
    if tier == "static":
        if not (path / STATIC_FILE).is_file():
            raise ArtifactError(f"{path} has no static embedding tier; train with `orchestrator train --static-tier`")
        from orchestrator.router.static_tier import StaticEmbedder

        router.embedder = StaticEmbedder(joblib.load(path / STATIC_FILE), base=base)
    elif tier != "minilm":
        raise ArtifactError(f"unknown embedding tier {tier!r}: use 'minilm' or 'static'")
    return router
