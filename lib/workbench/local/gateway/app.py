"""The gateway app: routes of the three wire protocols and the admin API, middleware, error shapes.

:func:`create_app` builds one Starlette app in front of the engine. Every generation route is the
same few steps (:func:`answer`): parse the body with the protocol's parser, check it, draw an injected
fault, then answer as one JSON body or as server-sent events with the protocol's serialiser. Errors are
answered in the caller's own shape (:func:`protocol_endpoint`), and so is a path or method the gateway
does not serve (:func:`not_served`). ``GET /v1/models`` is OpenAI's, Anthropic's and (with google-genai's
default API version ``v1``) Gemini's: :func:`caller` tells them apart by the headers each SDK sends. The
middleware adds the ``x-workbench-backend-model`` header (the real model that answered: a local model's
own engine, or the stand-in for a frontier id; :func:`mark`) and a request id to every response.
"""
from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..faults import FaultConfig, FaultInjector, FaultSettingError, parse_faults
from . import (
    anthropic_messages,
    gemini,
    openai_chat,
    openai_common,
    openai_moderations,
    openai_responses,
)
from .batches import batch_routes
from .core import Core, Engines
from .errors import GatewayError, bad
from .transport import (
    CutConnection,
    apply_fault,
    json_body_response,
    primed,
    read_json,
    sse_response,
)
from .types import (
    BACKEND_HEADER,
    DEFAULT_SEED,
    Exchange,
    Provider,
    new_id,
)

__all__ = ["BackendHeaderMiddleware", "create_app", "mark"]

log = logging.getLogger("workbench.local.gateway")

Handler = Callable[[Request], Awaitable[Response]]


#: Key of the request state (``scope["state"]``) naming the real model that answers the request.
_ANSWERED_BY = "backend_model"


def mark(request: Request, core: Core, model: str) -> None:
    """Record on ``request`` which real model answers ``model`` (the backend header names it)."""
    request.state.backend_model = core.backend_name(model)


class BackendHeaderMiddleware:
    """ASGI middleware adding ``x-workbench-backend-model`` (and a request id) to every HTTP response.

    The header names the model recorded by :func:`mark` for the request, else ``default`` (the
    stand-in: admin routes, errors before a model is known). It also turns the fault injector's
    :class:`CutConnection` into a dropped connection.
    """

    def __init__(self, app: Any, default: str) -> None:
        self.app = app
        self.default = default

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = new_id("req_").encode()
        state = scope.setdefault("state", {})

        async def send_with_header(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                value = str(state.get(_ANSWERED_BY) or self.default).encode("latin-1", "replace")
                message = {**message, "headers": [*message.get("headers", []),
                                                  (BACKEND_HEADER.encode(), value),
                                                  (b"x-request-id", request_id), (b"request-id", request_id)]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_header)
        except CutConnection:
            # Returning without finishing the body makes the server drop the connection.
            log.warning("fault injection: connection cut mid-response (%s)", scope.get("path"))


def protocol_endpoint(protocol: ModuleType) -> Callable[[Handler], Handler]:
    """Decorator: turn GatewayError (and any unexpected exception) into ``protocol``'s error shape.

    ``protocol`` is a wire-protocol module with ``error_body(exc)`` and ``error_status(exc)``.
    """

    def respond(exc: GatewayError) -> Response:
        return JSONResponse(protocol.error_body(exc), status_code=protocol.error_status(exc), headers=exc.headers)

    def wrap(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except GatewayError as exc:
                if exc.status >= 500:
                    log.warning("%s %s -> %s %s", request.method, request.url.path, exc.status, exc.message)
                return respond(exc)
            except Exception as exc:
                log.exception("unexpected error in %s %s", request.method, request.url.path)
                return respond(GatewayError("server", f"internal error in the local gateway: {exc!r}"))

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        return endpoint

    return wrap


async def answer(core: Core, request: Request, exchange: Exchange) -> Response:
    """Answer a parsed generation request: checks, an injected fault, then JSON or a stream."""
    req = exchange.req
    mark(request, core, req.model)
    core.check_messages(req)  # a 400 before any injected fault
    fault = core.faults.draw()
    await apply_fault(core.faults.config, fault, request)
    if req.stream:
        events = await primed(core.events(req))
        return sse_response(exchange.stream(events), cut=fault == "cut")
    return json_body_response(exchange.response(await core.generate(req)), cut=fault == "cut")


# ------------------------------------------------------------------------------------------------
# Protocol routes
# ------------------------------------------------------------------------------------------------
def openai_routes(core: Core) -> list[Route]:
    """``/v1/chat/completions``, ``/v1/responses`` and ``/v1/moderations`` (a local model as the guard)."""
    endpoint = protocol_endpoint(openai_common)

    @endpoint
    async def chat_completions(request: Request) -> Response:
        return await answer(core, request, await openai_chat.parse_chat(core, await read_json(request)))

    @endpoint
    async def responses(request: Request) -> Response:
        return await answer(core, request, await openai_responses.parse_responses(core, await read_json(request)))

    @endpoint
    async def moderations(request: Request) -> Response:
        model, texts = openai_moderations.parse_moderation(core, await read_json(request))
        mark(request, core, model)
        fault = core.faults.draw()
        await apply_fault(core.faults.config, fault, request)
        return json_body_response(await openai_moderations.moderate(core, model, texts), cut=fault == "cut")

    return [
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/responses", responses, methods=["POST"]),
        Route("/v1/moderations", moderations, methods=["POST"]),
    ]


def anthropic_routes(core: Core) -> list[Route]:
    """``/v1/messages`` and ``/v1/messages/count_tokens`` (and their beta forms, ``?beta=true``)."""
    endpoint = protocol_endpoint(anthropic_messages)

    def beta(request: Request) -> dict[str, Any]:
        header = request.headers.get("anthropic-beta", "")
        return {"beta": request.query_params.get("beta") == "true",
                "betas": [b.strip() for b in header.split(",") if b.strip()]}

    @endpoint
    async def messages(request: Request) -> Response:
        exchange = await anthropic_messages.parse_messages(core, await read_json(request), **beta(request))
        return await answer(core, request, exchange)

    @endpoint
    async def count_tokens(request: Request) -> Response:
        exchange = await anthropic_messages.parse_messages(core, await read_json(request), counting=True,
                                                           endpoint="count_tokens", **beta(request))
        mark(request, core, exchange.req.model)
        return JSONResponse({"input_tokens": await core.count_tokens(exchange.req)})

    return [
        Route("/v1/messages", messages, methods=["POST"]),
        Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
    ]


_GEMINI_METHODS = "':generateContent', ':streamGenerateContent' or ':countTokens'"


def gemini_routes(core: Core) -> list[Route]:
    """The ``:generateContent`` family under ``/v1beta/models`` and ``/v1/models``."""
    endpoint = protocol_endpoint(gemini)

    @endpoint
    async def model_action(request: Request) -> Response:
        spec = request.path_params["spec"]
        if ":" not in spec:
            raise GatewayError("not_found", f"unknown method for models/{spec}; expected {_GEMINI_METHODS}")
        model, action = spec.rsplit(":", 1)
        model = model.removeprefix("models/")
        body = await read_json(request)
        if action == "countTokens":
            inner = gemini.get(body, "generateContentRequest", "generate_content_request")
            exchange = await gemini.parse_generate(core, model, inner if isinstance(inner, dict) else body, stream=False)
            mark(request, core, exchange.req.model)
            return JSONResponse({"totalTokens": await core.count_tokens(exchange.req)})
        if action not in ("generateContent", "streamGenerateContent"):
            raise GatewayError("not_found", f"unknown method ':{action}'; expected {_GEMINI_METHODS}")
        stream = action == "streamGenerateContent"
        if stream and request.query_params.get("alt") != "sse":
            raise bad("alt", "the local provider streams as server-sent events only; add '?alt=sse'")
        return await answer(core, request, await gemini.parse_generate(core, model, body, stream=stream))

    return [
        Route("/v1beta/models/{spec:path}", model_action, methods=["POST"]),
        Route("/v1/models/{spec:path}", model_action, methods=["POST"]),
    ]


def caller(request: Request) -> Provider:
    """Which SDK sent ``request``, from its headers and path: google-genai sends ``x-goog-api-key``
    (and uses ``/v1beta`` or ``:method`` paths), the Anthropic SDK ``anthropic-version``; else OpenAI."""
    headers = request.headers
    path = request.url.path
    if "x-goog-api-key" in headers or "key" in request.query_params or path.startswith("/v1beta/") \
            or ":" in path.rsplit("/", 1)[-1]:
        return "google"
    if "anthropic-version" in headers or "x-api-key" in headers:
        return "anthropic"
    return "openai"


PROTOCOLS: dict[Provider, ModuleType] = {"openai": openai_common, "anthropic": anthropic_messages, "google": gemini}


def model_routes(core: Core) -> list[Route]:
    """``GET /v1/models[/{model}]`` for the SDK that asks (:func:`caller`: the OpenAI and Anthropic SDKs
    use these paths, and so does google-genai with its default API version ``v1``) and
    ``GET /v1beta/models[/{model}]`` for Gemini."""

    def model_id(request: Request) -> str:
        return str(request.path_params.get("model", "")).removeprefix("models/")

    def entry(provider: Provider, model: str) -> dict[str, Any]:
        backend = core.backend_name(model)
        if provider == "google":
            return gemini.model_object(model, backend)
        if provider == "anthropic":
            return anthropic_messages.model_object(model, created=core.started, backend=backend,
                                                   limit=core.output_limit(model))
        return openai_common.model_object(model, created=int(core.started), backend=backend)

    def listing(provider: Provider) -> dict[str, Any]:
        entries = [entry(provider, m) for m in [*core.known_models.get(provider, []), *core.engines.ids]]
        if provider == "google":
            return {"models": entries}
        if provider == "anthropic":
            return {"data": entries, "has_more": False, "first_id": entries[0]["id"] if entries else None,
                    "last_id": entries[-1]["id"] if entries else None}
        return {"object": "list", "data": entries}

    def handler(provider: Provider | None, one: bool) -> Handler:
        async def models(request: Request) -> Response:
            who = provider or caller(request)

            @protocol_endpoint(PROTOCOLS[who])
            async def respond(request: Request) -> Response:
                if one:
                    model = core.check_model(model_id(request), who)
                    mark(request, core, model)
                    return JSONResponse(entry(who, model))
                return JSONResponse(listing(who))

            return await respond(request)

        return models

    return [
        Route("/v1/models", handler(None, one=False), methods=["GET"]),
        Route("/v1/models/{model:path}", handler(None, one=True), methods=["GET"]),
        Route("/v1beta/models", handler("google", one=False), methods=["GET"]),
        Route("/v1beta/models/{model:path}", handler("google", one=True), methods=["GET"]),
    ]


async def not_served(request: Request, exc: Exception) -> Response:
    """A path (or method) the gateway does not serve: 404 (405) in the calling SDK's error shape."""
    status = getattr(exc, "status_code", 404)
    what = "Invalid URL" if status == 404 else "Method not allowed"
    error = GatewayError("not_allowed" if status == 405 else "not_found",
                         f"{what} ({request.method} {request.url.path}): the local provider serves the OpenAI, "
                         "Anthropic and Gemini endpoints its SDKs call (see GET /_workbench/info)")
    if request.url.path.startswith("/_workbench/"):
        return JSONResponse({"error": error.message}, status_code=status)
    protocol = PROTOCOLS[caller(request)]
    return JSONResponse(protocol.error_body(error), status_code=protocol.error_status(error))


# ------------------------------------------------------------------------------------------------
# The admin API (/_workbench/*; its one client is workbench.local.admin.Admin)
# ------------------------------------------------------------------------------------------------
#: Parsers of ``/_workbench/prompt?api=...``: the request-body kinds it accepts.
PROMPT_PARSERS: dict[str, Callable[[Core, dict[str, Any]], Awaitable[Exchange]]] = {
    "openai-chat": openai_chat.parse_chat,
    "openai-responses": openai_responses.parse_responses,
    "anthropic": lambda core, body: anthropic_messages.parse_messages(core, body, counting=True),
    "gemini": lambda core, body: gemini.parse_generate(core, str(body.get("model", "")), body, stream=False),
}


def admin_routes(core: Core) -> list[Route]:
    """``/_workbench/health``, ``/info``, ``/faults`` and ``/prompt``."""

    async def health(request: Request) -> Response:
        ok = await core.engines.healthy()
        stand_in = core.engines.client(core.engines.stand_in)
        return JSONResponse({"status": "ok" if ok else "engine unavailable", "model": core.model_name,
                             "stand_in": core.engines.stand_in, "engine": stand_in.url if stand_in else None},
                            status_code=200 if ok else 503)

    async def stand_in_facts() -> dict[str, Any]:
        """The stand-in engine's URL, ``props``, ``slots`` and slot context (None while it is stopped)."""
        engine = core.engines.client(core.engines.stand_in)
        if engine is None:
            return {"engine_url": None, "props": None, "slots": None, "slot_context": None}
        return {"engine_url": engine.url, "props": await engine.get("/props"), "slots": await engine.get("/slots"),
                "slot_context": await engine.slot_context()}

    async def info(request: Request) -> Response:
        return JSONResponse({"model": core.model_name, "stand_in": core.engines.stand_in, **await stand_in_facts(),
                             "engines": await core.engines.describe(),
                             "memory_budget": core.engines.memory_budget,
                             "faults": core.faults.state(), "default_seed": DEFAULT_SEED,
                             "default_max_tokens": "the model's output limit, at most the slot context",
                             "output_limits": core.limits, "known_models": {**core.known_models,
                                                                             "local": core.engines.ids},
                             "uptime_s": time.time() - core.started})

    async def faults_endpoint(request: Request) -> Response:
        if request.method == "DELETE":
            core.faults.configure(FaultConfig())
        elif request.method in ("PUT", "POST", "PATCH"):
            try:
                body = await read_json(request)
                if request.method == "PUT":
                    core.faults.configure(parse_faults(body))
                else:
                    core.faults.update(**body)
            except GatewayError as exc:
                return JSONResponse({"error": exc.message}, status_code=400)
            except FaultSettingError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(core.faults.state())

    async def prompt_endpoint(request: Request) -> Response:
        api = request.query_params.get("api", "openai-chat")
        if api not in PROMPT_PARSERS:
            return JSONResponse({"error": f"api: expected one of {', '.join(PROMPT_PARSERS)}, got {api!r}"},
                                status_code=400)
        try:
            exchange = await PROMPT_PARSERS[api](core, await read_json(request))
            prompt, tokens = await core.prompt(exchange.req)
            return JSONResponse({"prompt": prompt, "input_tokens": tokens,
                                 "answered_by": core.backend_name(exchange.req.model)})
        except GatewayError as exc:
            return JSONResponse({"error": exc.message, "param": exc.param}, status_code=exc.status)

    return [
        Route("/_workbench/health", health, methods=["GET"]),
        Route("/_workbench/info", info, methods=["GET"]),
        Route("/_workbench/faults", faults_endpoint, methods=["GET", "PUT", "POST", "PATCH", "DELETE"]),
        Route("/_workbench/prompt", prompt_endpoint, methods=["POST"]),
    ]


# ------------------------------------------------------------------------------------------------
# The app
# ------------------------------------------------------------------------------------------------
def _catalog_models() -> tuple[dict[str, list[str]], dict[str, int]]:
    """The catalog's model ids per provider, and each id's output limit (``max_output``, else its
    context window: no answer can be longer than that)."""
    import pandas as pd

    from workbench import catalog

    table = catalog.models()
    known = {p: sorted(table.loc[table["provider"] == p, "model_id"]) for p in ("openai", "anthropic", "google")}
    limits: dict[str, int] = {}
    for row in table.itertuples():
        for value in (row.max_output, row.context_window):
            if not pd.isna(value):
                limits[row.model_id] = int(value)
                break
    return known, limits


def create_app(engines: Engines, *, faults: FaultInjector | None = None) -> Any:
    """Build the gateway ASGI app in front of ``engines`` (one per local model id; the stand-in's
    answers the frontier ids: :class:`workbench.local.engines.EnginePool`).

    Routes: the OpenAI, Anthropic and Gemini endpoints plus ``GET /_workbench/health``,
    ``GET /_workbench/info``, ``GET|PUT|PATCH|DELETE /_workbench/faults`` and
    ``POST /_workbench/prompt?api=openai-chat|openai-responses|anthropic|gemini``, which returns the
    exact prompt text (media already turned into text) and its token count for a request body (for
    Gemini, put the model id in the body as ``"model"``).
    """
    known, limits = _catalog_models()
    core = Core(engines, faults=faults or FaultInjector(), known_models=known, limits=limits)
    routes = [*admin_routes(core), *batch_routes(core, protocol_endpoint), *openai_routes(core), *anthropic_routes(core),
              *gemini_routes(core), *model_routes(core)]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await core.close()

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={404: not_served, 405: not_served})
    app.state.core = core
    return BackendHeaderMiddleware(app, core.model_name)
