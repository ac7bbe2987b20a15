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
    """The real model behind the local backend (it answers for every catalog model id)."""
    from .local import MODEL_NAME

    return MODEL_NAME


def _key(*names: str) -> str:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    raise MissingKeyError(
        f"backend 'live' needs the environment variable {' or '.join(names)} (not set); "
        "set it, or use backend='local' for the offline provider"
    )


def openai(backend: str = "local", *, async_: bool = False, **kwargs: Any) -> Any:
    """An ``openai.OpenAI`` (or ``AsyncOpenAI`` with ``async_=True``) client for ``backend``.

    Extra keyword arguments (``timeout``, ``max_retries`` ...) go to the SDK constructor.
    """
    import openai as sdk

    backend = check_backend(backend)
    cls = sdk.AsyncOpenAI if async_ else sdk.OpenAI
    if backend == "local":
        return cls(api_key=LOCAL_API_KEY, base_url=local_base_url() + "/v1", **kwargs)
    base = os.environ.get("OPENAI_BASE_URL") or None
    return cls(api_key=_key("OPENAI_API_KEY"), base_url=base, **kwargs)


def anthropic(backend: str = "local", *, async_: bool = False, **kwargs: Any) -> Any:
    """An ``anthropic.Anthropic`` (or ``AsyncAnthropic``) client for ``backend``.

    Extra keyword arguments (``timeout``, ``max_retries`` ...) go to the SDK constructor.
    """
    import anthropic as sdk

    backend = check_backend(backend)
    cls = sdk.AsyncAnthropic if async_ else sdk.Anthropic
    if backend == "local":
        return cls(api_key=LOCAL_API_KEY, base_url=local_base_url(), **kwargs)
    base = os.environ.get("ANTHROPIC_BASE_URL") or None
    return cls(api_key=_key("ANTHROPIC_API_KEY"), base_url=base, **kwargs)


def gemini(backend: str = "local", **http_options: Any) -> Any:
    """A ``google.genai.Client`` for ``backend`` (its ``.aio`` attribute is the async client).

    Extra keyword arguments become ``http_options`` (e.g. ``timeout`` in milliseconds). Keep a
    reference to the client while using it: google-genai closes its connection pool when the
    ``Client`` object is garbage-collected (``clients.gemini().models.generate_content(...)`` fails).
    """
    from google import genai

    backend = check_backend(backend)
    if backend == "local":
        opts = {"base_url": local_base_url(), "api_version": "v1beta", **http_options}
        return genai.Client(api_key=LOCAL_API_KEY, vertexai=False, http_options=opts)
    key = _key("GEMINI_API_KEY", "GOOGLE_API_KEY")
    base = os.environ.get("GOOGLE_GEMINI_BASE_URL")
    opts = {**({"base_url": base} if base else {}), **http_options}
    return genai.Client(api_key=key, vertexai=False, http_options=opts or None)


def for_model(model_id: str, backend: str = "local", *, async_: bool = False) -> tuple[str, Any]:
    """``(provider, client)`` for a catalog model id: the official SDK client of its provider.

    Raises:
        UnknownNameError: ``model_id`` is not in the catalog, or its provider has no SDK client here
            (open-weight models such as Llama are reached through the local provider's own id).
    """
    catalog.check_models([model_id], param="model_id")
    provider = catalog.provider_of(model_id)
    if provider == "huggingface" and backend == "local":
        provider = "openai"  # the local model itself: served on every protocol; use the OpenAI one
    if provider not in SDK_PROVIDERS:
        valid = catalog.models()
        valid = valid.loc[valid["provider"].isin(SDK_PROVIDERS), "model_id"]
        raise catalog.UnknownNameError("model_id", model_id, "model with an SDK client", valid)
    if provider == "openai":
        return provider, openai(backend, async_=async_)
    if provider == "anthropic":
        return provider, anthropic(backend, async_=async_)
    client = gemini(backend)
    return provider, (client.aio if async_ else client)
