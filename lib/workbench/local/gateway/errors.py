"""Errors of the local gateway: one exception, answered in the caller's protocol shape.

A :class:`GatewayError` carries a protocol-neutral ``kind`` (invalid_request, not_found,
not_allowed, rate_limit, server, timeout, unavailable), the HTTP status that kind maps to, the offending request field
(``param``) and, where OpenAI gives one, a machine-readable ``code``. Each wire-protocol module turns
it into its provider's error body; nothing here knows those shapes.
"""
from __future__ import annotations

from typing import ClassVar

__all__ = ["GatewayError", "bad"]


class GatewayError(Exception):
    """An error answered in the caller's protocol shape.

    ``kind`` is one of invalid_request, not_found, not_allowed, rate_limit, server, timeout, unavailable;
    ``param`` names the offending request field when there is one; ``code`` is a machine-readable
    reason (``unknown_parameter``, ``unsupported_parameter``, ``invalid_value``...) or None.
    """

    STATUS: ClassVar[dict[str, int]] = {"invalid_request": 400, "not_found": 404, "not_allowed": 405,
                                        "rate_limit": 429, "server": 500, "timeout": 504, "unavailable": 503}

    def __init__(self, kind: str, message: str, *, param: str | None = None,
                 headers: dict[str, str] | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = self.STATUS[kind]
        self.message = message
        self.param = param
        self.headers = headers or {}
        self.code = code


def bad(param: str, message: str, *, code: str | None = None) -> GatewayError:
    """A 400 error whose message starts with the bad field's name."""
    return GatewayError("invalid_request", f"{param}: {message}", param=param, code=code)
