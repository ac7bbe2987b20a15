"""Official SDK clients for a backend: ``"local"`` (default, offline) or ``"live"`` (keys from the environment).

Every notebook and the benchmark runner talk to models through these functions, so the very same SDK
code runs against the offline local provider or the real APIs::

    from workbench import clients
    oa = clients.openai()                      # openai.OpenAI talking to the local provider
    provider, client = clients.for_model("claude-sonnet-4-6", backend="local")

``local`` is ALWAYS the default, even when API keys are set. It starts the local provider on demand
(one per process, stopped at exit; :func:`workbench.local.default_provider`) and gives the SDKs a dummy
key. If ``WORKBENCH_LOCAL_URL`` is set (e.g. ``http://127.0.0.1:8787`` while ``make serve`` runs),
that running provider is used instead of starting one.

``live`` reads ``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``, ``GEMINI_API_KEY`` (or ``GOOGLE_API_KEY``)
and honours ``OPENAI_BASE_URL``, ``ANTHROPIC_BASE_URL`` and ``GOOGLE_GEMINI_BASE_URL``. Keys are passed
to the SDKs and nowhere else: never printed, logged or written.

``transport=`` (async clients only) gives the SDK an ``httpx2.AsyncClient`` over that transport (the
HTTP stack all three SDKs speak natively); the benchmark runner passes a recording transport
(:class:`workbench.evals.recording.RecordingTransport`) to write run archives. A client given a transport
ignores proxy environment variables (the transport does the sending).
"""
from __future__ import annotations

import os
from typing import Any, Literal

from . import catalog

__all__ = [
    "BACKENDS",
    "LOCAL_API_KEY",
    "MissingKeyError",
    "anthropic",
    "check_backend",
    "for_model",
    "gemini",
    "local_base_url",
    "local_model_name",
    "openai",
]

#: The two backends: the offline local provider, or the providers' real APIs.
BACKENDS: tuple[str, str] = ("local", "live")
#: The dummy key given to the SDKs for the local provider (it checks no key).
LOCAL_API_KEY = "local-no-key-needed"
#: The SDK providers (catalog provider names) this module builds clients for.
SDK_PROVIDERS: tuple[str, ...] = ("openai", "anthropic", "google")

Backend = Literal["local", "live"]


class MissingKeyError(RuntimeError):
    """The live backend needs an API key that the environment does not provide."""


def check_backend(value: Any, param: str = "backend") -> str:
    """Return ``value`` if it is a backend name ("local" or "live"); else raise ``UnknownNameError``."""
    if not isinstance(value, str):
        raise catalog.UnknownNameError(param, value, "backend", BACKENDS)
    return catalog.check_names([value], BACKENDS, param=param, kind="backend")[0]


def local_base_url() -> str:
    """Base URL (``http://127.0.0.1:PORT``) of the local provider, starting it if needed."""
    url = os.environ.get("WORKBENCH_LOCAL_URL")
    if url:
        return url.rstrip("/")
    from .local import default_provider

    provider = default_provider()
    assert provider.base_url is not None
    return provider.base_url


def local_model_name() -> str:
    """The real model that answers the frontier ids (GPT, Claude, Gemini) on the local backend: the local
    provider's stand-in (the open models' own ids are answered by their own engines).

    Asked of the provider at ``WORKBENCH_LOCAL_URL`` or this process's running one; with neither, the
    configured stand-in. Never starts a provider.
    """
    from .local import stand_in_name

    return stand_in_name(os.environ.get("WORKBENCH_LOCAL_URL"))


def _key(*names: str) -> str:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    raise MissingKeyError(
        f"backend 'live' needs the environment variable {' or '.join(names)} (not set); "
        "set it, or use backend='local' for the offline provider"
    )


def _check_transport(transport: Any, async_: bool) -> None:
    """Raise ValueError naming ``transport`` unless it is an ``httpx2`` async transport for an async client."""
    import httpx2

    if not async_:
        raise ValueError("transport: a transport is only supported for async clients (async_=True)")
    if not isinstance(transport, httpx2.AsyncBaseTransport):
        raise TypeError(f"transport: expected an httpx2.AsyncBaseTransport, got {type(transport).__name__}")


def _http_client(transport: Any, async_: bool) -> Any:
    """An ``httpx2.AsyncClient`` over ``transport`` with the SDKs' own default time-outs."""
    import httpx2

    _check_transport(transport, async_)
    return httpx2.AsyncClient(transport=transport, timeout=httpx2.Timeout(600.0, connect=5.0),
                              follow_redirects=True)


def openai(backend: str = "local", *, async_: bool = False, transport: Any = None, **kwargs: Any) -> Any:
    """An ``openai.OpenAI`` (or ``AsyncOpenAI`` with ``async_=True``) client for ``backend``.

    Extra keyword arguments (``timeout``, ``max_retries`` ...) go to the SDK constructor; ``transport``
    (async only) is the ``httpx2`` transport its HTTP client uses.
    """
    import openai as sdk

    backend = check_backend(backend)
    if transport is not None:
        kwargs["http_client"] = _http_client(transport, async_)
    cls = sdk.AsyncOpenAI if async_ else sdk.OpenAI
    if backend == "local":
        return cls(api_key=LOCAL_API_KEY, base_url=local_base_url() + "/v1", **kwargs)
    base = os.environ.get("OPENAI_BASE_URL") or None
    return cls(api_key=_key("OPENAI_API_KEY"), base_url=base, **kwargs)


def anthropic(backend: str = "local", *, async_: bool = False, transport: Any = None, **kwargs: Any) -> Any:
    """An ``anthropic.Anthropic`` (or ``AsyncAnthropic``) client for ``backend``.

    Extra keyword arguments (``timeout``, ``max_retries`` ...) go to the SDK constructor; ``transport``
    (async only) is the ``httpx2`` transport its HTTP client uses.
    """
    import anthropic as sdk

    backend = check_backend(backend)
    if transport is not None:
        kwargs["http_client"] = _http_client(transport, async_)
    cls = sdk.AsyncAnthropic if async_ else sdk.Anthropic
    if backend == "local":
        return cls(api_key=LOCAL_API_KEY, base_url=local_base_url(), **kwargs)
    base = os.environ.get("ANTHROPIC_BASE_URL") or None
    return cls(api_key=_key("ANTHROPIC_API_KEY"), base_url=base, **kwargs)


def gemini(backend: str = "local", *, transport: Any = None, **http_options: Any) -> Any:
    """A ``google.genai.Client`` for ``backend`` (its ``.aio`` attribute is the async client).

    Extra keyword arguments become ``http_options`` (e.g. ``timeout`` in milliseconds); ``transport`` is
    the ``httpx2`` transport of its async client (``http_options.async_client_args``). Keep a
    reference to the client while using it: google-genai closes its connection pool when the
    ``Client`` object is garbage-collected (``clients.gemini().models.generate_content(...)`` fails).
    """
    from google import genai

    backend = check_backend(backend)
    if transport is not None:
        _check_transport(transport, True)
        http_options["async_client_args"] = {**http_options.get("async_client_args", {}), "transport": transport}
    if backend == "local":
        opts = {"base_url": local_base_url(), "api_version": "v1beta", **http_options}
        return genai.Client(api_key=LOCAL_API_KEY, vertexai=False, http_options=opts)
    key = _key("GEMINI_API_KEY", "GOOGLE_API_KEY")
    base = os.environ.get("GOOGLE_GEMINI_BASE_URL")
    opts = {**({"base_url": base} if base else {}), **http_options}
    return genai.Client(api_key=key, vertexai=False, http_options=opts or None)


def _sdk_models() -> list[str]:
    table = catalog.models()
    return list(table.loc[table["provider"].isin(SDK_PROVIDERS), "model_id"])


def for_model(model_id: str, backend: str = "local", *, async_: bool = False,
              transport: Any = None, allow_retired: bool = False) -> tuple[str, Any]:
    """``(provider, client)`` for a catalog model id: the official SDK client of its provider.

    ``transport`` (async only): the ``httpx2`` transport the client sends through (see the module notes).
    The id is judged by :func:`workbench.catalog.check_usable` first: a retired id stops a ``live`` run
    (:class:`~workbench.catalog.RetiredModelError` naming its replacement) unless ``allow_retired=True``; a
    retired id on ``local``, or a deprecated one, gives a :class:`~workbench.catalog.LifecycleWarning`.

    Raises:
        UnknownNameError: ``model_id`` is not in the catalog, or its provider has no SDK client here
            (open-weight models such as Llama are reached through the local provider's own id).
        RetiredModelError: a retired id on the live backend without ``allow_retired``.
    """
    catalog.check_models([model_id], param="model_id")
    backend = check_backend(backend)
    provider = catalog.provider_of(model_id)
    if model_id in catalog.local_models():
        if backend != "local":
            raise catalog.UnknownNameError("model_id", model_id, f"model on the {backend} backend",
                                           _sdk_models())
        provider = "openai"  # an open model of the local ladder: served on every protocol; use the OpenAI one
    if provider not in SDK_PROVIDERS:
        valid = _sdk_models() + (catalog.local_models() if backend == "local" else [])
        raise catalog.UnknownNameError("model_id", model_id, "model with an SDK client", valid)
    if transport is not None:
        _check_transport(transport, async_)
    catalog.check_usable(model_id, backend, allow_retired=allow_retired, stacklevel=2)
    if provider == "openai":
        return provider, openai(backend, async_=async_, transport=transport)
    if provider == "anthropic":
        return provider, anthropic(backend, async_=async_, transport=transport)
    client = gemini(backend, transport=transport)
    return provider, (client.aio if async_ else client)
