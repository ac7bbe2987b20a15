"""The local provider's gateway: one ASGI app that speaks the OpenAI, Anthropic and Gemini protocols.

Imports point one way, from the bottom up:

* :mod:`.errors` - :class:`GatewayError`, answered in each caller's shape;
* :mod:`.types` - the normalised request (:class:`GenRequest`), the events of an answer, constants;
* :mod:`.fields` - request fields: which are real (:class:`~.fields.FieldPolicy`), reading their values;
* :mod:`.content` - the one table-driven walk over content parts; media turned into marked text;
* :mod:`.engine_client` - the HTTP client of one llama.cpp engine;
* :mod:`.core` - model ids (each local id answered by its own engine, the frontier ids by the
  stand-in's, from one table of engines), output limits, generation: tools, sampling, log-probabilities;
* :mod:`.transport` - request and response bodies, injected faults;
* :mod:`.openai_common` - what the two OpenAI protocols share (errors, tools, content parts);
* :mod:`.openai_chat`, :mod:`.openai_responses`, :mod:`.anthropic_messages`, :mod:`.gemini` - one
  module per wire protocol: parse a body, serialise an answer;
* :mod:`.openai_moderations` - ``/v1/moderations``: a local model as the guard, in OpenAI's shape;
* :mod:`.app` - routes (by path and by the calling SDK), the admin API, middleware, JSON 404s:
  :func:`create_app`.
"""
from __future__ import annotations

from .app import create_app
from .errors import GatewayError
from .types import BACKEND_HEADER, DEFAULT_SEED, LOCAL_MODEL_ID

__all__ = ["BACKEND_HEADER", "DEFAULT_SEED", "LOCAL_MODEL_ID", "GatewayError", "create_app"]
