"""workbench.host_figures: chapter 05's figures from measurement tables of the documented shape."""
from __future__ import annotations

import matplotlib
import pandas as pd
import pytest
from workbench import bandwidth, gguf_facts, host, host_figures
from workbench.params import ParameterError

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def facts() -> gguf_facts.ModelFacts:
    return gguf_facts.model_facts()


def test_bandwidth_figure_from_a_real_measurement() -> None:
    bw = bandwidth.measure_bandwidth(size_mb=64, repeats=2, threads=[1], progress=False)
    used = bandwidth.bandwidth_gbs(bw)
    fig = host_figures.bandwidth_figure(bw, used, "test host")
    ax = fig.axes[0]
    assert len(ax.patches) == len(bandwidth.BANDWIDTH_KERNELS)      # one bar per kernel and thread count
    assert ax.lines[0].get_ydata()[0] == pytest.approx(used)
    assert "test host" in ax.get_title()


def test_prefill_decode_figure_draws_the_roofline(facts: gguf_facts.ModelFacts) -> None:
    speed = pd.DataFrame({"prompt_tokens": [32, 128], "decoded_tokens": [16, 16], "prefill_tps": [300.0, 400.0],
                          "decode_tps": [30.0, 28.0]})
    speed = bandwidth.against_roofline(speed, facts, 10.0)
    assert list(speed["context at mid-decode"]) == [40, 136]
    assert speed.loc[0, "roofline tps"] == pytest.approx(10e9 / facts.bytes_per_token(40))
    fig = host_figures.prefill_decode_figure(speed, facts, 10.0, 2048, host.new_run("m"))
    decode = fig.axes[1]
    limit = decode.lines[0].get_ydata()
    assert limit[0] == pytest.approx(10e9 / facts.bytes_per_token(0)) and limit[-1] < limit[0]
    with pytest.raises(ParameterError, match="speed"):
        host_figures.prefill_decode_figure(speed.drop(columns=["context at mid-decode"]), facts, 10.0, 2048,
                                           host.new_run("m"))


def test_threads_and_concurrency_figures() -> None:
    threads = pd.DataFrame({"threads": [1, 1, 2], "prefill_tps": [100.0, 110.0, 150.0], "decode_tps": [20.0, 22.0, 12.0]})
    fig = host_figures.threads_figure(threads, 32, "test host")
    assert [p.get_height() for p in fig.axes[1].patches] == [21.0, 12.0]   # medians per thread count
    summary = pd.DataFrame({"concurrency": [1, 2, 4], "aggregate_tps": [20.0, 35.0, 50.0],
                            "per_stream_tps": [20.0, 17.0, 12.0], "latency_median_s": [1.0, 1.2, 1.9],
                            "latency_p95_s": [1.1, 1.4, 2.5], "ttft_median_s": [0.1, 0.2, 0.4]})
    fig = host_figures.concurrency_figure(summary, 4, "subtitle")
    throughput, latency = fig.axes
    assert len(throughput.get_lines()) == 3 and len(latency.get_lines()) == 4   # with the slot-count marker
    assert any(t.get_text() == "4 slots" for t in throughput.texts)
