"""Layers point one way: transports know nothing of scheduling, the library nothing of services.

Read from the source with ``ast`` (every import, including lazy ones inside functions and
``TYPE_CHECKING`` blocks), so a forbidden arrow fails here before it tangles the design.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# package -> packages it must never import
FORBIDDEN = {
    "orchestrator/experts": ("orchestrator.scheduling", "orchestrator.pipeline", "orchestrator.router", "services"),
    "orchestrator/scheduling": ("orchestrator.pipeline", "orchestrator.router", "services"),
    "orchestrator/router": ("orchestrator.experts", "orchestrator.scheduling", "orchestrator.pipeline", "services"),
    "orchestrator": ("services",),
}
# The command line and the demo are composition roots: they start the services.
ROOTS = ("orchestrator/cli", "orchestrator/demo")


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_nothing_from_the_layers_above_it(package: str) -> None:
    banned = FORBIDDEN[package]
    offences = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted((ROOT / package).rglob("*.py"))
        if not str(path.relative_to(ROOT)).startswith(ROOTS)
        for line, module in _imports(path)
        if any(module == b or module.startswith(b + ".") for b in banned)
    ]
    assert offences == [], "\n".join(offences)


def test_only_the_scheduler_side_constructs_a_residency_manager() -> None:
    """The expert client has no residency hook: only scheduling/ and the composition roots wire one."""
    client = (ROOT / "orchestrator/experts/client.py").read_text(encoding="utf-8")
    assert "residency" not in client.split('"""', 2)[2].lower()
