"""Reading request fields: typed optional values, stop lists, tool names, JSON schemas.

The wire-protocol parsers read every scalar field through these helpers, so a wrong type or an
out-of-range value is one 400 that names the field the way the caller wrote it
(``generationConfig.temperature``, ``messages[0].content``...).
"""
from __future__ import annotations

from typing import Any

from .. import grammar
from .errors import GatewayError, bad
from .types import Tool

__all__ = ["check_tools_unique", "checked_schema", "opt_bool", "opt_number", "stop_list"]


def opt_number(body: dict[str, Any], key: str, *, param: str | None = None, lo: float | None = None,
               hi: float | None = None, integer: bool = False) -> Any:
    """An optional number field (None when absent or null), range-checked; 400 naming the field."""
    value = body.get(key)
    name = param or key
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise bad(name, f"expected {'an integer' if integer else 'a number'}, got {value!r}")
    if lo is not None and value < lo:
        raise bad(name, f"must be >= {lo:g}, got {value!r}")
    if hi is not None and value > hi:
        raise bad(name, f"must be <= {hi:g}, got {value!r}")
    return value


def opt_bool(body: dict[str, Any], key: str, param: str | None = None) -> bool:
    """An optional boolean field (False when absent)."""
    value = body.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad(param or key, f"expected true or false, got {value!r}")
    return value


def stop_list(value: Any, param: str) -> list[str]:
    """A stop sequence or list of them."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise bad(param, "expected a string or a list of strings")


def check_tools_unique(tools: list[Tool], param: str) -> None:
    """Tool names must be unique and non-empty."""
    seen: set[str] = set()
    for i, t in enumerate(tools):
        if not t.name:
            raise bad(f"{param}[{i}]", "a tool needs a non-empty name")
        if t.name in seen:
            raise bad(f"{param}[{i}]", f"duplicate tool name {t.name!r}")
        seen.add(t.name)


def checked_schema(schema: Any, param: str) -> dict[str, Any]:
    """A client JSON schema checked to be valid; 400 naming ``param`` otherwise."""
    try:
        return grammar.check_schema(schema, param)
    except grammar.SchemaError as exc:
        raise GatewayError("invalid_request", str(exc), param=param) from None
