"""The gateway package's layout: imports point down its layers, every module small and documented."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
from workbench.local import gateway

PACKAGE = Path(gateway.__file__).parent

#: The layers, bottom first: a module may import only modules of lower layers.
LAYERS: dict[str, int] = {
    "errors": 0, "types": 0,
    "fields": 1, "content": 1, "engine_client": 1,
    "core": 2, "transport": 2,
    "openai_common": 3, "batch_jobs": 3,
    "openai_chat": 4, "openai_responses": 4, "anthropic_messages": 4, "gemini": 4, "openai_moderations": 4,
    "batches": 5,
    "app": 6,
    "__init__": 7,
}


def sibling_imports(path: Path) -> set[str]:
    """The gateway modules ``path`` imports (``from .x import ...`` and ``from . import x``)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            out |= {node.module} if node.module else {alias.name for alias in node.names}
    return {name.split(".")[0] for name in out}


def test_every_module_has_a_layer():
    assert {p.stem for p in PACKAGE.glob("*.py")} == set(LAYERS)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_imports_point_down_and_modules_are_small_and_documented(name):
    path = PACKAGE / f"{name}.py"
    upward = {m for m in sibling_imports(path) if LAYERS[m] >= LAYERS[name]}
    assert not upward, f"{name} imports {sorted(upward)} from its own layer or above"
    assert len(path.read_text().splitlines()) <= 600
    assert ast.get_docstring(ast.parse(path.read_text())), f"{name} has no module docstring"
