"""The local gateway's OpenAI protocol, exercised through the official ``openai`` SDK (no mocks)."""
from __future__ import annotations

import asyncio
import base64
import io
import json

import httpx
import jsonschema
import openai
import pytest
from PIL import Image, ImageDraw
from pydantic import BaseModel
from workbench import clients

# Any warning (e.g. an SDK failing to parse a field) fails these tests.
# Every warning the SDKs raise while parsing is an error. A socket left for the garbage collector by an
# earlier test is not the SDKs' parsing: it surfaces at a random later test, so it is not made an error.
pytestmark = [pytest.mark.filterwarnings("error"), pytest.mark.filterwarnings("ignore::ResourceWarning")]

MODEL = "gpt-4o"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                        "unit": {"type": "string", "enum": ["C", "F"]}},
                       "required": ["city", "unit"]},
    },
}
TIME = {"type": "function", "function": {"name": "get_time", "description": "Current time in a time zone",
                                         "parameters": {"type": "object", "properties": {"tz": {"type": "string"}},
                                                        "required": ["tz"]}}}


@pytest.fixture(scope="module")
def oa(local_provider) -> openai.OpenAI:
    return clients.openai(max_retries=0)


def png_with_text(text: str, size: tuple[int, int] = (320, 80)) -> bytes:
    img = Image.new("RGB", size, "white")
    ImageDraw.Draw(img).text((10, 25), text, fill="black", font_size=28)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def ask(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def test_chat_completion_answers_with_usage_and_backend_header(oa, local_provider):
    raw = oa.chat.completions.with_raw_response.create(
        model=MODEL, messages=ask("What is the capital of France?"), max_tokens=20, temperature=0)
    r = raw.parse()
    assert raw.headers["x-workbench-backend-model"] == local_provider.model_name
    assert r.model == MODEL and r.object == "chat.completion"
    assert r.choices[0].message.role == "assistant" and r.choices[0].message.content.strip()
    assert r.choices[0].finish_reason in ("stop", "length")
    assert r.usage.prompt_tokens > 5 and 0 < r.usage.completion_tokens <= 20
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert r.model_extra["backend_model"] == local_provider.model_name


def test_temperature_zero_is_deterministic_and_max_tokens_gives_length(oa):
    kw = {"model": MODEL, "messages": ask("Write a long story about a dragon."), "max_tokens": 12, "temperature": 0}
    a, b = oa.chat.completions.create(**kw), oa.chat.completions.create(**kw)
    assert a.choices[0].message.content == b.choices[0].message.content
    assert a.choices[0].finish_reason == "length" and a.usage.completion_tokens == 12
    c = oa.chat.completions.create(**{**kw, "temperature": 1.0, "seed": 7})
    d = oa.chat.completions.create(**{**kw, "temperature": 1.0, "seed": 7})
    assert c.choices[0].message.content == d.choices[0].message.content


def test_stream_with_usage_matches_non_stream(oa):
    kw = {"model": MODEL, "messages": ask("Name a color."), "max_tokens": 15, "temperature": 0}
    full = oa.chat.completions.create(**kw)
    chunks = list(oa.chat.completions.create(**kw, stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == full.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == full.choices[0].finish_reason
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == full.usage.completion_tokens
    assert chunks[-1].usage.prompt_tokens == full.usage.prompt_tokens
    plain = list(oa.chat.completions.create(**kw, stream=True))
    assert all(c.usage is None for c in plain)


def test_stream_helper_and_async_client(oa):
    # the helper refuses a completion cut by max_tokens (LengthFinishReasonError): leave room to finish
    with oa.chat.completions.stream(model=MODEL, messages=ask("Say hello."), max_tokens=200, temperature=0) as s:
        deltas = [e.delta for e in s if e.type == "content.delta"]
        final = s.get_final_completion()
    assert "".join(deltas) == final.choices[0].message.content

    async def run() -> tuple[str, list[str]]:
        aoa = clients.openai(async_=True, max_retries=0)
        r = await aoa.chat.completions.create(model=MODEL, messages=ask("Say hello."), max_tokens=200, temperature=0)
        stream = await aoa.chat.completions.create(model=MODEL, messages=ask("Say hello."), max_tokens=200,
                                                   temperature=0, stream=True)
        parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
        await aoa.close()
        return r.choices[0].message.content, parts

    text, parts = asyncio.run(run())
    assert text == "".join(parts) == final.choices[0].message.content


class Capital(BaseModel):
    country: str
    capital: str


def test_parse_with_json_schema_and_json_object(oa):
    r = oa.chat.completions.parse(model=MODEL, messages=ask("What is the capital of France? Answer in JSON."),
                                  response_format=Capital, max_tokens=60, temperature=0)
    parsed = r.choices[0].message.parsed
    assert isinstance(parsed, Capital) and parsed.capital
    j = oa.chat.completions.create(model=MODEL, messages=ask("Give a JSON object with a key 'answer'."),
                                   response_format={"type": "json_object"}, max_tokens=40, temperature=0)
    if j.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(j.choices[0].message.content), dict)
    else:  # cut by max_tokens: still a JSON prefix that starts an object
        assert j.choices[0].message.content.lstrip().startswith("{")


def test_tool_choice_required_and_named_give_valid_calls(oa):
    schema = WEATHER["function"]["parameters"]
    r = oa.chat.completions.create(model=MODEL, messages=ask("What's the weather in Oslo?"), tools=[WEATHER, TIME],
                                   tool_choice="required", max_tokens=50, temperature=0)
    msg = r.choices[0].message
    assert r.choices[0].finish_reason == "tool_calls" and msg.content is None
    call = msg.tool_calls[0]
    assert call.type == "function" and call.function.name in ("get_weather", "get_time") and call.id
    if call.function.name == "get_weather":
        jsonschema.validate(json.loads(call.function.arguments), schema)
    named = oa.chat.completions.create(model=MODEL, messages=ask("What time is it in Tokyo?"), tools=[WEATHER, TIME],
                                       tool_choice={"type": "function", "function": {"name": "get_time"}},
                                       max_tokens=50, temperature=0)
    ncall = named.choices[0].message.tool_calls[0]
    assert ncall.function.name == "get_time"
    assert set(json.loads(ncall.function.arguments)) == {"tz"}
    # the conversation continues with the tool result
    follow = oa.chat.completions.create(
        model=MODEL, max_tokens=20, temperature=0, tools=[WEATHER, TIME], tool_choice="none",
        messages=ask("What time is it in Tokyo?") + [named.choices[0].message.model_dump(exclude_none=True),
                                                      {"role": "tool", "tool_call_id": ncall.id, "content": "09:30"}])
    assert follow.choices[0].finish_reason in ("stop", "length") and follow.choices[0].message.content


def test_tool_choice_auto_and_streamed_tool_call(oa):
    r = oa.chat.completions.create(model=MODEL, messages=ask("What's the weather in Paris in C?"), tools=[WEATHER],
                                   tool_choice="auto", max_tokens=30, temperature=0)
    msg = r.choices[0].message
    if msg.tool_calls:  # the model chose to call: the call must be valid
        assert r.choices[0].finish_reason == "tool_calls"
        jsonschema.validate(json.loads(msg.tool_calls[0].function.arguments), WEATHER["function"]["parameters"])
    else:
        assert r.choices[0].finish_reason in ("stop", "length") and msg.content
    with oa.chat.completions.stream(model=MODEL, messages=ask("Weather in Rome?"), tools=[WEATHER],
                                    tool_choice="required", max_tokens=50, temperature=0) as s:
        final = s.get_final_completion()
    call = final.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    jsonschema.validate(json.loads(call.function.arguments), WEATHER["function"]["parameters"])


def test_image_data_url_is_read_and_https_url_is_refused(oa, local_provider):
    url = "data:image/png;base64," + base64.b64encode(png_with_text("INVOICE 4711")).decode()
    text_only = oa.chat.completions.create(model=MODEL, messages=ask("Read this."), max_tokens=1)
    with_image = oa.chat.completions.create(model=MODEL, max_tokens=1, messages=[{"role": "user", "content": [
        {"type": "text", "text": "Read this."}, {"type": "image_url", "image_url": {"url": url}}]}])
    # the image became marked text in the prompt: "[image 1: 320x80 PNG ... INVOICE 4711]"
    assert with_image.usage.prompt_tokens > text_only.usage.prompt_tokens + 8
    seen = local_provider.prompt({"model": MODEL, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "Read this."}, {"type": "image_url", "image_url": {"url": url}}]}]})
    assert "Read this.\n[image 1: Image: PNG, 320x80 px" in seen["prompt"] and "4711" in seen["prompt"]
    assert seen["input_tokens"] == with_image.usage.prompt_tokens  # the same prompt the engine evaluated
    with pytest.raises(openai.BadRequestError) as err:
        oa.chat.completions.create(model=MODEL, max_tokens=5, messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}])
    assert "cannot fetch" in str(err.value) and err.value.body["param"] == "messages[0].content[0].image_url.url"


def test_unknown_model_and_malformed_requests(oa, local_provider):
    with pytest.raises(openai.NotFoundError) as err:
        oa.chat.completions.create(model="gpt-9", messages=ask("hi"), max_tokens=5)
    assert err.value.code == "model_not_found" and "gpt-9" in err.value.message
    with pytest.raises(openai.NotFoundError):  # another provider's id is not an OpenAI model
        oa.chat.completions.create(model="claude-sonnet-4-6", messages=ask("hi"), max_tokens=5)
    with pytest.raises(openai.BadRequestError) as err:
        oa.chat.completions.create(model=MODEL, messages=[], max_tokens=5)
    assert err.value.body["param"] == "messages"
    with pytest.raises(openai.BadRequestError) as err:
        oa.chat.completions.create(model=MODEL, messages=ask("hi"), temperature=7)
    assert err.value.body["param"] == "temperature" and "temperature" in err.value.message
    with pytest.raises(openai.BadRequestError) as err:
        oa.chat.completions.create(model=MODEL, messages=[{"role": "robot", "content": "hi"}])
    assert err.value.body["param"] == "messages[0].role"
    with pytest.raises(openai.BadRequestError) as err:
        oa.chat.completions.create(model=MODEL, messages=[{"role": "user"}], max_tokens=2)
    assert err.value.body["param"] == "messages[0].content"
    with pytest.raises(openai.BadRequestError) as err:  # longer than a slot's context
        oa.chat.completions.create(model=MODEL, messages=ask("word " * 5000), max_tokens=2)
    assert err.value.body["param"] == "messages" and "context size" in err.value.message
    raw = httpx.post(f"{local_provider.base_url}/v1/chat/completions", content=b"{not json",
                     headers={"content-type": "application/json"})
    assert raw.status_code == 400 and raw.json()["error"]["type"] == "invalid_request_error"
    assert raw.headers["x-request-id"].startswith("req_")
    assert oa.chat.completions.create(model=MODEL, messages=ask("still alive?"), max_tokens=3).choices


def test_models_endpoint_lists_catalog_ids(oa):
    ids = [m.id for m in oa.models.list()]
    assert "gpt-4o" in ids and all(not i.startswith("claude") for i in ids)
    assert oa.models.retrieve("gpt-4o").id == "gpt-4o"
    with pytest.raises(openai.NotFoundError):
        oa.models.retrieve("gpt-9")


# ------------------------------------------------------------------------------------------------
# Responses API
# ------------------------------------------------------------------------------------------------
def test_responses_create_and_incomplete_status(oa, local_provider):
    r = oa.responses.create(model=MODEL, input="Write a long story.", instructions="Be vivid.",
                            max_output_tokens=10, temperature=0)
    assert r.status == "incomplete" and r.incomplete_details.reason == "max_output_tokens"
    assert r.output_text and r.usage.output_tokens == 10 and r.usage.input_tokens > 5
    assert r.model == MODEL and r.id.startswith("resp_") and r.instructions == "Be vivid."
    assert r.model_extra["backend_model"] == local_provider.model_name


def test_responses_stream_helper_events(oa):
    with oa.responses.stream(model=MODEL, input="Say hello.", max_output_tokens=200, temperature=0) as s:
        events = list(s)
        final = s.get_final_response()
    types = [e.type for e in events]
    assert types[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added"]
    assert types[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                          "response.completed"]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == final.output_text and final.status == "completed"


def test_responses_parse_and_function_tools(oa):
    parsed = oa.responses.parse(model=MODEL, input="What is the capital of France? Answer in JSON.",
                                text_format=Capital, max_output_tokens=60, temperature=0)
    assert isinstance(parsed.output_parsed, Capital)
    tool = {"type": "function", "name": "get_weather", "description": "Current weather in a city",
            "parameters": WEATHER["function"]["parameters"]}
    r = oa.responses.create(model=MODEL, input="Weather in Oslo?", tools=[tool], tool_choice="required", temperature=0)
    call = r.output[0]
    assert call.type == "function_call" and call.name == "get_weather" and call.call_id.startswith("call_")
    jsonschema.validate(json.loads(call.arguments), tool["parameters"])
    with oa.responses.stream(model=MODEL, input="Weather in Rome?", tools=[tool],
                             tool_choice={"type": "function", "name": "get_weather"}, temperature=0) as s:
        types = [e.type for e in s]
        streamed = s.get_final_response()
    assert "response.function_call_arguments.delta" in types and "response.function_call_arguments.done" in types
    jsonschema.validate(json.loads(streamed.output[0].arguments), tool["parameters"])
    follow = oa.responses.create(model=MODEL, max_output_tokens=8, temperature=0, input=[
        {"role": "user", "content": "Weather in Oslo?"},
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "12 C, rain"},
    ])
    assert follow.output[0].type == "message"


def test_responses_image_async_and_errors(oa):
    url = "data:image/png;base64," + base64.b64encode(png_with_text("ROOM 214")).decode()

    async def run() -> str:
        aoa = clients.openai(async_=True, max_retries=0)
        r = await aoa.responses.create(model=MODEL, max_output_tokens=5, input=[{"role": "user", "content": [
            {"type": "input_text", "text": "Which room?"}, {"type": "input_image", "image_url": url}]}])
        await aoa.close()
        return r.output_text

    assert asyncio.run(run()) is not None
    with pytest.raises(openai.BadRequestError) as err:
        oa.responses.create(model=MODEL, input=[{"role": "user", "content": [
            {"type": "input_image", "image_url": "https://example.com/x.png"}]}])
    assert "cannot fetch" in err.value.message
    with pytest.raises(openai.BadRequestError) as err:
        oa.responses.create(model=MODEL, input="hi", previous_response_id="resp_123")
    assert err.value.body["param"] == "previous_response_id"
    with pytest.raises(openai.NotFoundError):
        oa.responses.create(model="o9", input="hi")
