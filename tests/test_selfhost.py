"""workbench.selfhost: GGUF facts, bandwidth and roofline arithmetic, and the engine measured for real."""
from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pandas as pd
import pytest
from workbench import selfhost
from workbench.local import LocalProvider, find_model
from workbench.selfhost import SelfHostError


# ---- the model file ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def facts() -> selfhost.ModelFacts:
    return selfhost.model_facts()


def test_model_facts_read_from_the_gguf(facts: selfhost.ModelFacts) -> None:
    assert facts.path == find_model()
    assert facts.architecture == "llama"
    assert facts.file_type == "Q4_1"
    # "135M" in the file's own size label, within rounding of the counted weights
    assert facts.size_label == "135M"
    assert abs(facts.parameters / 135e6 - 1) < 0.01
    # the tensors are almost the whole file (the rest is metadata: tokenizer, template)
    assert 0.9 * facts.file_bytes < facts.weight_bytes < facts.file_bytes
    assert (facts.layers, facts.heads, facts.kv_heads, facts.head_dim) == (30, 9, 3, 64)
    assert facts.context_length == 8192 and facts.vocab_size == 49152
    assert facts.tied_embeddings  # SmolLM2 has no separate output matrix
    # Q4_1: 32 weights share a 16-bit scale and a 16-bit minimum -> (32*4 + 32) / 32 = 5 bits per weight
    bits = facts.by_type.set_index("type")["bits per weight"]
    assert bits["Q4_1"] == pytest.approx(5.0) and bits["Q8_0"] == pytest.approx(8.5)
    assert facts.by_type["bytes"].sum() == facts.weight_bytes
    table = facts.table()
    assert list(table.columns) == ["fact", "value"] and "Q4_1" in set(table["value"])


def test_bytes_per_token_counts_weights_and_kv_cache(facts: selfhost.ModelFacts) -> None:
    kv = 2 * 30 * 3 * 64 * 2  # K and V, layers, kv heads, head size, f16
    assert facts.kv_bytes_per_token() == kv
    assert facts.kv_bytes_per_token(1) == kv / 2
    # tied embedding: the whole matrix is read by the output layer, so every weight byte counts
    assert facts.bytes_per_token(0) == facts.weight_bytes
    assert facts.bytes_per_token(1000) == facts.weight_bytes + 1000 * kv
    with pytest.raises(SelfHostError, match="context_tokens"):
        facts.bytes_per_token(-1)


def test_model_facts_name_a_bad_file(tmp_path: Path) -> None:
    with pytest.raises(SelfHostError, match="model_path"):
        selfhost.model_facts(tmp_path / "missing.gguf")
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a model at all" * 10)
    with pytest.raises(SelfHostError, match="model_path.*not a GGUF"):
        selfhost.model_facts(junk)


# ---- arithmetic -------------------------------------------------------------------------------------
def test_decode_roofline_and_mixed_throughput() -> None:
    assert selfhost.decode_roofline(10.0, 1e8) == pytest.approx(100.0)
    # 1000 tokens at 1000/s take 1 s, 100 tokens at 10/s take 10 s: 1100 tokens in 11 s
    assert selfhost.mixed_throughput(1000, 10, 1000, 100) == pytest.approx(100.0)
    assert selfhost.mixed_throughput(1000, 10, 0, 50) == pytest.approx(10.0)
    with pytest.raises(SelfHostError, match="bandwidth_gb_per_s"):
        selfhost.decode_roofline(0, 1e8)
    with pytest.raises(SelfHostError, match="decode_tps"):
        selfhost.mixed_throughput(1000, -1, 10, 10)
    with pytest.raises(SelfHostError, match="input_tokens / output_tokens"):
        selfhost.mixed_throughput(1000, 10, 0, 0)


def test_parameter_checks_name_the_parameter() -> None:
    assert selfhost.check_positive_ints([4, 1, 2, 4], "levels") == [1, 2, 4]
    assert selfhost.check_positive_ints(3, "levels") == [3]
    for bad in ([], [0], [1.5], "1,2", [True], None):
        with pytest.raises(SelfHostError, match="^levels: "):
            selfhost.check_positive_ints(bad, "levels")
    with pytest.raises(SelfHostError, match="prompt_lengths: 5000 is more than the limit of 4000"):
        selfhost.check_positive_ints([10, 5000], "prompt_lengths", at_most=4000)
    assert selfhost.check_fraction(1, "utilisation") == 1.0
    with pytest.raises(SelfHostError, match="utilisation"):
        selfhost.check_fraction(1.5, "utilisation")
    with pytest.raises(SelfHostError, match="cpu_cost_per_hour"):
        selfhost.check_positive(float("nan"), "cpu_cost_per_hour")
    with pytest.raises(SelfHostError, match="seed"):
        selfhost.check_count(-1, "seed", minimum=0)


def test_run_stamp() -> None:
    run = selfhost.new_run("some model")
    assert re.fullmatch(r"selfhost-\d{8}-\d{6}-[0-9a-f]{4}", run.run_id)
    assert run.stamp() == {"run_id": run.run_id, "model": "some model", "measured_at": run.measured_at}
    assert run.measured_at.endswith("+00:00") and "cores" in run.host
    assert selfhost.new_run("m").run_id != selfhost.new_run("m").run_id
    with pytest.raises(SelfHostError, match="model"):
        selfhost.new_run("  ")


def test_throughput_summary_arithmetic() -> None:
    rows = pd.DataFrame({
        "concurrency": [1, 1, 2, 2],
        "completion_tokens": [11, 21, 11, 11],
        "ttft_s": [0.5, 0.5, 1.0, 1.0],
        "latency_s": [1.5, 2.5, 2.0, 3.0],
        "level_wall_s": [4.0, 4.0, 3.0, 3.0],
    })
    out = selfhost.throughput_summary(rows).set_index("concurrency")
    assert out.loc[1, "aggregate_tps"] == pytest.approx(32 / 4.0)
    assert out.loc[2, "aggregate_tps"] == pytest.approx(22 / 3.0)
    # per stream: tokens after the first over the time after the first token: 10/1, 20/2 -> median 10
    assert out.loc[1, "per_stream_tps"] == pytest.approx(10.0)
    assert out.loc[2, "per_stream_tps"] == pytest.approx((10 / 1.0 + 10 / 2.0) / 2)
    assert out.loc[2, "latency_median_s"] == pytest.approx(2.5)
    with pytest.raises(SelfHostError, match="requests"):
        selfhost.throughput_summary(pd.DataFrame({"x": [1]}))


def test_coroutines_run_inside_a_running_loop() -> None:
    async def inner() -> int:
        await asyncio.sleep(0)
        return 7

    async def outer() -> int:  # as in Jupyter, where a loop is already running
        return selfhost._run_coroutine(inner())

    assert selfhost._run_coroutine(inner()) == 7
    assert asyncio.run(outer()) == 7


# ---- measurements on this machine ----------------------------------------------------------------------
def test_measure_bandwidth_small() -> None:
    run = selfhost.new_run("numpy")
    bw = selfhost.measure_bandwidth(size_mb=64, repeats=2, threads=[1], run=run, progress=False)
    assert len(bw) == 2 * len(selfhost.BANDWIDTH_KERNELS)
    assert set(bw["run_id"]) == {run.run_id}
    assert (bw["gb_per_s"] > 0.1).all()  # any machine moves more than 100 MB/s
    copy = bw[bw["kernel"] == "copy"].iloc[0]
    assert copy["bytes_moved"] == 2 * 64 * 2**20
    medians = bw.groupby("kernel")["gb_per_s"].median()
    assert selfhost.bandwidth_gbs(bw) == pytest.approx(medians["read"])  # decode reads: the default
    assert selfhost.bandwidth_gbs(bw, None) == pytest.approx(medians.max())
    with pytest.raises(SelfHostError, match="size_mb"):
        selfhost.measure_bandwidth(size_mb=8)
    with pytest.raises(SelfHostError, match="kernel"):
        selfhost.bandwidth_gbs(bw, "triad")


def test_engine_speed_from_its_timings(local_provider: LocalProvider, facts: selfhost.ModelFacts) -> None:
    info = selfhost.engine_info(local_provider.base_url)
    assert info["props"]["model_ftype"] == facts.file_type  # the server and the file agree
    assert int(info["props"]["total_slots"]) == local_provider.n_parallel
    run = selfhost.new_run(info["model"])
    speed = selfhost.measure_engine_speed([8, 40], n_predict=4, seed=3, info=info, run=run, progress=False)
    assert list(speed["prompt_tokens"]) == [8, 40]
    assert (speed["prefill_tokens"] == speed["prompt_tokens"]).all()  # nothing came from the prompt cache
    assert (speed["cached_tokens"] == 0).all()
    assert (speed["decoded_tokens"] == 4).all()  # end-of-sequence ignored: exactly n_predict
    assert (speed["prefill_tps"] > 0).all() and (speed["decode_tps"] > 0).all()
    assert set(speed["run_id"]) == {run.run_id} and set(speed["model"]) == {info["model"]}
    slot_ctx = int(info["props"]["default_generation_settings"]["n_ctx"])
    with pytest.raises(SelfHostError, match="prompt_lengths"):
        selfhost.measure_engine_speed([slot_ctx], n_predict=4, info=info, progress=False)


def test_prompt_pool_is_real_text(local_provider: LocalProvider) -> None:
    info = selfhost.engine_info(local_provider.base_url)
    pool = selfhost.prompt_token_pool(info["engine_url"])
    assert len(pool) > 1000 and len(set(pool)) > 300


def test_concurrency_through_the_sdk(local_provider: LocalProvider) -> None:
    run = selfhost.new_run("local")
    rows = selfhost.measure_concurrency([1, 2], 2, max_tokens=4, seed=1, run=run, progress=False)
    assert len(rows) == 4 and sorted(set(rows["concurrency"])) == [1, 2]
    assert rows["completion_tokens"].between(1, 4).all() and (rows["prompt_tokens"] > 0).all()
    assert (rows["ttft_s"] <= rows["latency_s"]).all()
    two = rows[rows["concurrency"] == 2]
    # both requests were in flight together: each started before the other finished
    assert two["started_s"].max() < two["finished_s"].min()
    summary = selfhost.throughput_summary(rows).set_index("concurrency")
    for level in (1, 2):
        part = rows[rows["concurrency"] == level]
        assert summary.loc[level, "aggregate_tps"] == pytest.approx(
            part["completion_tokens"].sum() / (part["finished_s"].max() - part["started_s"].min()))


def test_concurrency_refuses_unreachable_levels() -> None:
    with pytest.raises(SelfHostError, match="n_requests: 2 requests cannot keep 4 in flight"):
        selfhost.measure_concurrency([1, 4], 2)
    with pytest.raises(SelfHostError, match="concurrency_levels"):
        selfhost.measure_concurrency([0], 2)
    with pytest.raises(ValueError, match="model"):
        selfhost.measure_concurrency([1], 1, model="gpt-9")


def test_threads_on_a_fresh_engine() -> None:
    run = selfhost.new_run("threads")
    out = selfhost.measure_threads([1], prompt_tokens=8, n_predict=2, repeats=1, run=run, progress=False)
    assert list(out["threads"]) == [1] and list(out["decoded_tokens"]) == [2]
    assert (out["decode_tps"] > 0).all() and set(out["run_id"]) == {run.run_id}
    with pytest.raises(SelfHostError, match="thread_counts"):
        selfhost.measure_threads([1000])
