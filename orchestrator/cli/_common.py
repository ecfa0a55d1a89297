"""What every command shares: the consoles and the one place library errors become exit codes."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from orchestrator.errors import OrchestratorError

console = Console()
# Error lines carry user text (paths like `experts[0]`, `file.yaml:100:`): no markup, no emoji codes.
err_console = Console(stderr=True, emoji=False, markup=False, highlight=False)

F = TypeVar("F", bound=Callable[..., Any])

EXIT_INPUT_ERROR = 2


def fail(message: str, code: int = EXIT_INPUT_ERROR) -> typer.Exit:
    err_console.print(f"error: {message}", style="red", soft_wrap=True)
    return typer.Exit(code)


def handles_errors(fn: F) -> F:
    """Print an :class:`OrchestratorError` as one line per problem and exit 2 — never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except OrchestratorError as exc:
            problems = getattr(exc, "problems", None)
            if problems:
                for p in problems:
                    err_console.print(f"error: {p}", soft_wrap=True)
            else:
                err_console.print(f"error: {exc}", soft_wrap=True)
            raise typer.Exit(EXIT_INPUT_ERROR) from None
        except KeyboardInterrupt:
            err_console.print("interrupted")
            sys.exit(130)

    return wrapper  # type: ignore[return-value]
