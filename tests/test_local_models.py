"""Every local model id answered by its own llama.cpp engine, the frontier ids by the stand-in, through the SDKs.

Two providers of their own (not the shared one, whose engines other tests start):

* ``pool``: the stand-in set through ``$WORKBENCH_STAND_IN`` (Qwen2.5-Coder-0.5B) and a memory budget
  that holds one of SmolLM2 and the 0.5B but not both, so each start evicts the other;
* ``single``: ``--model PATH`` of the 0.5B GGUF with one thread and one slot (as the recordings run it),
  with ``WORKBENCH_MODELS`` aimed at an empty folder so the other Qwen file is missing.

The 1.5B is never loaded; answers are a few tokens.
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest
from workbench import assets, catalog, clients
from workbench.local import DEFAULT_STAND_IN, STAND_IN_ENV, EngineError, LocalProvider
from workbench.local.engines import EnginePool
from workbench.local.gateway.errors import GatewayError
from workbench.local.models import (
    ModelSpec,
    display_name,
    local_specs,
    memory_budget,
    stand_in_setting,
)

pytestmark = [pytest.mark.filterwarnings("error"), pytest.mark.filterwarnings("ignore::ResourceWarning")]

SMOL, QWEN, QWEN_15 = "smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct"
HEADER = "x-workbench-backend-model"
HI = [{"role": "user", "content": "Say hi."}]


def sizes() -> dict[str, int]:
    table = catalog.models().set_index("model_id")
    return {m: int(table.at[m, "file_bytes"]) for m in catalog.local_models()}


def ask(base_url: str, model: str, max_tokens: int = 3) -> tuple[str, str]:
    """The reply and the backend header of one chat completion through the OpenAI SDK."""
    oa = openai.OpenAI(base_url=f"{base_url}/v1", api_key="local", max_retries=0)
    raw = oa.chat.completions.with_raw_response.create(model=model, messages=HI, max_tokens=max_tokens,
                                                       temperature=0)
    reply = raw.parse()
    assert reply.model == model
    return reply.choices[0].message.content or "", raw.headers[HEADER]


# ------------------------------------------------------------------------------------------------
# Settings (no engine)
# ------------------------------------------------------------------------------------------------
def test_settings_name_the_bad_value(monkeypatch):
    assert catalog.local_models() == [SMOL, QWEN, QWEN_15] and stand_in_setting() == DEFAULT_STAND_IN
    assert stand_in_setting(QWEN) == QWEN
    with pytest.raises(EngineError, match="stand_in: 'gpt-4o' is not a local model; the stand-in is one of smollm2"):
        stand_in_setting("gpt-4o")
    monkeypatch.setenv(STAND_IN_ENV, "nope")
    with pytest.raises(EngineError, match=f"{STAND_IN_ENV}: 'nope' is not a local model"):
        LocalProvider()
    assert memory_budget(None) == 4 * 2**30 and memory_budget("600MB") == 600_000_000
    assert memory_budget("1.5 GiB") == 3 * 2**29 and memory_budget(12345) == 12345
    for bad in ("lots", 0, "-1GB", "3 parsecs"):
        with pytest.raises(EngineError, match="memory_budget: "):
            memory_budget(bad)
    with pytest.raises(EngineError, match=f"stand_in: model_path .* is the stand-in \\({QWEN}\\)"):
        LocalProvider(model_path=assets.model_file(QWEN), stand_in=SMOL)
    specs = local_specs()
    assert [s.threads for s in specs.values()] == [int(t) for t in catalog.models().set_index("model_id").loc[
        list(specs), "local_threads"]]
    assert {s.file_bytes for s in specs.values()} == set(sizes().values())
    assert display_name(QWEN) == "Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF, llama.cpp)"
    assert local_specs(threads=3)[SMOL].threads == 3


def test_the_shared_provider_answers_frontier_ids_with_the_default_stand_in(local_provider):
    info = local_provider.info()
    assert info["stand_in"] == local_provider.stand_in == DEFAULT_STAND_IN
    assert info["model"] == local_provider.model_name == display_name(DEFAULT_STAND_IN) == clients.local_model_name()
    assert set(info["engines"]) == set(catalog.local_models()) and info["engines"][DEFAULT_STAND_IN]["running"]
    assert info["known_models"]["local"] == catalog.local_models()


# ------------------------------------------------------------------------------------------------
# One engine per local model, the stand-in for the rest, within a memory budget
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pool(tmp_path_factory) -> Iterator[LocalProvider]:
    """Stand-in Qwen 0.5B (from the environment variable); the budget holds one engine of the two."""
    budget = sizes()[QWEN] + sizes()[SMOL] - 1
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(STAND_IN_ENV, QWEN)
        provider = LocalProvider(n_parallel=2, memory_budget=budget, log_dir=tmp_path_factory.mktemp("pool"))
    with provider:
        yield provider


def test_a_local_id_starts_its_engine_on_first_use_once_for_concurrent_requests(pool):
    engines = pool.engines()
    assert pool.stand_in == QWEN and engines[QWEN]["running"] and engines[QWEN]["stand_in"]
    assert (engines[SMOL]["state"], engines[SMOL]["starts"], engines[SMOL]["model_path"]) == ("stopped", 0, None)
    assert not engines[QWEN_15]["running"]

    async def three() -> list[tuple[str, str]]:
        oa = openai.AsyncOpenAI(base_url=f"{pool.base_url}/v1", api_key="local", max_retries=0)
        raws = await asyncio.gather(*[oa.chat.completions.with_raw_response.create(
            model=SMOL, messages=HI, max_tokens=2, temperature=0) for _ in range(3)])
        await oa.close()
        return [(raw.parse().model, raw.headers[HEADER]) for raw in raws]

    assert asyncio.run(three()) == [(SMOL, display_name(SMOL))] * 3  # SmolLM2's own engine answered
    ask(pool.base_url, SMOL)  # kept warm: no second start
    engines = pool.engines()
    smol = engines[SMOL]
    assert smol["running"] and smol["starts"] == 1 and smol["start_seconds"] > 0
    assert smol["model_path"] == str(assets.model_file(SMOL)) and smol["sha256"] == catalog.models().set_index(
        "model_id").at[SMOL, "gguf_sha256"]
    assert (smol["threads"], smol["n_parallel"], smol["ctx_per_slot"]) == (1, 2, pool.ctx_per_slot)
    # the budget holds one engine: the idle stand-in was stopped to make room, and the log says so
    assert not engines[QWEN]["running"] and engines[QWEN]["evictions"] == 1
    assert f"memory budget: stopping the idle engine of {QWEN}" in pool.log_path.read_text()
    assert pool.stats()["engines_running"] == [SMOL]


def test_frontier_ids_are_answered_by_the_stand_in_which_comes_back_lazily(pool):
    ask(pool.base_url, SMOL)  # SmolLM2 running, the stand-in evicted
    assert pool.stats()["engines_running"] == [SMOL]
    seen: list[str] = []
    done = threading.Event()

    def watch() -> None:  # the gateway keeps answering while an engine loads in a worker thread
        while not done.is_set():
            seen.append(pool.engines()[QWEN]["state"])
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        text, backend = ask(pool.base_url, "gpt-4o")
    finally:
        done.set()
        watcher.join()
    # the admin API kept answering while the stand-in came back: its samples saw it starting, or (on a quick
    # load the 50 ms samples may miss "starting") stopped and then running; the answer came from the stand-in
    assert backend == display_name(QWEN) and text and seen[-1] == "running"
    assert "starting" in seen or seen[0] == "stopped", seen
    an = anthropic.Anthropic(base_url=pool.base_url, api_key="local", max_retries=0)
    raw = an.messages.with_raw_response.create(model="claude-sonnet-4-6", max_tokens=2, messages=HI)
    assert raw.headers[HEADER] == display_name(QWEN) and raw.parse().model == "claude-sonnet-4-6"
    assert ask(pool.base_url, QWEN)[1] == display_name(QWEN)  # its own id: the same engine
    info = pool.info()
    assert info["stand_in"] == QWEN and info["model"] == display_name(QWEN) and info["props"]["total_slots"] == 2
    assert info["engines"][QWEN]["starts"] == 2 and not info["engines"][SMOL]["running"]
    assert info["memory_budget"] == pool.memory_budget
    oa = openai.OpenAI(base_url=f"{pool.base_url}/v1", api_key="local", max_retries=0)
    listed = [m.id for m in oa.models.list()]
    assert "gpt-4o" in listed and set(catalog.local_models()) <= set(listed)


def test_the_least_recently_used_idle_engine_makes_room_and_a_busy_one_is_waited_for():
    """The pool itself, in this process: three ids served by real engines of the SmolLM2 file, room for two."""
    path = assets.model_file(SMOL)
    size = path.stat().st_size
    specs = {m: ModelSpec(m, f"SmolLM2 as {m}", size, None, 1, path) for m in ("a", "b", "c")}

    async def running(pool: EnginePool) -> set[str]:
        return {m for m, facts in (await pool.describe()).items() if facts["running"]}

    async def use(pool: EnginePool, model: str) -> None:
        engine = await pool.acquire(model)
        assert await engine.healthy()
        pool.release(model)

    async def scenario() -> None:
        pool = EnginePool(specs, stand_in="a", n_parallel=1, ctx_per_slot=512, startup_timeout=60,
                          memory_budget=2 * size, idle_wait=0.5)
        try:
            for model in ("a", "b", "a", "c"):  # b is the least recently used when c needs room
                await use(pool, model)
            assert await running(pool) == {"a", "c"} and (await pool.describe())["b"]["evictions"] == 1
            held = [await pool.acquire("a"), await pool.acquire("c")]  # both busy: nothing may be stopped
            with pytest.raises(GatewayError, match=r"memory_budget: starting b .*busy engine \(a, c\).* 0.5 s"):
                await pool.acquire("b")
            pool.idle_wait = 60
            waiting = asyncio.ensure_future(pool.acquire("b"))
            await asyncio.sleep(0.3)
            assert not waiting.done() and (await pool.describe())["b"]["state"] == "starting"
            pool.release("c")  # c becomes idle: b starts in its room
            assert await (await waiting).healthy() and await held[0].healthy()  # a was never stopped
            pool.release("b")
            pool.release("a")
            assert await running(pool) == {"a", "b"} and pool.in_use() == 2 * size
        finally:
            await pool.close()
            pool.stop()

    asyncio.run(scenario())


# ------------------------------------------------------------------------------------------------
# --model PATH: the single-engine provider, unchanged; a missing file named
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def single(tmp_path_factory) -> Iterator[LocalProvider]:
    """``--model`` of the 0.5B GGUF, one thread, one slot; no assembled model files for the other ids."""
    empty = tmp_path_factory.mktemp("no-models")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKBENCH_MODELS", str(empty))
        provider = LocalProvider(model_path=assets.model_file(QWEN), threads=1, n_parallel=1,
                                 log_dir=tmp_path_factory.mktemp("single"))
        provider.start()
    try:
        yield provider
    finally:
        provider.stop()


def test_model_path_serves_that_file_for_its_id_and_as_the_stand_in(single):
    path = assets.model_file(QWEN)
    name = path.stem  # the single-engine provider named a file by its stem
    assert (single.stand_in, single.model_name, single.model_path, single.threads) == (QWEN, name, path, 1)
    for model in (QWEN, "gpt-4o"):
        body = {"model": model, "messages": [{"role": "user", "content": "Write a Python hello world."}],
                "max_tokens": 12, "temperature": 0}
        oa = openai.OpenAI(base_url=f"{single.base_url}/v1", api_key="local", max_retries=0)
        raw = oa.chat.completions.with_raw_response.create(**body)
        assert raw.headers[HEADER] == name
        # the answer is the engine's own greedy completion of the prompt (seed 1234, no prompt cache)
        prompt = single.prompt(body)["prompt"]
        direct = httpx.post(f"{single.engine_url}/completion", timeout=120, json={
            "prompt": prompt, "n_predict": 12, "temperature": 0, "seed": 1234, "cache_prompt": False}).json()
        assert raw.parse().choices[0].message.content == direct["content"]
    engine = single.engines()[QWEN]
    assert (engine["model_path"], engine["threads"], engine["n_parallel"]) == (str(path), 1, 1)
    assert engine["sha256"] == catalog.models().set_index("model_id").at[QWEN, "gguf_sha256"]
    assert single.props()["total_slots"] == 1 and single.props()["model_path"] == str(path)


def test_a_missing_model_file_is_named_and_the_provider_keeps_serving(single, monkeypatch):
    with pytest.raises(openai.InternalServerError, match=f"the engine of '{QWEN_15}' did not start: .*not assembled"):
        ask(single.base_url, QWEN_15)
    failed = single.engines()[QWEN_15]
    assert failed["state"] == "failed" and "make env" in failed["error"] and not failed["running"]
    assert ask(single.base_url, "gpt-4o")[1] == single.model_name
    monkeypatch.setenv("WORKBENCH_LOCAL_URL", single.base_url)
    assert clients.local_model_name() == single.model_name  # the provider it talks to says who answers


def test_a_stand_in_that_cannot_start_stops_the_provider_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_MODELS", str(tmp_path))
    with pytest.raises(EngineError, match=f"the engine of '{QWEN_15}' did not start: model '{QWEN_15}'.*not assembled"):
        LocalProvider(stand_in=QWEN_15, log_dir=tmp_path).start()
    with pytest.raises(EngineError, match=f"the engine of '{SMOL}' did not start: memory_budget: {SMOL} needs "):
        LocalProvider(memory_budget=1000, log_dir=tmp_path).start()

