"""workbench.engine_speed: the local engine's prefill, decode, threads and concurrency, measured for real."""
from __future__ import annotations

import asyncio

import pandas as pd
import pytest
from workbench import engine_speed, gguf_facts, host
from workbench.local import LocalProvider
from workbench.params import ParameterError


@pytest.fixture(scope="module")
def facts() -> gguf_facts.ModelFacts:
    return gguf_facts.model_facts()


def test_mixed_throughput() -> None:
    # 1000 tokens at 1000/s take 1 s, 100 tokens at 10/s take 10 s: 1100 tokens in 11 s
    assert engine_speed.mixed_throughput(1000, 10, 1000, 100) == pytest.approx(100.0)
    assert engine_speed.mixed_throughput(1000, 10, 0, 50) == pytest.approx(10.0)
    with pytest.raises(ParameterError, match="decode_tps"):
        engine_speed.mixed_throughput(1000, -1, 10, 10)
    with pytest.raises(ParameterError, match="output_tokens: expected a whole number >= 1"):
        engine_speed.mixed_throughput(1000, 10, 0, 0)  # a request needs at least one token


def test_throughput_summary_arithmetic() -> None:
    rows = pd.DataFrame({
        "concurrency": [1, 1, 2, 2],
        "completion_tokens": [11, 21, 11, 11],
        "ttft_s": [0.5, 0.5, 1.0, 1.0],
        "latency_s": [1.5, 2.5, 2.0, 3.0],
        "level_wall_s": [4.0, 4.0, 3.0, 3.0],
    })
    out = engine_speed.throughput_summary(rows).set_index("concurrency")
    assert out.loc[1, "aggregate_tps"] == pytest.approx(32 / 4.0)
    assert out.loc[2, "aggregate_tps"] == pytest.approx(22 / 3.0)
    # per stream: tokens after the first over the time after the first token: 10/1, 20/2 -> median 10
    assert out.loc[1, "per_stream_tps"] == pytest.approx(10.0)
    assert out.loc[2, "per_stream_tps"] == pytest.approx((10 / 1.0 + 10 / 2.0) / 2)
    assert out.loc[2, "latency_median_s"] == pytest.approx(2.5)
    with pytest.raises(ParameterError, match="requests"):
        engine_speed.throughput_summary(pd.DataFrame({"x": [1]}))


def test_coroutines_run_inside_a_running_loop() -> None:
    async def inner() -> int:
        await asyncio.sleep(0)
        return 7

    async def outer() -> int:  # as in Jupyter, where a loop is already running
        return engine_speed._run_coroutine(inner())

    assert engine_speed._run_coroutine(inner()) == 7
    assert asyncio.run(outer()) == 7


# ---- measurements on this machine ----------------------------------------------------------------------
def test_engine_speed_from_its_timings(local_provider: LocalProvider, facts: gguf_facts.ModelFacts) -> None:
    info = engine_speed.engine_info(local_provider.base_url)
    assert info["props"]["model_ftype"] == facts.file_type  # the server and the file agree
    assert int(info["props"]["total_slots"]) == local_provider.n_parallel
    run = host.new_run(info["model"])
    speed = engine_speed.measure_engine_speed([8, 40], n_predict=4, seed=3, info=info, run=run, progress=False)
    assert list(speed["prompt_tokens"]) == [8, 40]
    assert (speed["prefill_tokens"] == speed["prompt_tokens"]).all()  # nothing came from the prompt cache
    assert (speed["cached_tokens"] == 0).all()
    assert (speed["decoded_tokens"] == 4).all()  # end-of-sequence ignored: exactly n_predict
    assert (speed["prefill_tps"] > 0).all() and (speed["decode_tps"] > 0).all()
    assert set(speed["run_id"]) == {run.run_id} and set(speed["model"]) == {info["model"]}
    slot_ctx = int(info["props"]["default_generation_settings"]["n_ctx"])
    with pytest.raises(ParameterError, match="prompt_lengths"):
        engine_speed.measure_engine_speed([slot_ctx], n_predict=4, info=info, progress=False)


def test_prompt_pool_is_real_text(local_provider: LocalProvider) -> None:
    info = engine_speed.engine_info(local_provider.base_url)
    pool = engine_speed.prompt_token_pool(info["engine_url"])
    assert len(pool) > 1000 and len(set(pool)) > 300


def test_concurrency_through_the_sdk(local_provider: LocalProvider) -> None:
    run = host.new_run("local")
    rows = engine_speed.measure_concurrency([1, 2], 2, max_tokens=4, seed=1, run=run, progress=False)
    assert len(rows) == 4 and sorted(set(rows["concurrency"])) == [1, 2]
    assert rows["completion_tokens"].between(1, 4).all() and (rows["prompt_tokens"] > 0).all()
    assert (rows["ttft_s"] <= rows["latency_s"]).all()
    two = rows[rows["concurrency"] == 2]
    # both requests were in flight together: each started before the other finished
    assert two["started_s"].max() < two["finished_s"].min()
    summary = engine_speed.throughput_summary(rows).set_index("concurrency")
    for level in (1, 2):
        part = rows[rows["concurrency"] == level]
        assert summary.loc[level, "aggregate_tps"] == pytest.approx(
            part["completion_tokens"].sum() / (part["finished_s"].max() - part["started_s"].min()))


def test_concurrency_refuses_unreachable_levels() -> None:
    with pytest.raises(ParameterError, match="n_requests: expected at least 4 requests to keep 4 in flight"):
        engine_speed.measure_concurrency([1, 4], 2)
    with pytest.raises(ParameterError, match="concurrency_levels"):
        engine_speed.measure_concurrency([0], 2)
    with pytest.raises(ValueError, match="model"):
        engine_speed.measure_concurrency([1], 1, model="gpt-9")


def test_threads_on_a_fresh_engine() -> None:
    run = host.new_run("threads")
    out = engine_speed.measure_threads([1], prompt_tokens=8, n_predict=2, repeats=1, run=run, progress=False)
    assert list(out["threads"]) == [1] and list(out["decoded_tokens"]) == [2]
    assert (out["decode_tps"] > 0).all() and set(out["run_id"]) == {run.run_id}
    with pytest.raises(ParameterError, match="thread_counts"):
        engine_speed.measure_threads([1000])
