"""Constrained decoding for the local provider: tool calls and structured output.

SmolLM2's chat template knows nothing about tools, so the gateway does what self-hosted servers such
as vLLM do: it constrains the engine's sampler. A choice between fixed strings is a GBNF grammar
(:func:`choice_grammar`); tool arguments and ``response_format`` schemas are JSON Schemas the engine
compiles itself (llguidance). A 135M model happily repeats an array item until it runs out of tokens,
so :func:`bounded_schema` adds length caps that keep every output finite; output valid under the
bounded schema is valid under the original one (:func:`validate` checks it anyway).
"""
from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema

#: Caps added where a schema leaves a length open (a valid output stays valid without them).
MAX_STRING = 200
MAX_ITEMS = 8

_STRING_LIMITS = ("maxLength", "enum", "const", "pattern", "format")


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
    arrays without ``maxItems`` get ``maxItems`` (never below their ``minItems``); objects with
    ``properties`` and no ``additionalProperties`` get ``additionalProperties: false``.
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
        if "array" in types and "maxItems" not in out:
            out["maxItems"] = max(max_items, int(out.get("minItems", 0)))
        if "object" in types and "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out

    return walk(copy.deepcopy(schema))


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
