"""workbench.clients: the official SDK clients for the local (default) and live backends."""
from __future__ import annotations

import anthropic
import openai
import pytest
from google import genai
from workbench import catalog, clients

# Every warning the SDKs raise while parsing is an error. A socket left for the garbage collector by an
# earlier test is not the SDKs' parsing: it surfaces at a random later test, so it is not made an error.
pytestmark = [pytest.mark.filterwarnings("error"), pytest.mark.filterwarnings("ignore::ResourceWarning")]

KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")
BASES = ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "GOOGLE_GEMINI_BASE_URL")


@pytest.fixture
def no_keys(monkeypatch):
    for name in KEYS + BASES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_check_backend():
    assert clients.check_backend("local") == "local" and clients.BACKENDS == ("local", "live")
    with pytest.raises(catalog.UnknownNameError, match="backend: unknown backend 'lokal'.*'local'"):
        clients.check_backend("lokal")
    with pytest.raises(catalog.UnknownNameError, match="mode: unknown backend"):
        clients.check_backend(None, param="mode")
    with pytest.raises(catalog.UnknownNameError, match="backend"):
        clients.openai("staging")


def test_local_is_the_default_even_with_keys_set(local_provider, no_keys):
    for name in KEYS:
        no_keys.setenv(name, "sk-real-looking-secret")
    no_keys.setenv("OPENAI_BASE_URL", "https://api.openai.com/v1")
    oa, an, gm = clients.openai(), clients.anthropic(), clients.gemini()
    assert str(oa.base_url) == f"{local_provider.base_url}/v1/" and oa.api_key == clients.LOCAL_API_KEY
    assert str(an.base_url).rstrip("/") == local_provider.base_url and an.api_key == clients.LOCAL_API_KEY
    assert gm._api_client._http_options.base_url.rstrip("/") == local_provider.base_url
    assert gm._api_client._http_options.api_version == "v1beta"
    assert isinstance(oa, openai.OpenAI) and isinstance(an, anthropic.Anthropic) and isinstance(gm, genai.Client)
    assert isinstance(clients.openai(async_=True), openai.AsyncOpenAI)
    assert isinstance(clients.anthropic(async_=True), anthropic.AsyncAnthropic)
    # a real answer through each client, from the local model
    assert oa.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
                                      max_tokens=2).usage.completion_tokens >= 1


def test_live_names_the_missing_variable(no_keys):
    with pytest.raises(clients.MissingKeyError, match="OPENAI_API_KEY"):
        clients.openai("live")
    with pytest.raises(clients.MissingKeyError, match="ANTHROPIC_API_KEY"):
        clients.anthropic("live")
    with pytest.raises(clients.MissingKeyError, match="GEMINI_API_KEY or GOOGLE_API_KEY"):
        clients.gemini("live")


def test_live_reads_keys_and_base_urls_without_showing_keys(no_keys):
    secret = "sk-test-not-a-real-key-123"
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY"):
        no_keys.setenv(name, secret)
    no_keys.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    no_keys.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    no_keys.setenv("GOOGLE_GEMINI_BASE_URL", "http://127.0.0.1:9")
    oa, an, gm = clients.openai("live"), clients.anthropic("live"), clients.gemini("live")
    assert str(oa.base_url) == "http://127.0.0.1:9/v1/" and oa.api_key == secret
    assert str(an.base_url).rstrip("/") == "http://127.0.0.1:9" and an.api_key == secret
    assert gm._api_client._http_options.base_url.rstrip("/") == "http://127.0.0.1:9"
    assert gm._api_client.api_key == secret
    no_keys.delenv("OPENAI_BASE_URL")
    assert str(clients.openai("live").base_url).startswith("https://api.openai.com")
    no_keys.delenv("OPENAI_API_KEY")
    with pytest.raises(clients.MissingKeyError) as err:
        clients.openai("live")
    assert secret not in str(err.value)


def test_for_model_picks_the_provider_sdk(local_provider):
    provider, client = clients.for_model("claude-sonnet-4-6")
    assert provider == "anthropic" and isinstance(client, anthropic.Anthropic)
    with pytest.warns(catalog.LifecycleWarning):  # retired / deprecated ids warn offline (test_lifecycle.py)
        provider, client = clients.for_model("gemini-2.0-flash", async_=True)
    assert provider == "google" and client.__class__.__name__ == "AsyncClient"
    with pytest.warns(catalog.LifecycleWarning):
        provider, client = clients.for_model("gpt-4o", async_=True)
    assert provider == "openai" and isinstance(client, openai.AsyncOpenAI)
    provider, client = clients.for_model("smollm2-135m-instruct")
    assert provider == "openai"
    reply = client.chat.completions.create(model="smollm2-135m-instruct", max_tokens=2,
                                           messages=[{"role": "user", "content": "hi"}])
    assert reply.model == "smollm2-135m-instruct"
    with pytest.raises(catalog.UnknownNameError, match="model_id: unknown model 'gpt-9'"):
        clients.for_model("gpt-9")
    with pytest.raises(catalog.UnknownNameError, match="model_id: unknown model with an SDK client 'llama-3.1-8b'"):
        clients.for_model("llama-3.1-8b")


def test_local_model_name():
    assert clients.local_model_name().startswith("SmolLM2-135M-Instruct")
