"""Constrained decoding for the local provider: tool calls and structured output.

SmolLM2's chat template knows nothing about tools, so the gateway does what self-hosted servers such
as vLLM do: it constrains the engine's sampler. A choice between fixed strings is a GBNF grammar
(:func:`choice_grammar`); tool arguments and ``response_format`` schemas are JSON Schemas the engine
compiles itself (llguidance). A 135M model happily repeats an array item until it runs out of tokens,
so :func:`bounded_schema` adds length caps that keep every output finite; output valid under the
bounded schema is valid under the original one (:func:`validate` checks it anyway).
:func:`fitted_schema` picks the largest caps whose longest valid output (:func:`max_chars`) still fits a
token budget, so an answer bounded that way ends as complete JSON before the budget runs out.
"""
from __future__ import annotations

import copy
import json
import math
from typing import Any

import jsonschema

#: Caps added where a schema leaves a length open (a valid output stays valid without them).
MAX_STRING = 200
MAX_ITEMS = 8

#: Bounds added to a number left open: a 135M model may write thousands of digits. Integers get a
#: range, numbers a range and a step of 10^-6 (six decimals at most).
MAX_NUMBER = 10**15
NUMBER_STEP = 1e-6

_STRING_LIMITS = ("maxLength", "enum", "const", "pattern", "format")
_NUMBER_LIMITS = ("enum", "const")


class SchemaError(ValueError):
    """A JSON schema given by the client is not a valid schema."""


def choice_grammar(options: list[str]) -> str:
    """A GBNF grammar whose only sentences are the given strings (e.g. tool names)."""
    if not options:
        raise ValueError("options: at least one choice is needed")

    def lit(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    return "root ::= " + " | ".join(lit(o) for o in options)


def object_schema(parameters: dict[str, Any] | None) -> dict[str, Any]:
    """A tool's parameter schema as an object schema (no parameters means the empty object)."""
    if not parameters:
        return {"type": "object", "properties": {}, "additionalProperties": False}
    return parameters


def bounded_schema(schema: dict[str, Any], *, max_string: int = MAX_STRING, max_items: int = MAX_ITEMS) -> dict[str, Any]:
    """Return a copy of ``schema`` with caps on open-ended strings, arrays and extra properties.

    Strings without ``maxLength``/``enum``/``const``/``pattern``/``format`` get ``maxLength``;
    integers and numbers without a bound get a range of +-:data:`MAX_NUMBER` (numbers also a
    ``multipleOf`` of :data:`NUMBER_STEP`); arrays without ``maxItems`` get ``maxItems`` (never below
    their ``minItems``); objects with ``properties`` and no ``additionalProperties`` get
    ``additionalProperties: false``.
    """

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(n) for n in node]
        if not isinstance(node, dict):
            return node
        out = {k: walk(v) for k, v in node.items()}
        types = out.get("type")
        types = types if isinstance(types, list) else [types]
        if "string" in types and not any(k in out for k in _STRING_LIMITS):
            out["maxLength"] = max(max_string, int(out.get("minLength", 0)))
        if ("integer" in types or "number" in types) and not any(k in out for k in _NUMBER_LIMITS):
            low = out.get("minimum", out.get("exclusiveMinimum"))
            high = out.get("maximum", out.get("exclusiveMaximum"))
            if low is None:
                out["minimum"] = min(-MAX_NUMBER, high if isinstance(high, (int, float)) else 0)
            if high is None:
                out["maximum"] = max(MAX_NUMBER, low if isinstance(low, (int, float)) else 0)
            if "number" in types and "multipleOf" not in out:
                out["multipleOf"] = NUMBER_STEP
        if "array" in types and "maxItems" not in out:
            out["maxItems"] = max(max_items, int(out.get("minItems", 0)))
        if "object" in types and "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out

    return walk(copy.deepcopy(schema))


#: Caps tried by :func:`fitted_schema`, largest first: (string length, array items).
CAP_LADDER: tuple[tuple[int, int], ...] = ((1000, 20), (400, 12), (200, 8), (100, 5), (40, 3))
#: Characters per token assumed when fitting a schema to a token budget (JSON text of a small model
#: runs 3-5; 2 leaves room for indentation and short tokens), and the share of the longest valid
#: output allowed on top for whitespace between JSON tokens.
CHARS_PER_TOKEN = 2.0
WHITESPACE = 1.5
_SCALAR_CHARS = {"integer": 24, "number": 32, "boolean": 5, "null": 4}


def max_chars(schema: dict[str, Any]) -> float:
    """The length of the longest compact JSON text valid under ``schema`` (``math.inf`` when unbounded).

    Follows local ``$ref``s (``#/$defs/...``); a recursive reference or an open object is unbounded.
    """

    def size(node: Any, seen: frozenset[str]) -> float:
        if not isinstance(node, dict):
            return math.inf
        if "$ref" in node:
            ref = str(node["$ref"])
            if ref in seen or not ref.startswith("#/"):
                return math.inf
            target: Any = schema
            for part in ref[2:].split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            return size(target, seen | {ref})
        if "const" in node:
            return len(json.dumps(node["const"]))
        if "enum" in node:
            return max((len(json.dumps(v)) for v in node["enum"]), default=0)
        for key in ("anyOf", "oneOf"):
            if key in node:
                return max((size(n, seen) for n in node[key]), default=math.inf)
        types = node.get("type", "object" if "properties" in node else None)
        if isinstance(types, list):
            return max((size({**node, "type": t}, seen) for t in types), default=math.inf)
        if types == "string":
            return 2 + node["maxLength"] if "maxLength" in node else (40 if "format" in node else math.inf)
        if types in _SCALAR_CHARS:
            return _SCALAR_CHARS[types]
        if types == "array":
            return 2 + node.get("maxItems", math.inf) * (size(node.get("items", {}), seen) + 1)
        if types == "object" and node.get("additionalProperties") is False:
            return 2 + sum(len(json.dumps(k)) + 1 + size(v, seen) + 1 for k, v in node.get("properties", {}).items())
        return math.inf

    return size(schema, frozenset())


def fitted_schema(schema: dict[str, Any], max_tokens: int) -> dict[str, Any]:
    """``schema`` bounded with the largest caps of :data:`CAP_LADDER` whose longest valid output fits in
    ``max_tokens`` tokens (the smallest caps when none does)."""
    budget = max_tokens * CHARS_PER_TOKEN / WHITESPACE
    bounded = schema
    for max_string, max_items in CAP_LADDER:
        bounded = bounded_schema(schema, max_string=max_string, max_items=max_items)
        if max_chars(bounded) <= budget:
            break
    return bounded


def check_schema(schema: Any, param: str) -> dict[str, Any]:
    """Check that ``schema`` is a JSON Schema object; raise :class:`SchemaError` naming ``param``."""
    if not isinstance(schema, dict):
        raise SchemaError(f"{param}: a JSON schema must be an object, got {type(schema).__name__}")
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise SchemaError(f"{param}: invalid JSON schema: {exc.message}") from None
    return schema


def validate(text: str, schema: dict[str, Any]) -> Any:
    """Parse ``text`` as JSON and validate it against ``schema``; return the value.

    Raises:
        ValueError: the text is not JSON or does not match the schema.
    """
    value = json.loads(text)
    jsonschema.validate(value, schema)
    return value
