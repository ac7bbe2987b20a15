"""The response cache: canonical keys, the strict TTL edge, statistics; one real workload on the local provider.

The TTL and key tests send requests through the real ``openai`` SDK over an ``httpx2.MockTransport`` that counts
the requests reaching the server (plumbing only: what is measured there is how often the cache lets a call
through); the last test runs a real workload against the local provider.
"""
from __future__ import annotations

import json
import math

import httpx2
import openai
import pytest
from workbench import clients, response_cache
from workbench.params import ParameterError


class Clock:
    """A clock the test steps by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _reply(n: int) -> dict:
    return {"id": f"c{n}", "object": "chat.completion", "created": 0, "model": "gpt-4o",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": f"answer {n}"}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}


@pytest.fixture()
def server():
    """An OpenAI client whose server counts requests and numbers its answers."""
    seen: list[dict] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(json.loads(request.content))
        return httpx2.Response(200, json=_reply(len(seen)))

    client = openai.OpenAI(api_key="sk-test-not-a-key", base_url="http://mock.test/v1",
                           http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))
    return client, seen


def _ask(cache, client, text="Capital of France?", **extra):
    return cache.call(client.chat.completions.create, model="gpt-4o", max_completion_tokens=16,
                      messages=[{"role": "user", "content": text}], **extra)


@pytest.mark.parametrize("ttl", [0, -1, -0.5, float("nan"), "600", None])
def test_ttl_must_be_positive(ttl):
    with pytest.raises(ParameterError, match="^ttl:"):
        response_cache.ResponseCache(ttl)


def test_entry_served_before_ttl_and_expired_exactly_at_ttl(server):
    client, seen = server
    clock = Clock()
    cache = response_cache.ResponseCache(ttl=60, clock=clock)
    first = _ask(cache, client)
    clock.now += 59.999
    assert _ask(cache, client) is first and len(seen) == 1          # age < ttl: served
    clock.now += 0.001                                               # age == ttl: expired
    again = _ask(cache, client)
    assert len(seen) == 2 and again.choices[0].message.content == "answer 2"
    clock.now += 60.5                                                # past ttl: expired again
    _ask(cache, client)
    assert len(seen) == 3
    s = cache.stats()
    assert (s.lookups, s.hits, s.misses, s.expired) == (4, 1, 3, 2)
    assert s.hit_rate == pytest.approx(0.25)
    assert list(cache.events()["outcome"]) == ["miss", "hit", "expired", "expired"]
    assert cache.events()["age_s"].iloc[2] == pytest.approx(60.0)


def test_ttl_counts_from_when_the_answer_was_stored(server):
    """The entry's age starts when its reply arrived, not when the request was sent."""
    client, seen = server
    clock = Clock()
    slow = client.chat.completions.create

    def slow_create(**kw):
        reply = slow(**kw)
        clock.now += 30          # the call took 30 s on the cache's clock
        return reply
    cache = response_cache.ResponseCache(ttl=40, clock=clock)
    cache.call(slow_create, model="gpt-4o", messages=[{"role": "user", "content": "q"}])
    clock.now += 39
    cache.call(slow_create, model="gpt-4o", messages=[{"role": "user", "content": "q"}])
    assert len(seen) == 1


def test_key_ignores_order_layout_and_edge_whitespace_but_not_content(server):
    client, seen = server
    cache = response_cache.ResponseCache(ttl=600)
    create = client.chat.completions.create
    cache.call(create, model="gpt-4o", temperature=0, messages=[{"role": "user", "content": "Hi there"}])
    # same request: other keyword order, key order inside the message, float 0.0, edge whitespace, CRLF
    cache.call(create, messages=[{"content": "  Hi there\r\n", "role": "user"}], temperature=0.0, model="gpt-4o")
    assert len(seen) == 1
    # settings that do not change the answer are not in the key
    cache.call(create, model="gpt-4o", temperature=0, messages=[{"role": "user", "content": "Hi there"}],
               timeout=5, extra_headers={"x-trace": "1"}, user="someone")
    assert len(seen) == 1
    # anything that changes the answer is
    for change in ({"temperature": 0.7}, {"model": "gpt-4o-mini"}, {"max_completion_tokens": 9}, {"seed": 3}):
        request = {"model": "gpt-4o", "temperature": 0,
                   "messages": [{"role": "user", "content": "Hi there"}], **change}
        cache.call(create, **request)
    cache.call(create, model="gpt-4o", temperature=0, messages=[{"role": "user", "content": "Hi  there"}])
    assert len(seen) == 6
    assert cache.stats().hits == 2


def test_key_names_provider_endpoint_and_server_never_the_key(server):
    client, _ = server
    other = openai.OpenAI(api_key="sk-another-key-entirely", base_url="http://mock.test/v1")
    elsewhere = openai.OpenAI(api_key="sk-test-not-a-key", base_url="http://other.test/v1")
    kw = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}
    text = response_cache.canonical_request(client.chat.completions.create, kw)
    assert '"provider":"openai"' in text and "mock.test" in text and "Completions.create" in text
    assert "sk-" not in text
    key = response_cache.request_key(client.chat.completions.create, kw)
    assert key == response_cache.request_key(other.chat.completions.create, kw)       # a different key: same entry
    assert key != response_cache.request_key(elsewhere.chat.completions.create, kw)   # a different server
    assert key != response_cache.request_key(client.responses.create, kw)             # a different endpoint


def test_stream_refused_and_failures_store_nothing(server):
    client, seen = server
    cache = response_cache.ResponseCache(ttl=60)
    with pytest.raises(ParameterError, match="^stream:"):
        _ask(cache, client, stream=True)
    assert not seen                     # refused before anything was sent

    def broken(**kw):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        cache.call(broken, model="m")
    assert len(cache) == 0 and cache.stats().misses == 1 and cache.events()["failed"].iloc[0]


def test_time_and_tokens_saved_are_the_replaced_calls_measured_cost(server):
    client, _ = server
    cache = response_cache.ResponseCache(ttl=600)
    _ask(cache, client)
    for _ in range(3):
        _ask(cache, client)
    s = cache.stats()
    first = cache.events()["seconds"].iloc[0]
    assert first > 0 and s.time_saved_s == pytest.approx(3 * first)
    assert s.tokens_saved == 3 * 15 and s.time_spent_s == pytest.approx(first)


def test_max_entries_evicts_least_recently_used(server):
    client, seen = server
    cache = response_cache.ResponseCache(ttl=600, max_entries=2)
    for text in ("a", "b", "a", "c", "a", "b"):
        _ask(cache, client, text)
    assert len(seen) == 4     # a, b, c, then b again (evicted by c); a stayed in use
    with pytest.raises(ParameterError, match="^max_entries:"):
        response_cache.ResponseCache(ttl=1, max_entries=0)


def test_stats_before_any_lookup():
    s = response_cache.ResponseCache(ttl=1).stats()
    assert s.lookups == 0 and math.isnan(s.hit_rate)


def test_real_workload_on_the_local_provider(local_provider):
    """Six questions, two of them asked three times: 4 calls reach the model, 4 are served from the cache."""
    client = clients.openai("local")
    cache = response_cache.ResponseCache(ttl=600)
    questions = ["Name a colour.", "Name a fruit.", "Name a colour.", "Name a city.", "Name a colour.",
                 "Name a fruit.", "Name a planet.", "Name a fruit."]
    replies = [cache.call(client.chat.completions.create, model="smollm2-135m-instruct", max_completion_tokens=4,
                          temperature=0, seed=1, messages=[{"role": "user", "content": q}]) for q in questions]
    s = cache.stats()
    assert (s.hits, s.misses) == (4, 4)
    assert replies[0] is replies[2] is replies[4]
    assert s.time_saved_s > 0 and s.tokens_saved > 0


def test_key_reads_each_sdks_provider_and_server():
    import anthropic
    from google import genai
    from google.genai import types

    an = anthropic.Anthropic(api_key="sk-ant-test-not-a-key", base_url="http://mock.test")
    gm = genai.Client(api_key="AIza-test-not-a-key-000000000", http_options={"base_url": "http://gm.test"})
    text = response_cache.canonical_request(an.messages.create, {"model": "claude-sonnet-4-6", "max_tokens": 8,
                                                                 "messages": [{"role": "user", "content": "x"}]})
    assert '"provider":"anthropic"' in text and "mock.test" in text and "sk-ant" not in text
    config = types.GenerateContentConfig(max_output_tokens=8, http_options=types.HttpOptions(timeout=5000))
    text = response_cache.canonical_request(gm.models.generate_content,
                                            {"model": "gemini-3.5-flash", "contents": "x", "config": config})
    assert '"provider":"google"' in text and "gm.test" in text and "AIza" not in text
    assert '"max_output_tokens":8' in text and "timeout" not in text     # http_options left out of the key
