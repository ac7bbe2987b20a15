"""Extract → write → check: a real chain on the local provider (three SDKs), and the plumbing on a fake server."""
from __future__ import annotations

import json

import httpx2
import openai
import pytest
from workbench import catalog, ensemble
from workbench.params import ParameterError

SOURCE = "Invoice 1042 from Acme Ltd is dated 3 March 2026. The total is 1,250 EUR. It was paid on 20 March 2026."
QUESTION = "What is the total of invoice 1042?"


def test_real_chain_through_three_sdks_on_the_local_provider(local_provider):
    """Extract with the OpenAI SDK, write with Anthropic's, check with Gemini's (SmolLM2 answers all three here:
    quality is not the point, the JSON steps and the hand-over are)."""
    result = ensemble.run(SOURCE, QUESTION, extractor="smollm2-135m-instruct", writer="claude-sonnet-4-6",
                          checker="gemini-3.5-flash", max_tokens=120, max_facts=3, seed=1)
    table = result.table()
    assert list(table["step"]) == ["extract", "write", "check"], table.to_dict("records")
    assert (table["error"] == "").all()
    assert 1 <= len(result.facts) <= 3 and all(result.facts)
    assert result.answer and result.verdict in ensemble.VERDICTS
    assert table["seconds"].gt(0).all() and result.seconds == pytest.approx(table["seconds"].sum())
    assert table["answered_by"].str.contains("SmolLM2").all()
    assert json.loads(table["output"].iloc[0])["facts"] == list(result.facts)


def test_unknown_model_names_the_step():
    with pytest.raises(catalog.UnknownNameError, match="gpt-9") as err:
        ensemble.run(SOURCE, QUESTION, extractor="gpt-4o", writer="gpt-9", checker="gpt-4o")
    assert err.value.param == "writer"


@pytest.mark.parametrize(("kw", "param"), [({"source": " "}, "source"), ({"question": ""}, "question"),
                                           ({"max_facts": 0}, "max_facts"), ({"max_tokens": 0}, "max_tokens")])
def test_bad_parameters_are_named(kw, param):
    args = {"source": SOURCE, "question": QUESTION, **kw}
    with pytest.raises(ParameterError, match=f"^{param}:"):
        ensemble.run(args.pop("source"), args.pop("question"), extractor="gpt-4o", writer="gpt-4o",
                     checker="gpt-4o", **args)


def _fake(replies: dict[str, str], seen: list[dict]):
    """Plumbing: a fake OpenAI server answering each model with a fixed text, recording the requests."""
    def handler(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        seen.append(body)
        return httpx2.Response(200, json={
            "id": "c", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": replies[body["model"]]}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}})

    client = openai.OpenAI(api_key="sk-test-not-a-key", base_url="http://mock.test/v1", max_retries=0,
                           http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))
    return lambda model: ("openai", client)


def test_hand_over_between_steps():
    """The writer sees only the extracted facts, not the source; the checker sees the source and the answer."""
    seen: list[dict] = []
    replies = {"gpt-4o-mini": json.dumps({"facts": ["The total is 1,250 EUR."]}), "gpt-4o": "It is 1,250 EUR.",
               "gpt-5.5": json.dumps({"verdict": "supported", "reason": "stated"})}
    result = ensemble.run(SOURCE, QUESTION, extractor="gpt-4o-mini", writer="gpt-4o", checker="gpt-5.5",
                          client_for=_fake(replies, seen))
    extract, write, check = seen
    assert extract["response_format"]["type"] == "json_schema" and SOURCE in extract["messages"][-1]["content"]
    assert "response_format" not in write and SOURCE not in write["messages"][-1]["content"]
    assert "- The total is 1,250 EUR." in write["messages"][-1]["content"]
    assert SOURCE in check["messages"][-1]["content"] and "Answer: It is 1,250 EUR." in check["messages"][-1]["content"]
    assert check["response_format"]["json_schema"]["schema"] == ensemble.CHECK_SCHEMA
    assert (result.facts, result.answer, result.verdict, result.reason) == (
        ("The total is 1,250 EUR.",), "It is 1,250 EUR.", "supported", "stated")


def test_a_broken_step_ends_the_chain_with_its_reason():
    seen: list[dict] = []
    result = ensemble.run(SOURCE, QUESTION, extractor="gpt-4o-mini", writer="gpt-4o", checker="gpt-5.5",
                          client_for=_fake({"gpt-4o-mini": "{not json"}, seen))
    assert len(seen) == 1 and result.verdict == "no verdict" and "not JSON" in result.reason
    assert list(result.table()["step"]) == ["extract"]
    seen.clear()
    replies = {"gpt-4o-mini": json.dumps({"facts": ["x"]}), "gpt-4o": "y",
               "gpt-5.5": json.dumps({"verdict": "maybe", "reason": ""})}
    result = ensemble.run(SOURCE, QUESTION, extractor="gpt-4o-mini", writer="gpt-4o", checker="gpt-5.5",
                          client_for=_fake(replies, seen))
    assert len(seen) == 3 and result.verdict == "no verdict" and "no verdict" in result.reason
    assert result.answer == "y"
