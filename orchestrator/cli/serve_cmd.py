"""``orchestrator serve``: run the OpenAI-compatible gateway."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli._common import handles_errors


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


@handles_errors
def serve(
    config: Annotated[Path, typer.Option("--config", "-c", help="experts.yaml")] = Path("experts.yaml"),
    artifacts: Annotated[Path | None, typer.Option(help="router artifact folder (default: router.artifacts in the config)")] = None,
    router_tier: Annotated[str, typer.Option(help="router embedding tier: static (distilled, sub-millisecond; MiniLM with a warning if the artifact lacks it), or minilm")] = "static",
    host: Annotated[str | None, typer.Option(help="default: gateway.host in the config")] = None,
    port: Annotated[int | None, typer.Option(help="default: gateway.port in the config")] = None,
    fd: Annotated[int | None, typer.Option(hidden=True, help="serve on an inherited listening socket")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error")] = "info",
) -> None:
    """Serve /v1/chat/completions, /v1/models, /v1/route, /health, /ready and /metrics.

    Ready when GET /ready answers 200 (router loaded, every expert reachable).
    """
    from orchestrator.config import load_config
    from services.gateway.server import serve as run_gateway

    cfg = load_config(config)
    run_gateway(
        cfg, host=host, port=port, fd=fd, artifacts=str(artifacts) if artifacts else None,
        router_tier=router_tier, log_level=log_level,
    )
