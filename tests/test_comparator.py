"""The comparator: one prompt to several models, through the three SDKs, errors kept per model."""
from __future__ import annotations

import json
import math

import httpx2
import openai
import pytest
from workbench import catalog, comparator, pricing
from workbench.params import ParameterError


def test_real_comparison_on_the_local_provider(local_provider):
    """The same prompt through the OpenAI, Anthropic and Gemini SDKs and a ladder model's own id."""
    models = ["smollm2-135m-instruct", "gpt-5.5", "claude-sonnet-4-6", "gemini-3.5-flash"]
    table = comparator.compare("Name one colour.", models, max_tokens=6, seed=1, concurrency=2,
                               cpu_cost_per_hour=0.5)
    assert list(table.columns) == comparator.COLUMNS
    assert list(table["model"]) == models
    assert list(table["provider"]) == ["openai", "openai", "anthropic", "google"]
    assert (table["error"] == "").all(), table["error"].tolist()
    assert table["answer"].str.len().gt(0).all()
    assert table["latency_s"].gt(0).all() and table["output_tokens"].between(1, 6).all()
    assert table["compute_s"].equals(table["latency_s"])
    assert table["cost_usd"].to_numpy() == pytest.approx(table["latency_s"].to_numpy() / 3600 * 0.5)
    # who really answered: the ladder model itself, and the stand-in for every frontier id
    assert table["answered_by"].str.contains("SmolLM2").all()


def test_unknown_model_is_one_error_naming_it():
    with pytest.raises(catalog.UnknownNameError, match="gpt-4.0") as err:
        comparator.compare("hi", ["gpt-4o", "gpt-4.0"])
    assert err.value.param == "models"


@pytest.mark.parametrize(("kw", "param"), [({"concurrency": 0}, "concurrency"), ({"max_tokens": -1}, "max_tokens"),
                                           ({"temperature": -0.1}, "temperature"), ({"prompt": ""}, "prompt"),
                                           ({"cpu_cost_per_hour": 0}, "cpu_cost_per_hour")])
def test_bad_parameters_are_named(kw, param):
    args = {"prompt": "hi", "models": ["gpt-4o"], **kw}
    with pytest.raises(ParameterError, match=f"^{param}:"):
        comparator.compare(args.pop("prompt"), args.pop("models"), **args)


def _client(handler) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-test-not-a-key", base_url="http://mock.test/v1", max_retries=0,
                         http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))


def test_a_failing_model_keeps_the_others_and_live_cost_is_priced():
    """Plumbing (fake server): gpt-4o-mini fails with a 500, gpt-4o answers and is priced at its list price."""
    def handler(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        if body["model"] == "gpt-4o-mini":
            return httpx2.Response(500, json={"error": {"message": "overloaded", "type": "server_error"}})
        return httpx2.Response(200, headers={"x-workbench-backend-model": "fake"}, json={
            "id": "c", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Blue"}}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200}})

    table = comparator.compare("Name one colour.", ["gpt-4o", "gpt-4o-mini"], backend="live", on="2026-11-01",
                               client_for=lambda m: ("openai", _client(handler)))
    ok, bad = table.iloc[0], table.iloc[1]
    assert ok["answer"] == "Blue" and ok["error"] == "" and (ok["input_tokens"], ok["output_tokens"]) == (1000, 200)
    expected = pricing.request_cost("gpt-4o", pricing.Usage(input_tokens=1000, output_tokens=200), "2026-11-01")
    assert ok["cost_usd"] == pytest.approx(expected) and expected > 0
    assert "2026-11-01" in ok["cost_basis"] and math.isnan(ok["compute_s"])
    assert bad["answer"] == "" and "InternalServerError" in bad["error"] and math.isnan(bad["cost_usd"])
