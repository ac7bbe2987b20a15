"""The local gateway's Gemini protocol, exercised through the official ``google-genai`` SDK (no mocks)."""
from __future__ import annotations

import asyncio
import base64
import io

import httpx
import jsonschema
import pytest
from google import genai
from google.genai import errors, types
from PIL import Image, ImageDraw
from pydantic import BaseModel
from workbench import clients

# Every warning the SDKs raise while parsing is an error. A socket left for the garbage collector by an
# earlier test is not the SDKs' parsing: it surfaces at a random later test, so it is not made an error.
pytestmark = [pytest.mark.filterwarnings("error"), pytest.mark.filterwarnings("ignore::ResourceWarning")]

MODEL = "gemini-2.0-flash"
WEATHER = types.FunctionDeclaration(
    name="get_weather", description="Current weather in a city",
    parameters=types.Schema(type="OBJECT", properties={"city": types.Schema(type="STRING")}, required=["city"]))
TIME = types.FunctionDeclaration(
    name="get_time", description="Current time in a time zone",
    parameters_json_schema={"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]})


@pytest.fixture(scope="module")
def gm(local_provider) -> genai.Client:
    return clients.gemini()


def cfg(**kw) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(temperature=0, **kw)


def test_generate_content_usage_model_version_and_count_tokens(gm, local_provider):
    r = gm.models.generate_content(model=MODEL, contents="What color is the sky?",
                                   config=cfg(max_output_tokens=12, system_instruction="Answer in one word."))
    assert r.text.strip() and r.model_version == local_provider.model_name
    assert r.candidates[0].finish_reason in (types.FinishReason.STOP, types.FinishReason.MAX_TOKENS)
    u = r.usage_metadata
    assert 0 < u.candidates_token_count <= 12 and u.total_token_count == u.prompt_token_count + u.candidates_token_count
    assert r.sdk_http_response.headers["x-workbench-backend-model"] == local_provider.model_name
    plain = gm.models.generate_content(model=MODEL, contents="What color is the sky?", config=cfg(max_output_tokens=1))
    assert gm.models.count_tokens(model=MODEL, contents="What color is the sky?").total_tokens == \
        plain.usage_metadata.prompt_token_count
    assert plain.usage_metadata.prompt_token_count != u.prompt_token_count  # system_instruction was used


def test_stream_matches_non_stream_and_async(gm):
    kw = {"model": MODEL, "contents": "Tell me a story.", "config": cfg(max_output_tokens=12)}
    full = gm.models.generate_content(**kw)
    chunks = list(gm.models.generate_content_stream(**kw))
    assert "".join(c.text or "" for c in chunks) == full.text
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert chunks[-1].usage_metadata.candidates_token_count == 12

    async def run() -> tuple[str, str]:
        r = await gm.aio.models.generate_content(**kw)
        parts = [c.text or "" async for c in await gm.aio.models.generate_content_stream(**kw)]
        return r.text, "".join(parts)

    a, b = asyncio.run(run())
    assert a == b == full.text


class Capital(BaseModel):
    country: str
    capital: str


def test_response_schema_and_json_schema(gm):
    r = gm.models.generate_content(model=MODEL, contents="Capital of France?", config=cfg(
        max_output_tokens=60, response_mime_type="application/json", response_schema=Capital))
    assert isinstance(r.parsed, Capital) and r.parsed.capital
    r2 = gm.models.generate_content(model=MODEL, contents="Capital of France?", config=cfg(
        max_output_tokens=60, response_mime_type="application/json", response_json_schema=Capital.model_json_schema()))
    Capital.model_validate_json(r2.text)


def test_function_calling_any_named_auto(gm):
    tools = [types.Tool(function_declarations=[WEATHER, TIME])]
    r = gm.models.generate_content(model=MODEL, contents="Weather in Oslo?", config=cfg(
        tools=tools, tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="ANY"))))
    call = r.function_calls[0]
    assert call.name in ("get_weather", "get_time")
    schema = {"get_weather": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
              "get_time": TIME.parameters_json_schema}[call.name]
    jsonschema.validate(call.args, schema)
    named = gm.models.generate_content(model=MODEL, contents="Time in Tokyo?", config=cfg(
        tools=tools, tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(
            mode="ANY", allowed_function_names=["get_time"]))))
    assert named.function_calls[0].name == "get_time" and set(named.function_calls[0].args) == {"tz"}
    streamed = list(gm.models.generate_content_stream(model=MODEL, contents="Weather in Rome?", config=cfg(
        tools=[types.Tool(function_declarations=[WEATHER])],
        tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="ANY")))))
    assert streamed[-1].function_calls[0].name == "get_weather"
    auto = gm.models.generate_content(model=MODEL, contents="Weather in Paris?", config=cfg(
        tools=[types.Tool(function_declarations=[WEATHER])], max_output_tokens=10))
    assert auto.function_calls or auto.text
    follow = gm.models.generate_content(model=MODEL, config=cfg(max_output_tokens=8), contents=[
        types.Content(role="user", parts=[types.Part(text="Time in Tokyo?")]),
        types.Content(role="model", parts=[types.Part(function_call=named.function_calls[0])]),
        types.Content(role="user", parts=[types.Part.from_function_response(name="get_time", response={"time": "09:30"})]),
    ])
    assert follow.text is not None


def test_inline_image_read_and_file_uri_refused(gm):
    img = Image.new("RGB", (300, 80), "white")
    ImageDraw.Draw(img).text((10, 25), "GATE B12", fill="black", font_size=28)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    with_image = gm.models.count_tokens(model=MODEL, contents=[
        types.Part.from_bytes(data=buf.getvalue(), mime_type="image/png"), "Which gate?"])
    text_only = gm.models.count_tokens(model=MODEL, contents="Which gate?")
    assert with_image.total_tokens > text_only.total_tokens + 8
    with pytest.raises(errors.ClientError) as err:
        gm.models.generate_content(model=MODEL, contents=[
            types.Part.from_uri(file_uri="https://example.com/a.png", mime_type="image/png"), "What is it?"])
    assert err.value.code == 400 and "cannot fetch" in err.value.message


def test_errors_unknown_model_malformed_and_v1_path(gm, local_provider):
    with pytest.raises(errors.ClientError) as err:
        gm.models.generate_content(model="gemini-9", contents="hi")
    assert err.value.code == 404 and err.value.status == "NOT_FOUND" and "gemini-9" in err.value.message
    with pytest.raises(errors.ClientError) as err:
        gm.models.generate_content(model=MODEL, contents="hi", config=types.GenerateContentConfig(temperature=5))
    assert err.value.status == "INVALID_ARGUMENT" and "generationConfig.temperature" in err.value.message
    r = httpx.post(f"{local_provider.base_url}/v1beta/models/{MODEL}:generateContent", json={"contents": "oops"})
    assert r.status_code == 400 and r.json()["error"]["message"].startswith("contents")
    v1 = genai.Client(api_key="x", http_options={"base_url": local_provider.base_url, "api_version": "v1"})
    assert v1.models.generate_content(model=MODEL, contents="hi", config=cfg(max_output_tokens=2)).text is not None
    assert gm.models.get(model=MODEL).name == f"models/{MODEL}"


def test_rate_limit_shape(gm, local_provider):
    local_provider.set_faults(rate_429=1.0)
    try:
        with pytest.raises(errors.ClientError) as err:
            gm.models.generate_content(model=MODEL, contents="hi")
        assert err.value.code == 429 and err.value.status == "RESOURCE_EXHAUSTED"
    finally:
        local_provider.clear_faults()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_media_become_marked_text_in_place(local_provider):
    from workbench import samples

    invoice, speech, sign = samples.get("invoice"), samples.get("speech"), samples.get("sign")
    out = local_provider.prompt({"model": MODEL, "contents": [{"role": "user", "parts": [
        {"text": "Compare these."},
        {"inlineData": {"mimeType": "image/png", "data": b64(invoice.data)}},
        {"inlineData": {"mimeType": "audio/wav", "data": b64(speech.data)}},
        {"inline_data": {"mime_type": "image/png", "data": b64(sign.data)}}]}]}, api="gemini")
    prompt = out["prompt"]
    order = [prompt.index(m) for m in ("Compare these.", "[image 1: Image: PNG, 900x760", "[audio 1: Audio: WAV",
                                       "[image 2: Image: PNG")]
    assert order == sorted(order)
    assert "INV-2024-0042" in prompt and "NO PARKING" in prompt and "Friday afternoon" in prompt
    assert out["input_tokens"] > 150


def test_video_frames_are_sampled_and_read(local_provider):
    from workbench import samples

    clip = samples.get("clip")
    prompt = local_provider.prompt({"model": MODEL, "contents": [
        {"parts": [{"inlineData": {"mimeType": "video/mp4", "data": b64(clip.data)}}]}]}, api="gemini")["prompt"]
    assert "[video 1: Video: MP4" in prompt and "APPLE" in prompt and "FOREST" in prompt
