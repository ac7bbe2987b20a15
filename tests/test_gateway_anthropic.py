"""The local gateway's Anthropic protocol, exercised through the official ``anthropic`` SDK (no mocks)."""
from __future__ import annotations

import asyncio
import base64
import io

import anthropic
import httpx
import jsonschema
import pytest
from PIL import Image, ImageDraw
from pydantic import BaseModel
from workbench import clients

# Every warning the SDKs raise while parsing is an error. A socket left for the garbage collector by an
# earlier test is not the SDKs' parsing: it surfaces at a random later test, so it is not made an error.
pytestmark = [pytest.mark.filterwarnings("error"), pytest.mark.filterwarnings("ignore::ResourceWarning")]

MODEL = "claude-sonnet-4-6"
T0 = {"temperature": 0}  # this SDK version dropped sampling arguments; the gateway still reads them
WEATHER = {"name": "get_weather", "description": "Current weather in a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
TIME = {"name": "get_time", "description": "Current time in a time zone",
        "input_schema": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}}


@pytest.fixture(scope="module")
def an(local_provider) -> anthropic.Anthropic:
    return clients.anthropic(max_retries=0)


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def test_message_with_system_usage_and_backend_header(an, local_provider):
    raw = an.messages.with_raw_response.create(model=MODEL, max_tokens=15, system="Answer in one word.",
                                               messages=user("What color is the sky?"), extra_body=T0)
    msg = raw.parse()
    assert raw.headers["x-workbench-backend-model"] == local_provider.model_name
    assert msg.type == "message" and msg.role == "assistant" and msg.model == MODEL
    assert msg.content[0].type == "text" and msg.content[0].text.strip()
    assert msg.stop_reason in ("end_turn", "max_tokens") and 0 < msg.usage.output_tokens <= 15
    plain = an.messages.create(model=MODEL, max_tokens=1, messages=user("What color is the sky?"), extra_body=T0)
    assert msg.usage.input_tokens != plain.usage.input_tokens  # the system prompt reached the model
    counted = an.messages.count_tokens(model=MODEL, system="Answer in one word.", messages=user("What color is the sky?"))
    assert counted.input_tokens == msg.usage.input_tokens


def test_stream_helper_events_and_final_message(an):
    kw = {"model": MODEL, "max_tokens": 12, "messages": user("Tell me a story."), "extra_body": T0}
    full = an.messages.create(**kw)
    with an.messages.stream(**kw) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == final.content[0].text == full.content[0].text
    assert final.stop_reason == "max_tokens" and final.usage.output_tokens == 12
    assert final.usage.input_tokens == full.usage.input_tokens
    raw = list(an.messages.create(**kw, stream=True))
    types = [e.type for e in raw]
    assert types[0] == "message_start" and types[-1] == "message_stop"
    assert types[-2] == "message_delta" and "content_block_start" in types and "content_block_stop" in types


def test_async_client(an):
    async def run() -> tuple[str, str]:
        aan = clients.anthropic(async_=True, max_retries=0)
        msg = await aan.messages.create(model=MODEL, max_tokens=8, messages=user("Hello!"), extra_body=T0)
        async with aan.messages.stream(model=MODEL, max_tokens=8, messages=user("Hello!"), extra_body=T0) as s:
            streamed = await s.get_final_message()
        await aan.close()
        return msg.content[0].text, streamed.content[0].text

    a, b = asyncio.run(run())
    assert a == b and a


def test_stop_sequence_reported(an):
    msg = an.messages.create(model=MODEL, max_tokens=40, messages=user("Say hello."),
                             stop_sequences=[" "], extra_body=T0)
    assert msg.stop_reason == "stop_sequence" and msg.stop_sequence == " "
    assert msg.content[0].text and " " not in msg.content[0].text  # the answer ends before the sequence


def test_tools_any_named_auto_and_tool_result(an):
    msg = an.messages.create(model=MODEL, max_tokens=50, messages=user("Weather in Oslo?"), tools=[WEATHER, TIME],
                             tool_choice={"type": "any"}, extra_body=T0)
    block = msg.content[0]
    assert msg.stop_reason == "tool_use" and block.type == "tool_use" and block.name in ("get_weather", "get_time")
    schema = {"get_weather": WEATHER, "get_time": TIME}[block.name]["input_schema"]
    jsonschema.validate(block.input, schema)
    named = an.messages.create(model=MODEL, max_tokens=50, messages=user("Time in Tokyo?"), tools=[WEATHER, TIME],
                               tool_choice={"type": "tool", "name": "get_time"}, extra_body=T0)
    assert named.content[0].name == "get_time" and set(named.content[0].input) == {"tz"}
    with an.messages.stream(model=MODEL, max_tokens=50, messages=user("Weather in Rome?"), tools=[WEATHER],
                            tool_choice={"type": "tool", "name": "get_weather"}, extra_body=T0) as s:
        streamed = s.get_final_message()
    jsonschema.validate(streamed.content[0].input, WEATHER["input_schema"])
    auto = an.messages.create(model=MODEL, max_tokens=20, messages=user("Weather in Paris?"), tools=[WEATHER],
                              extra_body=T0)
    assert auto.stop_reason in ("tool_use", "end_turn", "max_tokens")
    follow = an.messages.create(model=MODEL, max_tokens=10, tools=[WEATHER, TIME], extra_body=T0, messages=[
        *user("Time in Tokyo?"),
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in named.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": named.content[0].id, "content": "09:30"}]},
    ], tool_choice={"type": "none"})
    assert follow.content[0].type == "text"


class Capital(BaseModel):
    country: str
    capital: str


def test_structured_output_with_output_config(an):
    msg = an.messages.create(model=MODEL, max_tokens=60, messages=user("Capital of France, as JSON?"),
                             output_config={"format": {"type": "json_schema", "schema": Capital.model_json_schema()}},
                             extra_body=T0)
    assert Capital.model_validate_json(msg.content[0].text).capital


def test_base64_image_is_read_and_url_image_refused(an):
    img = Image.new("RGB", (300, 80), "white")
    ImageDraw.Draw(img).text((10, 25), "TOTAL 99 EUR", fill="black", font_size=28)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    data = base64.b64encode(buf.getvalue()).decode()
    content = [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}},
               {"type": "text", "text": "What is the total?"}]
    counted = an.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": content}])
    text_only = an.messages.count_tokens(model=MODEL, messages=user("What is the total?"))
    assert counted.input_tokens > text_only.input_tokens + 8  # "[image 1: 300x80 PNG ... TOTAL 99 EUR]"
    with pytest.raises(anthropic.BadRequestError) as err:
        an.messages.create(model=MODEL, max_tokens=5, messages=[{"role": "user", "content": [
            {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}]}])
    assert err.value.body["error"]["type"] == "invalid_request_error" and "cannot fetch" in err.value.message


def test_errors_unknown_model_malformed_and_bearer_auth(an, local_provider):
    with pytest.raises(anthropic.NotFoundError) as err:
        an.messages.create(model="claude-9", max_tokens=5, messages=user("hi"))
    assert err.value.body["error"]["type"] == "not_found_error" and "claude-9" in err.value.message
    with pytest.raises(anthropic.BadRequestError) as err:
        an.messages.create(model=MODEL, max_tokens=5, messages=[{"role": "robot", "content": "hi"}])
    assert "messages.0.role" in err.value.message
    r = httpx.post(f"{local_provider.base_url}/v1/messages", json={"model": MODEL, "messages": user("hi")})
    assert r.status_code == 400 and r.json()["error"]["message"].startswith("max_tokens")
    r = httpx.post(f"{local_provider.base_url}/v1/messages", content=b"[1, 2")
    assert r.status_code == 400 and r.json()["type"] == "error"
    bearer = anthropic.Anthropic(auth_token="local-token", base_url=local_provider.base_url, max_retries=0)
    assert bearer.messages.create(model=MODEL, max_tokens=2, messages=user("hi")).content


def test_rate_limit_shape(an, local_provider):
    local_provider.set_faults(rate_429=1.0)
    try:
        with pytest.raises(anthropic.RateLimitError) as err:
            an.messages.create(model=MODEL, max_tokens=2, messages=user("hi"))
        assert err.value.body["error"]["type"] == "rate_limit_error"
    finally:
        local_provider.clear_faults()
