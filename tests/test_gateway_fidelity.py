"""The local provider refuses what the real APIs refuse and honours what it can, through the official SDKs.

Each test sends, through ``openai`` / ``anthropic`` / ``google-genai``, a request the real API answers
with a 400 (an invented field, a parameter the local provider does not implement, a token limit above
the model's) or honours (log-probabilities, structured output in every shape the SDKs send, model
listing, upper-case schema type names), and checks the local provider does the same, in the
provider's own error shape.
"""
from __future__ import annotations

import base64
import json
import math

import anthropic
import jsonschema
import openai
import pytest
from google import genai
from google.genai import errors, types
from pydantic import BaseModel
from workbench import catalog, clients
from workbench.local import grammar

# Every warning the SDKs raise while parsing is an error. A socket left for the garbage collector by an
# earlier test is not the SDKs' parsing: it surfaces at a random later test, so it is not made an error.
pytestmark = [pytest.mark.filterwarnings("error"), pytest.mark.filterwarnings("ignore::ResourceWarning")]

GPT, CLAUDE, GEMINI = "gpt-4o", "claude-sonnet-4-6", "gemini-2.5-flash"
HUGE = 10_000_000
GARBAGE = b"this is not a media file at all \x00\x01\x02" * 20
INTERNALS = ("0x", "BytesIO", "/tmp", "ffmpeg", "Traceback", "_to_text")


@pytest.fixture(scope="module")
def oa(local_provider) -> openai.OpenAI:
    return clients.openai(max_retries=0)


@pytest.fixture(scope="module")
def an(local_provider) -> anthropic.Anthropic:
    return clients.anthropic(max_retries=0)


@pytest.fixture(scope="module")
def gm(local_provider) -> genai.Client:
    return clients.gemini()


def ask(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def limit_of(model: str) -> int:
    return int(catalog.models().set_index("model_id").loc[model, "max_output"])


class Capital(BaseModel):
    country: str
    capital: str


# ------------------------------------------------------------------------------------------------
# Unknown and unimplemented fields
# ------------------------------------------------------------------------------------------------
def test_openai_refuses_invented_and_unimplemented_fields(oa):
    with pytest.raises(openai.BadRequestError) as err:
        oa.chat.completions.create(model=GPT, messages=ask("hi"), max_tokens=2, extra_body={"invented_field": 1})
    assert err.value.code == "unknown_parameter" and err.value.param == "invented_field"
    assert err.value.body["type"] == "invalid_request_error" and "invented_field" in err.value.message
    with pytest.raises(openai.BadRequestError) as err:
        oa.chat.completions.create(model=GPT, messages=ask("hi"), max_tokens=2, reasoning_effort="high")
    assert err.value.param == "reasoning_effort" and "not supported by the local provider" in err.value.message
    with pytest.raises(openai.BadRequestError) as err:
        oa.responses.create(model=GPT, input="hi", background=True)
    assert err.value.param == "background" and err.value.code == "unsupported_parameter"
    assert "not supported by the local provider" in err.value.message
    with pytest.raises(openai.BadRequestError) as err:
        oa.responses.create(model=GPT, input="hi", extra_body={"invented_field": 1})
    assert err.value.code == "unknown_parameter" and "Unknown parameter: 'invented_field'" in err.value.message
    # fields that change nothing here are accepted
    ok = oa.chat.completions.create(model=GPT, messages=ask("hi"), max_tokens=2, user="u1", store=False,
                                    metadata={"k": "v"}, parallel_tool_calls=True)
    assert ok.choices[0].message.content is not None


def test_anthropic_refuses_invented_fields_and_thinking(an):
    with pytest.raises(anthropic.BadRequestError) as err:
        an.messages.create(model=CLAUDE, max_tokens=2, messages=ask("hi"), extra_body={"invented_field": 1})
    assert err.value.body["type"] == "error" and err.value.body["error"]["type"] == "invalid_request_error"
    assert err.value.body["error"]["message"] == "invented_field: Extra inputs are not permitted"
    with pytest.raises(anthropic.BadRequestError) as err:
        an.messages.create(model=CLAUDE, max_tokens=2048, messages=ask("hi"),
                           thinking={"type": "enabled", "budget_tokens": 1024})
    assert err.value.body["error"]["message"].startswith("thinking: not supported by the local provider")
    ok = an.messages.create(model=CLAUDE, max_tokens=2, messages=ask("hi"), thinking={"type": "disabled"},
                            metadata={"user_id": "u1"})
    assert ok.content


def test_gemini_refuses_invented_fields_and_thinking(gm):
    with pytest.raises(errors.ClientError) as err:
        gm.models.generate_content(model=GEMINI, contents="hi", config=types.GenerateContentConfig(
            max_output_tokens=2, http_options=types.HttpOptions(extra_body={"invented_field": 1})))
    assert err.value.code == 400 and err.value.status == "INVALID_ARGUMENT"
    assert 'Unknown name "invented_field"' in err.value.message
    with pytest.raises(errors.ClientError) as err:
        gm.models.generate_content(model=GEMINI, contents="hi", config=types.GenerateContentConfig(
            thinking_config=types.ThinkingConfig(thinking_budget=1024)))
    assert err.value.status == "INVALID_ARGUMENT"
    assert err.value.message.startswith("generationConfig.thinkingConfig: not supported by the local provider")
    ok = gm.models.generate_content(model=GEMINI, contents="hi", config=types.GenerateContentConfig(
        max_output_tokens=2, thinking_config=types.ThinkingConfig(thinking_budget=0),
        safety_settings=[types.SafetySetting(category="HARM_CATEGORY_HARASSMENT", threshold="BLOCK_NONE")]))
    assert ok.text is not None


# ------------------------------------------------------------------------------------------------
# Log-probabilities from the engine
# ------------------------------------------------------------------------------------------------
def test_openai_chat_logprobs_come_from_the_engine(oa):
    kw = {"model": GPT, "messages": ask("Name a fruit."), "max_tokens": 6, "temperature": 0}
    r = oa.chat.completions.create(**kw, logprobs=True, top_logprobs=3)
    tokens = r.choices[0].logprobs.content
    assert "".join(t.token for t in tokens) == r.choices[0].message.content
    assert len(tokens) == r.usage.completion_tokens
    for t in tokens:
        assert t.logprob <= 0 and len(t.top_logprobs) == 3
        assert t.top_logprobs[0].logprob >= t.top_logprobs[-1].logprob
        assert t.token == t.top_logprobs[0].token  # temperature 0: the chosen token is the most likely
        assert bytes(t.bytes).decode("utf-8", "replace") == t.token
    streamed = [c for c in oa.chat.completions.create(**kw, logprobs=True, top_logprobs=1, stream=True) if c.choices]
    seen = [t for c in streamed if c.choices[0].logprobs for t in c.choices[0].logprobs.content]
    assert [t.token for t in seen] == [t.token for t in tokens]
    assert oa.chat.completions.create(**kw).choices[0].logprobs is None
    with pytest.raises(openai.BadRequestError) as err:
        oa.chat.completions.create(**kw, top_logprobs=2)
    assert err.value.param == "top_logprobs"


def test_responses_and_gemini_logprobs(oa, gm):
    r = oa.responses.create(model=GPT, input="Name a fruit.", max_output_tokens=5, temperature=0,
                            include=["message.output_text.logprobs"], top_logprobs=2)
    part = r.output[0].content[0]
    assert "".join(t.token for t in part.logprobs) == part.text and all(len(t.top_logprobs) == 2 for t in part.logprobs)
    g = gm.models.generate_content(model=GEMINI, contents="Name a fruit.", config=types.GenerateContentConfig(
        temperature=0, max_output_tokens=5, response_logprobs=True, logprobs=2))
    cand = g.candidates[0]
    chosen = cand.logprobs_result.chosen_candidates
    assert "".join(c.token for c in chosen) == g.text and all(c.log_probability <= 0 for c in chosen)
    assert all(len(top.candidates) == 2 for top in cand.logprobs_result.top_candidates)
    assert cand.avg_logprobs == pytest.approx(sum(c.log_probability for c in chosen) / len(chosen))


# ------------------------------------------------------------------------------------------------
# Structured output in every shape the SDKs send
# ------------------------------------------------------------------------------------------------
def test_anthropic_output_format_with_its_beta_header_and_the_parse_helpers(an):
    schema = {"type": "object", "properties": {"country": {"type": "string"}, "capital": {"type": "string"}},
              "required": ["country", "capital"], "additionalProperties": False}
    beta = {"anthropic-beta": "structured-outputs-2025-11-13"}
    msg = an.messages.create(model=CLAUDE, max_tokens=80, messages=ask("Capital of France, as JSON?"),
                             extra_body={"output_format": {"type": "json_schema", "schema": schema}, "temperature": 0},
                             extra_headers=beta)
    jsonschema.validate(json.loads(msg.content[0].text), schema)
    with pytest.raises(anthropic.BadRequestError) as err:  # without the beta header the field is unknown
        an.messages.create(model=CLAUDE, max_tokens=80, messages=ask("Capital of France?"),
                           extra_body={"output_format": {"type": "json_schema", "schema": schema}})
    assert err.value.body["error"]["message"] == "output_format: Extra inputs are not permitted"
    parsed = an.messages.parse(model=CLAUDE, max_tokens=80, messages=ask("Capital of France, as JSON?"),
                               output_format=Capital)
    assert isinstance(parsed.parsed_output, Capital)
    beta_parsed = an.beta.messages.parse(model=CLAUDE, max_tokens=80, messages=ask("Capital of France, as JSON?"),
                                         output_format=Capital, betas=["structured-outputs-2025-11-13"])
    assert isinstance(beta_parsed.parsed_output, Capital)


def test_gemini_schemas_with_upper_case_type_names(gm):
    # the response_json_schema example of google-genai's README, type names in upper case
    schema = {"required": ["name", "population", "capital"], "type": "OBJECT",
              "properties": {"name": {"type": "STRING"}, "population": {"type": "INTEGER"},
                             "capital": {"type": "STRING"}}}
    r = gm.models.generate_content(model=GEMINI, contents="Give me information for the United States.",
                                   config=types.GenerateContentConfig(
                                       response_mime_type="application/json", response_json_schema=schema,
                                       max_output_tokens=120, temperature=0))
    data = json.loads(r.text)
    assert isinstance(data["name"], str) and isinstance(data["population"], int)
    tool = types.FunctionDeclaration(name="get_time", description="Time in a zone", parameters_json_schema={
        "type": "OBJECT", "properties": {"tz": {"type": "STRING"}}, "required": ["tz"]})
    call = gm.models.generate_content(model=GEMINI, contents="Time in Tokyo?", config=types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[tool])],
        tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="ANY"))))
    assert isinstance(call.function_calls[0].args["tz"], str)


def test_structured_output_without_a_token_limit_is_not_cut(oa):
    # a JSON answer longer than the old 512-token default cap: the default is now the model's limit
    schema = {"type": "object", "properties": {"essay": {"type": "string", "minLength": 3500}},
              "required": ["essay"], "additionalProperties": False}
    r = oa.responses.create(model=GPT, input="Write an essay about the sea, as JSON.", temperature=0,
                            text={"format": {"type": "json_schema", "name": "essay", "schema": schema, "strict": True}})
    assert r.status == "completed" and r.usage.output_tokens > 512
    assert len(json.loads(r.output_text)["essay"]) >= 3500


def test_schema_caps_are_fitted_to_the_token_budget():
    class Step(BaseModel):
        explanation: str
        output: str

    class MathResponse(BaseModel):  # the schema of openai-python's examples/parsing.py
        steps: list[Step]
        final_answer: str

    schema = MathResponse.model_json_schema()
    budget = 3900 * grammar.CHARS_PER_TOKEN / grammar.WHITESPACE
    assert grammar.max_chars(schema) == math.inf  # open strings and arrays: a small model may never stop
    assert grammar.max_chars(grammar.bounded_schema(schema, max_string=1000, max_items=20)) > budget
    fitted = grammar.fitted_schema(schema, 3900)
    assert grammar.max_chars(fitted) <= budget and fitted["properties"]["steps"]["maxItems"] >= 5
    number = grammar.bounded_schema({"type": "number"})  # digits are bounded too
    assert number["maximum"] == grammar.MAX_NUMBER and number["multipleOf"] == grammar.NUMBER_STEP
    assert grammar.bounded_schema({"type": "integer", "enum": [1, 2]}) == {"type": "integer", "enum": [1, 2]}


# ------------------------------------------------------------------------------------------------
# Output limits
# ------------------------------------------------------------------------------------------------
def test_max_tokens_above_the_model_limit_is_refused(oa, an, gm):
    with pytest.raises(openai.BadRequestError) as err:
        oa.chat.completions.create(model=GPT, messages=ask("hi"), max_tokens=HUGE)
    assert err.value.param == "max_tokens" and f"at most {limit_of(GPT)} completion tokens" in err.value.message
    with pytest.raises(openai.BadRequestError) as err:
        oa.chat.completions.create(model=GPT, messages=ask("hi"), max_completion_tokens=HUGE)
    assert err.value.param == "max_completion_tokens"
    with pytest.raises(openai.BadRequestError) as err:
        oa.responses.create(model=GPT, input="hi", max_output_tokens=HUGE)
    assert err.value.param == "max_output_tokens"
    with pytest.raises(anthropic.BadRequestError) as err:  # an explicit timeout: the SDK itself would refuse
        an.with_options(timeout=60).messages.create(model=CLAUDE, max_tokens=HUGE, messages=ask("hi"))
    assert err.value.body["error"]["message"] == (
        f"max_tokens: {HUGE} > {limit_of(CLAUDE)}, which is the maximum allowed number of output tokens for {CLAUDE}")
    with pytest.raises(errors.ClientError) as err:
        gm.models.generate_content(model=GEMINI, contents="hi", config=types.GenerateContentConfig(max_output_tokens=HUGE))
    assert err.value.status == "INVALID_ARGUMENT" and err.value.message.startswith("generationConfig.maxOutputTokens")
    # the limit itself is allowed
    ok = oa.chat.completions.create(model=GPT, messages=ask("hi"), max_tokens=limit_of(GPT), stop=["\n", "."])
    assert ok.choices[0].finish_reason in ("stop", "length")


# ------------------------------------------------------------------------------------------------
# Routing: models, unknown paths
# ------------------------------------------------------------------------------------------------
def test_gemini_models_with_the_sdk_default_api_version(local_provider, oa, an):
    v1 = genai.Client(api_key="local", http_options={"base_url": local_provider.base_url})  # api_version v1
    names = [m.name for m in v1.models.list()]
    assert f"models/{GEMINI}" in names and not any("gpt" in n for n in names)
    assert v1.models.get(model=GEMINI).name == f"models/{GEMINI}"
    with pytest.raises(errors.ClientError) as err:
        v1.models.get(model=GPT)
    assert err.value.status == "NOT_FOUND" and "Known google models" in err.value.message
    assert GPT in [m.id for m in oa.models.list()]  # the OpenAI SDK still gets its own list there
    claude = [m.id for m in an.models.list()]
    assert CLAUDE in claude and GPT not in claude and an.models.retrieve(CLAUDE).id == CLAUDE


def test_unserved_paths_answer_each_providers_json_error(oa, an, gm):
    with pytest.raises(openai.NotFoundError) as err:
        oa.vector_stores.list()
    assert err.value.body["type"] == "invalid_request_error" and "/v1/vector_stores" in err.value.message
    with pytest.raises(anthropic.NotFoundError) as aerr:
        an.beta.files.list()
    assert aerr.value.body["type"] == "error" and aerr.value.body["error"]["type"] == "not_found_error"
    with pytest.raises(errors.ClientError) as gerr:
        gm.files.list()
    assert gerr.value.code == 404 and gerr.value.status == "NOT_FOUND"


# ------------------------------------------------------------------------------------------------
# Media errors in plain words; Anthropic tool ids
# ------------------------------------------------------------------------------------------------
def test_unreadable_media_errors_say_what_is_wrong_without_internals(oa, gm):
    bad_png = "data:image/png;base64," + base64.b64encode(GARBAGE).decode()
    with pytest.raises(openai.BadRequestError) as err:
        oa.chat.completions.create(model=GPT, max_tokens=2, messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": bad_png}}]}])
    message = err.value.body["message"]
    assert message.startswith("messages[0].content[0]: cannot read the image (image/png): cannot decode the data")
    assert not any(x in message for x in INTERNALS), message
    with pytest.raises(errors.ClientError) as gerr:
        gm.models.generate_content(model=GEMINI, contents=[types.Part.from_bytes(data=GARBAGE, mime_type="video/mp4")])
    assert "cannot read the video (video/mp4)" in gerr.value.message
    assert not any(x in gerr.value.message for x in INTERNALS), gerr.value.message
    with pytest.raises(openai.BadRequestError) as err:
        oa.chat.completions.create(model=GPT, max_tokens=2, messages=[{"role": "user", "content": [
            {"type": "input_audio", "input_audio": {"data": base64.b64encode(GARBAGE).decode(), "format": "mp3"}}]}])
    assert "cannot read the audio (audio/mp3)" in err.value.message
    assert not any(x in err.value.message for x in INTERNALS), err.value.message


def test_anthropic_tool_use_ids_start_with_toolu(an):
    tool = {"name": "get_time", "description": "Time in a zone",
            "input_schema": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}}
    msg = an.messages.create(model=CLAUDE, max_tokens=50, messages=ask("Time in Tokyo?"), tools=[tool],
                             tool_choice={"type": "tool", "name": "get_time"})
    assert msg.content[0].type == "tool_use" and msg.content[0].id.startswith("toolu_")
    with an.messages.stream(model=CLAUDE, max_tokens=50, messages=ask("Time in Oslo?"), tools=[tool],
                            tool_choice={"type": "any"}) as s:
        streamed = s.get_final_message()
    assert streamed.content[0].id.startswith("toolu_")
