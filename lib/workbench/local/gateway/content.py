"""Message content to prompt text: one table-driven walk over content parts, media read in place.

The engine reads text only. Each wire protocol writes message content as a list of parts (OpenAI
``{"type": "image_url", ...}``, Anthropic content blocks, Gemini parts keyed by field name); it
describes them once as a :class:`PartTable` (how a part names its type, one reader per type) and
:class:`ContentWalk` does the walk: strings, lists, objects, the path of every part for error
messages, the join. Media parts become marked text (``[image 1: ...]``, ``[audio 1: ...]``,
``[video 1: ...]``) through :mod:`workbench.local.media`; earlier tool calls and their results become
``[called tool ...]`` / ``[result of tool ...]`` lines.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .errors import GatewayError, bad

__all__ = [
    "ContentWalk", "MediaKind", "PartTable", "Reader", "call_text", "decode_base64", "media_kind",
    "parse_data_url", "read_text", "result_text", "skip",
]

MediaKind = Literal["image", "audio", "video"]


# ------------------------------------------------------------------------------------------------
# Media data
# ------------------------------------------------------------------------------------------------
def decode_base64(data: Any, param: str) -> bytes:
    """Decode base64 text (standard or URL-safe alphabet); a 400 naming ``param`` when it is not base64."""
    if not isinstance(data, str) or not data:
        raise bad(param, "expected non-empty base64 text")
    text = data.strip().replace("-", "+").replace("_", "/")  # also the URL-safe alphabet (protobuf JSON)
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise bad(param, "is not valid base64") from None


def parse_data_url(url: Any, param: str, what: str = "image") -> tuple[bytes, str]:
    """Split a ``data:MIME;base64,...`` URL into bytes and MIME type.

    An http(s) URL gets a clear 400: the offline provider cannot fetch it.
    """
    if not isinstance(url, str) or not url:
        raise bad(param, f"expected a data URL string for the {what}")
    if url.startswith(("http://", "https://")):
        raise bad(param, f"the offline local provider cannot fetch remote URLs ({url[:80]}); "
                         f"send the {what} inline as a base64 data URL (data:MIME;base64,...)")
    if not url.startswith("data:") or "," not in url:
        raise bad(param, f"expected a data URL (data:MIME;base64,...), got {url[:40]!r}")
    head, payload = url[5:].split(",", 1)
    parts = head.split(";")
    mime = parts[0] or "application/octet-stream"
    if "base64" not in parts[1:]:
        raise bad(param, "only base64 data URLs are supported (data:MIME;base64,...)")
    return decode_base64(payload, param), mime


def media_kind(mime: str, param: str) -> MediaKind:
    """image/*, audio/*, video/* → the media kind; anything else is a 400 naming ``param``."""
    major = mime.split("/", 1)[0].lower()
    if major in ("image", "audio", "video"):
        return major  # type: ignore[return-value]
    raise bad(param, f"unsupported media type {mime!r}: the local provider reads image/*, audio/* and video/*")


def _media_module() -> Any:
    try:
        from .. import media
    except ImportError as exc:
        raise GatewayError("server", f"media adapters are not available: {exc}") from None
    return media


def call_text(name: str, arguments: str) -> str:
    """How an earlier tool call appears in the prompt."""
    return f"[called tool {name} with arguments {arguments}]"


def result_text(name: str, output: str, *, error: bool = False) -> str:
    """How a tool result appears in the prompt."""
    return f"[result of tool {name}{' (error)' if error else ''}: {output}]"


# ------------------------------------------------------------------------------------------------
# The walk
# ------------------------------------------------------------------------------------------------
#: Reads one part: ``(walk, part, param) -> text`` (None or "" adds nothing).
Reader = Callable[["ContentWalk", dict[str, Any], str], Awaitable[str | None]]


@dataclass(frozen=True)
class PartTable:
    """How one wire protocol writes content: the part kinds it knows and how a part names its kind.

    Attributes:
        readers: one reader per part kind.
        kind_of: the kind of a part (e.g. its ``type`` field), None when it has none.
        unknown: the 400 for a part whose kind has no reader: ``(kind, part, param) -> error``.
        what: the protocol's word for a part ("content part", "content block", "part").
        index: the path of item ``i`` under ``param`` (``param[i]`` or ``param.i``).
        strings: a plain string is accepted as text content.
        none_is_empty: a missing (null) content is empty text rather than an error.
    """

    readers: Mapping[str, Reader]
    kind_of: Callable[[dict[str, Any]], str | None]
    unknown: Callable[[str | None, dict[str, Any], str], GatewayError]
    what: str = "content part"
    index: Callable[[str, int], str] = lambda param, i: f"{param}[{i}]"
    strings: bool = True
    none_is_empty: bool = False


class ContentWalk:
    """One request's walk over its content: numbers media per kind, remembers tool-call names.

    ``names`` maps a tool call's id to its tool name, so a later result can name the tool.
    """

    def __init__(self, table: PartTable) -> None:
        self.table = table
        self.counts: dict[str, int] = {}
        self.names: dict[str, str] = {}

    async def text(self, content: Any, param: str) -> str:
        """``content`` (a string or a list of parts) as prompt text; 400s name the bad part."""
        table = self.table
        if content is None and table.none_is_empty:
            return ""
        if isinstance(content, str) and table.strings:
            return content
        if not isinstance(content, list):
            raise bad(param, f"expected {'a string or ' if table.strings else ''}a list of {table.what}s")
        pieces: list[str] = []
        for i, part in enumerate(content):
            p = table.index(param, i)
            if not isinstance(part, dict):
                raise bad(p, f"a {table.what} must be an object")
            kind = table.kind_of(part)
            reader = table.readers.get(kind) if kind is not None else None
            if reader is None:
                raise table.unknown(kind, part, p)
            piece = await reader(self, part, p)
            if piece:
                pieces.append(piece)
        return "\n".join(pieces)

    async def media(self, kind: MediaKind, data: bytes, mime: str, param: str) -> str:
        """One media part as marked text: ``[image 1: <what the adapter read>]``.

        Images go through OCR (plus size facts), audio through speech recognition, video through
        sampled frames; each adapter runs in a worker thread.
        """
        media = _media_module()
        fn: Callable[..., str] = {"image": media.image_to_text, "audio": media.audio_to_text,
                                  "video": media.video_to_text}[kind]
        try:
            text = await asyncio.to_thread(fn, data, mime)
        except ValueError as exc:  # media.MediaError: its reason says what is wrong, in plain words
            raise bad(param, f"cannot read the {kind} ({mime}): {getattr(exc, 'reason', exc)}") from None
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return f"[{kind} {self.counts[kind]}: {text}]"


async def read_text(walk: ContentWalk, part: dict[str, Any], param: str) -> str:
    """Reader of a text part: its ``text`` string."""
    if not isinstance(part.get("text"), str):
        raise bad(f"{param}.text", "expected a string")
    return part["text"]


async def skip(walk: ContentWalk, part: dict[str, Any], param: str) -> None:
    """Reader of a part that adds nothing to the prompt (e.g. earlier thinking)."""
    return
