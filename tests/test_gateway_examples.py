"""The official SDKs' own example scripts, run against the local provider with only the base URL changed.

Each script below is copied verbatim from its repository (path, commit and license noted above it;
google-genai has no ``examples/`` folder, so its README's snippets are used, each after the README's
own "create a client" snippet). The test points the SDK at the local provider through the SDK's own
base-URL variable (``OPENAI_BASE_URL``, ``ANTHROPIC_BASE_URL``, ``GOOGLE_GEMINI_BASE_URL``) and runs
the script unchanged, except for model ids the catalog does not list (the examples name models newer
than ``data/models.csv``): :data:`CATALOG_IDS` swaps them for catalog ids of the same provider. The
OpenAI scripts import ``rich`` only to print; a one-line stand-in prints with :func:`print`.
"""
from __future__ import annotations

import json
import sys
import types

import pytest

# Every warning the SDKs raise while parsing is an error. A socket left for the garbage collector by an
# earlier test is not the SDKs' parsing: it surfaces at a random later test, so it is not made an error.
pytestmark = [pytest.mark.filterwarnings("error"), pytest.mark.filterwarnings("ignore::ResourceWarning")]

#: Model ids of the examples that the catalog does not list, and the catalog id used instead.
CATALOG_IDS = {"claude-sonnet-5": "claude-sonnet-4-6", "gemini-3.5-flash": "gemini-2.5-flash"}

#: name -> (repository, path, source)
EXAMPLES: dict[str, tuple[str, str, str]] = {
    # openai/openai-python @ e43b422412a9, examples/async_demo.py (Apache-2.0)
    'openai_async_demo': ("openai/openai-python", "examples/async_demo.py", r'''#!/usr/bin/env -S poetry run python

import asyncio

from openai import AsyncOpenAI

# gets API Key from environment variable OPENAI_API_KEY
client = AsyncOpenAI()


async def main() -> None:
    stream = await client.chat.completions.create(
        model="gpt-5.5",
        messages=[
            {
                "role": "user",
                "content": "Say this is a test",
            },
        ],
        stream=True,
    )
    async for chunk in stream:
        if not chunk.choices:
            continue

        print(chunk.choices[0].delta.content, end="")
    print()


asyncio.run(main())
'''),
    # openai/openai-python @ e43b422412a9, examples/parsing.py (Apache-2.0)
    'openai_parsing': ("openai/openai-python", "examples/parsing.py", r'''from typing import List

import rich
from pydantic import BaseModel

from openai import OpenAI


class Step(BaseModel):
    explanation: str
    output: str


class MathResponse(BaseModel):
    steps: List[Step]
    final_answer: str


client = OpenAI()

completion = client.chat.completions.parse(
    model="gpt-4o-2024-08-06",
    messages=[
        {"role": "system", "content": "You are a helpful math tutor."},
        {"role": "user", "content": "solve 8x + 31 = 2"},
    ],
    response_format=MathResponse,
)

message = completion.choices[0].message
if message.parsed:
    rich.print(message.parsed.steps)

    print("answer: ", message.parsed.final_answer)
else:
    print(message.refusal)
'''),
    # openai/openai-python @ e43b422412a9, examples/responses/structured_outputs.py (Apache-2.0)
    'openai_responses_structured_outputs': ("openai/openai-python", "examples/responses/structured_outputs.py", r'''from typing import List

import rich
from pydantic import BaseModel

from openai import OpenAI


class Step(BaseModel):
    explanation: str
    output: str


class MathResponse(BaseModel):
    steps: List[Step]
    final_answer: str


client = OpenAI()

rsp = client.responses.parse(
    input="solve 8x + 31 = 2",
    model="gpt-4o-2024-08-06",
    text_format=MathResponse,
)

for output in rsp.output:
    if output.type != "message":
        raise Exception("Unexpected non message")

    for item in output.content:
        if item.type != "output_text":
            raise Exception("unexpected output type")

        if not item.parsed:
            raise Exception("Could not parse response")

        rich.print(item.parsed)

        print("answer: ", item.parsed.final_answer)

# or

message = rsp.output[0]
assert message.type == "message"

text = message.content[0]
assert text.type == "output_text"

if not text.parsed:
    raise Exception("Could not parse response")

rich.print(text.parsed)

print("answer: ", text.parsed.final_answer)
'''),
    # anthropics/anthropic-sdk-python @ 009b035305e0, examples/messages.py (MIT)
    'anthropic_messages': ("anthropics/anthropic-sdk-python", "examples/messages.py", r'''from anthropic import Anthropic

client = Anthropic()

response = client.messages.create(
    max_tokens=1024,
    messages=[
        {
            "role": "user",
            "content": "Hello!",
        }
    ],
    model="claude-sonnet-5",
)
print(response)

response2 = client.messages.create(
    max_tokens=1024,
    messages=[
        {
            "role": "user",
            "content": "Hello!",
        },
        {
            "role": response.role,
            "content": response.content,
        },
        {
            "role": "user",
            "content": "How are you?",
        },
    ],
    model="claude-sonnet-5",
)
print(response2)
'''),
    # anthropics/anthropic-sdk-python @ 009b035305e0, examples/messages_stream.py (MIT)
    'anthropic_messages_stream': ("anthropics/anthropic-sdk-python", "examples/messages_stream.py", r'''#!/usr/bin/env -S rye run python

import asyncio

from anthropic import AsyncAnthropic

client = AsyncAnthropic()


async def main() -> None:
    async with client.messages.stream(
        max_tokens=1024,
        messages=[
            {
                "role": "user",
                "content": "Say hello there!",
            }
        ],
        model="claude-sonnet-5",
    ) as stream:
        async for event in stream:
            if event.type == "text":
                print(event.text, end="", flush=True)
            elif event.type == "content_block_stop":
                print()
                print("\ncontent block finished accumulating:", event.content_block)
        print()

    # you can still get the accumulated final message outside of
    # the context manager, as long as the entire stream was consumed
    # inside of the context manager
    accumulated = await stream.get_final_message()
    print("accumulated message: ", accumulated.to_json())


asyncio.run(main())
'''),
    # anthropics/anthropic-sdk-python @ 009b035305e0, examples/structured_outputs.py (MIT)
    'anthropic_structured_outputs': ("anthropics/anthropic-sdk-python", "examples/structured_outputs.py", r'''import pydantic

import anthropic


class Order(pydantic.BaseModel):
    product_name: str
    price: float
    quantity: int


client = anthropic.Anthropic()

prompt = """
Extract the product name, price, and quantity from this customer message:
"Hi, I’d like to order 2 packs of Green Tea for 5.50 dollars each."
"""

parsed_message = client.messages.parse(
    model="claude-sonnet-5",
    messages=[{"role": "user", "content": prompt}],
    max_tokens=1024,
    output_format=Order,
)

print(parsed_message.parsed_output)  # Order(product_name='Green Tea', price=5.5, quantity=2)
'''),
    # googleapis/python-genai @ 66807187f212, README.md: 'Create a client' + 'List Base Models' (Apache-2.0)
    'genai_list_models': ("googleapis/python-genai", "README.md: 'Create a client' + 'List Base Models'", r'''from google import genai

# Only run this block for Gemini Developer API
client = genai.Client(api_key='GEMINI_API_KEY')

for model in client.models.list():
    print(model)
'''),
    # googleapis/python-genai @ 66807187f212, README.md: 'Create a client' + 'JSON Schema support' (upper-case types) (Apache-2.0)
    'genai_json_schema': ("googleapis/python-genai", "README.md: 'Create a client' + 'JSON Schema support' (upper-case types)", r'''from google import genai

# Only run this block for Gemini Developer API
client = genai.Client(api_key='GEMINI_API_KEY')

from google.genai import types

response = client.models.generate_content(
    model='gemini-3.5-flash',
    contents='Give me information for the United States.',
    config=types.GenerateContentConfig(
        response_mime_type='application/json',
        response_json_schema={
            'required': [
                'name',
                'population',
                'capital',
                'continent',
                'gdp',
                'official_language',
                'total_area_sq_mi',
            ],
            'properties': {
                'name': {'type': 'STRING'},
                'population': {'type': 'INTEGER'},
                'capital': {'type': 'STRING'},
                'continent': {'type': 'STRING'},
                'gdp': {'type': 'INTEGER'},
                'official_language': {'type': 'STRING'},
                'total_area_sq_mi': {'type': 'INTEGER'},
            },
            'type': 'OBJECT',
        },
    ),
)
print(response.text)
'''),
    # googleapis/python-genai @ 66807187f212, README.md: 'Create a client' + 'Count Tokens' (Apache-2.0)
    'genai_count_tokens': ("googleapis/python-genai", "README.md: 'Create a client' + 'Count Tokens'", r'''from google import genai

# Only run this block for Gemini Developer API
client = genai.Client(api_key='GEMINI_API_KEY')

response = client.models.count_tokens(
    model='gemini-3.5-flash',
    contents='why is the sky blue?',
)
print(response)
'''),
}


def run_example(name: str, base_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    """Run example ``name`` against the provider at ``base_url``; return what it printed."""
    _repo, path, source = EXAMPLES[name]
    for old, new in CATALOG_IDS.items():
        source = source.replace(old, new)
    for var, value in {"OPENAI_BASE_URL": f"{base_url}/v1", "ANTHROPIC_BASE_URL": base_url,
                       "GOOGLE_GEMINI_BASE_URL": base_url}.items():
        monkeypatch.setenv(var, value)
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.setenv(var, "local")
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    rich = types.ModuleType("rich")
    rich.print = print  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rich", rich)
    code = compile(source, f"<{path}>", "exec", dont_inherit=True)  # not this module's __future__ flags
    exec(code, {"__name__": "__main__"})  # noqa: S102 - the example itself
    return capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_sdk_example_runs_unchanged(name: str, local_provider, monkeypatch, capsys) -> None:
    out = run_example(name, local_provider.base_url, monkeypatch, capsys)
    assert out.strip(), f"{name} printed nothing"
    if name == "genai_list_models":  # google-genai's default API version (v1) reaches the Gemini list
        assert "name='models/gemini-2.5-flash'" in out and "gpt-4o" not in out
    if name == "genai_json_schema":  # upper-case type names, as the README writes them
        data = json.loads(out)
        assert isinstance(data["population"], int) and isinstance(data["capital"], str)
    if name == "anthropic_structured_outputs":
        assert out.startswith("product_name=")
    if name.startswith("openai_parsing") or name == "openai_responses_structured_outputs":
        assert "answer: " in out
