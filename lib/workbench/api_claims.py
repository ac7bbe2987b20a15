"""SDK calls the source articles show, checked against the pinned SDKs by introspection.

An article's code is a claim that a call exists under a name. Each such claim is written as a *spec*
(the ``quantity`` of an ``api`` row in ``data/claims.csv``, and of the modality rows that the request
formats settle) and checked against the SDK installed here (the versions pinned in ``pyproject.toml``),
without any network call:

* ``module:Path.to.attr`` the attribute exists (``google.genai.types:Part.from_image``). A segment
  written ``Name()`` is instantiated with a placeholder key first, so a client's resources can be
  walked (``openai:OpenAI().chat.completions.create``); constructing a client makes no request;
* ``...attr(p, q)`` it is callable and its signature has parameters ``p`` and ``q``;
* ``...Type[a; b]`` the type (a TypedDict or pydantic model) has fields ``a`` and ``b``;
  ``[a: bytes]`` also asks whether field ``a`` accepts a ``bytes`` value;
* ``...Type<word>`` some literal in the type (a union of content parts, a list of beta flags) contains
  ``word``: ``openai.types.chat:ChatCompletionContentPartParam<input_audio>``;
* a leading ``!`` expects the opposite (``!anthropic.types:ContentBlockParam<audio>``: no audio part);
* several specs joined with `` & `` must all hold.

:func:`check` returns one :class:`SpecCheck` per spec. When the call an article shows does not exist,
:data:`SUCCESSORS` names today's call for it, and that call is checked the same way before it is
offered (:func:`successor`).
"""
from __future__ import annotations

import functools
import importlib
import importlib.metadata
import importlib.util
import inspect
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

__all__ = ["SUCCESSORS", "SpecCheck", "check", "package_of", "parse", "successor"]

#: Today's call for a call an article shows that the pinned SDK does not have (spec -> spec).
SUCCESSORS: dict[str, str] = {
    "google.genai.types:Part.from_image": "google.genai.types:Part.from_bytes(data, mime_type)",
    "google.genai:Client().models.generate_content_async":
        "google.genai:Client().aio.models.generate_content(model, contents)",
    "google.generativeai:GenerativeModel": "google.genai:Client().models.generate_content(model, contents)",
    "anthropic.types:Base64ImageSourceParam[data: bytes]": "anthropic.types:Base64ImageSourceParam[data: str]",
    "openai.types.chat.chat_completion_content_part_input_audio_param:InputAudio[data: bytes]":
        "openai.types.chat.chat_completion_content_part_input_audio_param:InputAudio[data: str]",
}

_PLACEHOLDER_KEY = "introspection-only"
_SPEC = re.compile(r"^(?P<neg>!)?(?P<module>[A-Za-z_][\w.]*):(?P<path>[A-Za-z_][\w.()]*?)"
                   r"(?:\((?P<params>[^()]*)\)|\[(?P<fields>[^\]]*)\]|<(?P<word>[^<>]+)>)?$")


@dataclass(frozen=True)
class Spec:
    """One parsed spec (see the module docstring)."""

    text: str
    module: str
    path: tuple[str, ...]
    params: tuple[str, ...] = ()
    fields: tuple[tuple[str, str | None], ...] = ()
    word: str | None = None
    expect: bool = True


@dataclass(frozen=True)
class SpecCheck:
    """The outcome of one spec: whether it holds in the installed SDK, and what was seen."""

    spec: str
    holds: bool
    seen: str          #: what introspection found, in words
    package: str       #: the distribution and version checked, e.g. ``google-genai 3.3.0``
    hint: str = ""     #: for a missing attribute: the names that start alike


def parse(text: str) -> list[Spec]:
    """The specs of ``text`` (joined by `` & ``); ValueError naming the part that is not a spec."""
    out = []
    for part in (p.strip() for p in str(text).split(" & ")):
        m = _SPEC.match(part)
        if not m:
            raise ValueError(f"spec: {part!r} is not 'module:path', 'module:path(params)', "
                             "'module:Type[fields]' or 'module:Type<word>' (optionally preceded by '!')")
        fields = tuple((f.split(":")[0].strip(), f.split(":")[1].strip() if ":" in f else None)
                       for f in (m["fields"] or "").split(";") if f.strip())
        out.append(Spec(part, m["module"], tuple(m["path"].split(".")),
                        tuple(p.strip() for p in (m["params"] or "").split(",") if p.strip()),
                        fields, m["word"], expect=not m["neg"]))
    return out


#: The distribution that installs each SDK module (the rest: the module's top-level name).
_DISTRIBUTIONS = {"google.genai": "google-genai", "google.generativeai": "google-generativeai"}


@functools.cache
def package_of(module: str) -> str:
    """The installed distribution behind ``module`` and its version (``openai 3.51.0``), or 'not installed'."""
    dist = next((d for prefix, d in _DISTRIBUTIONS.items() if module == prefix or module.startswith(prefix + ".")),
                module.split(".")[0])
    try:
        return f"{dist} {importlib.metadata.version(dist)}"
    except importlib.metadata.PackageNotFoundError:
        return f"{dist} (not installed)"


def _walk(spec: Spec) -> tuple[Any, str | None]:
    """The object the spec's path names, or (None, what was missing)."""
    if importlib.util.find_spec(spec.module.split(".")[0]) is None:
        return None, f"module {spec.module} is not installed"
    try:
        obj: Any = importlib.import_module(spec.module)
    except ImportError:
        return None, f"module {spec.module} is not installed"
    where = spec.module
    for seg in spec.path:
        call = seg.endswith("()")
        name = seg[:-2] if call else seg
        if not hasattr(obj, name):
            near = sorted(n for n in dir(obj) if not n.startswith("_") and n[:4] == name[:4])
            hint = f"names starting alike: {', '.join(near[:6])}" if near else ""
            return None, f"{where} has no attribute {name!r}" + (f"|{hint}" if hint else "")
        obj = getattr(obj, name)
        where = f"{where}.{name}"
        if call:
            obj = obj(api_key=_PLACEHOLDER_KEY)
            where += "()"
    return obj, None


def _hints(obj: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(obj)
    except (TypeError, NameError):
        return dict(getattr(obj, "__annotations__", {}))


def _flatten(tp: Any) -> list[Any]:
    """The members of a union / Annotated / Required wrapper, recursively."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(tp) for m in _flatten(a)]
    if origin is typing.Annotated or str(origin) in ("typing.Required", "typing.NotRequired"):
        return _flatten(typing.get_args(tp)[0])
    return [tp]


def _accepts(annotation: Any, type_name: str) -> bool:
    """Whether a value of builtin type ``type_name`` (bytes, str, ...) fits ``annotation``."""
    wanted = {"bytes": bytes, "str": str, "int": int, "float": float, "bool": bool}.get(type_name)
    for member in _flatten(annotation):
        if member is Any or member is wanted:
            return True
        base = typing.get_origin(member) or member
        if wanted is not None and isinstance(base, type) and issubclass(wanted, base):
            return True
    return False


def _literals(tp: Any, depth: int = 0) -> list[str]:
    """Every string literal reachable in ``tp``: its Literal values, and the ``type`` field of each
    member of a union of TypedDicts (how the SDKs spell content-part kinds)."""
    if depth > 4:
        return []
    out: list[str] = []
    for member in _flatten(tp):
        if typing.get_origin(member) is typing.Literal:
            out += [str(v) for v in typing.get_args(member)]
        elif isinstance(member, type) and "type" in _hints(member):
            out += _literals(_hints(member)["type"], depth + 1)
    return out


def _check_one(spec: Spec) -> SpecCheck:
    package = package_of(spec.module)
    obj, missing = _walk(spec)
    if obj is None:
        seen, _, hint = (missing or "").partition("|")
        return SpecCheck(spec.text, not spec.expect, seen, package, hint)
    name = ".".join(s.rstrip("()") for s in spec.path)
    if spec.params:
        try:
            params = inspect.signature(obj).parameters
        except (TypeError, ValueError):
            return SpecCheck(spec.text, not spec.expect, f"{name} is not callable", package)
        lacking = [p for p in spec.params if p not in params]
        seen = (f"{name} takes {', '.join(spec.params)}" if not lacking else
                f"{name} has no parameter {', '.join(repr(p) for p in lacking)}")
        return SpecCheck(spec.text, (not lacking) == spec.expect, seen, package)
    if spec.fields:
        hints = _hints(obj)
        problems = []
        for field, type_name in spec.fields:
            if field not in hints:
                problems.append(f"no field {field!r}")
            elif type_name and not _accepts(hints[field], type_name):
                problems.append(f"field {field!r} does not take {type_name} "
                                f"(its type: {_type_text(hints[field])})")
        seen = (f"{name} has " + ", ".join(f"{f}" + (f" accepting {t}" if t else "") for f, t in spec.fields)
                if not problems else f"{name}: " + "; ".join(problems))
        return SpecCheck(spec.text, (not problems) == spec.expect, seen, package)
    if spec.word:
        values = sorted(set(_literals(obj)))
        hits = [v for v in values if spec.word in v]
        seen = (f"{name} includes {', '.join(repr(h) for h in hits[:3])}" if hits else
                f"{name} has no {spec.word!r} among {', '.join(repr(v) for v in values[:8])}"
                + (" ..." if len(values) > 8 else ""))
        return SpecCheck(spec.text, bool(hits) == spec.expect, seen, package)
    return SpecCheck(spec.text, spec.expect, f"{name} exists", package)


def _type_text(tp: Any) -> str:
    names = []
    for member in _flatten(tp):
        base = typing.get_origin(member) or member
        names.append(getattr(base, "__name__", str(base)))
    return " | ".join(names)


def check(text: str) -> list[SpecCheck]:
    """Check every spec of ``text`` (joined by `` & ``) against the installed SDKs."""
    return [_check_one(s) for s in parse(text)]


def successor(spec: str) -> SpecCheck | None:
    """Today's call for ``spec`` from :data:`SUCCESSORS`, checked; None when none is recorded."""
    if spec not in SUCCESSORS:
        return None
    return check(SUCCESSORS[spec])[0]
