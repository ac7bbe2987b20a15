"""The local provider's gateway: one ASGI app that speaks the OpenAI, Anthropic and Gemini protocols.

Imports point one way, from the bottom up:

* :mod:`.errors` - :class:`GatewayError`, answered in each caller's shape;
* :mod:`.types` - the normalised request (:class:`GenRequest`), the events of an answer, constants;
* :mod:`.fields` - reading typed request fields;
* :mod:`.content` - the one table-driven walk over content parts; media turned into marked text;
* :mod:`.engine_client` - the HTTP client of one llama.cpp engine;
* :mod:`.core` - model ids (one table ``model id -> engine``) and generation: tools, sampling;
* :mod:`.transport` - request and response bodies, injected faults;
* :mod:`.openai_common`, :mod:`.openai_chat`, :mod:`.openai_responses`, :mod:`.anthropic_messages`,
  :mod:`.gemini` - one module per wire protocol: parse a body, serialise an answer;
* :mod:`.app` - routes, the admin API, middleware: :func:`create_app`.
"""
from __future__ import annotations

from .app import create_app
from .errors import GatewayError
from .types import BACKEND_HEADER, DEFAULT_SEED, LOCAL_MODEL_ID

__all__ = ["BACKEND_HEADER", "DEFAULT_SEED", "LOCAL_MODEL_ID", "GatewayError", "create_app"]
