"""The ``orchestrator`` command line: one typer app; each command group lives in its own module.

Heavy libraries (torch, sentence-transformers, litellm, langgraph) are imported inside the
commands, never here, so ``orchestrator --help`` stays fast.
"""

from __future__ import annotations

import typer

from orchestrator.cli import (
    batch_cmd,
    config_cmd,
    data_cmd,
    deploy_cmd,
    eval_cmd,
    models_cmd,
    profile_cmd,
    retrieval_cmd,
    route_cmd,
    serve_cmd,
    sim_cmd,
    train_cmd,
)

app = typer.Typer(
    name="orchestrator",
    help="Route requests to expert LLMs served by vLLM, evaluate routing policies offline, and serve an OpenAI-compatible gateway.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each module adds its commands to the app; keep this list sorted.
for module in (batch_cmd, config_cmd, data_cmd, deploy_cmd, eval_cmd, models_cmd, profile_cmd, retrieval_cmd, route_cmd, serve_cmd, sim_cmd, train_cmd):
    module.register(app)


def main() -> None:
    app()
