"""Request fields: which ones are real, and reading their values.

A :class:`FieldPolicy` says, for one request object of one wire protocol, which fields the real API
defines (taken from the official SDK's own request types) and what the local provider does with
each: read it (and honour it, or refuse a value it cannot honour), accept it without effect
(metadata, user ids, storage and caching hints: nothing the local model's answer depends on), or
refuse it with a 400 that says "not supported by the local provider". A field the real API does not
define gets that provider's own unknown-field 400. So a request the real API would refuse is refused
here too, and nothing is dropped silently.

The value helpers read every scalar field, so a wrong type or an out-of-range value is one 400 that
names the field the way the caller wrote it (``generationConfig.temperature``, ``messages[0].content``).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import grammar
from .errors import GatewayError, bad
from .types import Tool

__all__ = [
    "FieldPolicy", "check_limit", "check_tools_unique", "checked_schema", "opt_bool", "opt_number", "stop_list",
    "unsupported",
]


def unsupported(param: str, reason: str = "") -> GatewayError:
    """The 400 for a real API field (or value) the local provider does not implement."""
    return bad(param, "not supported by the local provider" + (f" ({reason})" if reason else ""),
               code="unsupported_parameter")


@dataclass(frozen=True)
class FieldPolicy:
    """The fields of one request object and what the local provider does with each.

    Attributes:
        known: every field the real API defines for this object.
        read: fields the parser reads (it honours them, or refuses a value it cannot honour).
        ignored: fields accepted without effect, each with the reason it changes nothing here.
        unknown: the provider's own 400 for a field its API does not define: ``(path) -> error``.
        reasons: why a known field is refused, for the fields where a reason helps.
        prefix: where the object sits in the body (``""`` at the top, ``"generationConfig."``...).
    """

    known: frozenset[str]
    read: frozenset[str]
    unknown: Callable[[str], GatewayError]
    ignored: Mapping[str, str] = field(default_factory=dict)
    reasons: Mapping[str, str] = field(default_factory=dict)
    prefix: str = ""

    def check(self, obj: Mapping[str, Any]) -> None:
        """Refuse the first field of ``obj`` that is unknown, or known and set but not implemented."""
        for name, value in obj.items():
            if name not in self.known:
                raise self.unknown(self.prefix + name)
            if value is None or name in self.read or name in self.ignored:
                continue
            raise unsupported(self.prefix + name, self.reasons.get(name, ""))

    def with_known(self, extra: Iterable[str]) -> FieldPolicy:
        """The same policy knowing (and reading) ``extra`` fields too."""
        extra = frozenset(extra)
        return FieldPolicy(self.known | extra, self.read | extra, self.unknown, self.ignored, self.reasons,
                           self.prefix)


def check_limit(value: int | None, limit: int | None, error: Callable[[int, int], GatewayError]) -> None:
    """Raise ``error(value, limit)`` when a requested token count is above the model's limit."""
    if value is not None and limit is not None and value > limit:
        raise error(value, limit)


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
