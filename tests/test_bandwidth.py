"""workbench.bandwidth: memory bandwidth measured with numpy, and the decode roofline it sets."""
from __future__ import annotations

import pytest
from workbench import bandwidth, host
from workbench.params import ParameterError


def test_decode_roofline() -> None:
    assert bandwidth.decode_roofline(10.0, 1e8) == pytest.approx(100.0)
    with pytest.raises(ParameterError, match="bandwidth_gb_per_s"):
        bandwidth.decode_roofline(0, 1e8)


def test_measure_bandwidth_small() -> None:
    run = host.new_run("numpy")
    bw = bandwidth.measure_bandwidth(size_mb=64, repeats=2, threads=[1], run=run, progress=False)
    assert len(bw) == 2 * len(bandwidth.BANDWIDTH_KERNELS)
    assert set(bw["run_id"]) == {run.run_id}
    assert (bw["gb_per_s"] > 0.1).all()  # any machine moves more than 100 MB/s
    copy = bw[bw["kernel"] == "copy"].iloc[0]
    assert copy["bytes_moved"] == 2 * 64 * 2**20
    medians = bw.groupby("kernel")["gb_per_s"].median()
    assert bandwidth.bandwidth_gbs(bw) == pytest.approx(medians["read"])  # decode reads: the default
    assert bandwidth.bandwidth_gbs(bw, None) == pytest.approx(medians.max())
    with pytest.raises(ParameterError, match="size_mb"):
        bandwidth.measure_bandwidth(size_mb=8)
    with pytest.raises(ParameterError, match="kernel"):
        bandwidth.bandwidth_gbs(bw, "triad")
