"""workbench.samples: deterministic sample media whose truth matches what was drawn or spoken."""
from __future__ import annotations

import io
import itertools
import re
import wave
from decimal import Decimal

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image
from workbench import catalog, paths, samples


@pytest.fixture(scope="module")
def every() -> dict[str, samples.Sample]:
    return {s.name: s for s in samples.all_samples()}


def test_all_samples_named_and_written(every: dict[str, samples.Sample]) -> None:
    assert tuple(every) == samples.SAMPLE_NAMES
    for s in every.values():
        assert s.data and s.path.is_file()
        assert s.path.read_bytes() == s.data, s.name
        assert s.truth["expected"], s.name
        assert s.mime.split("/")[0] in {"image", "audio", "video"}
    assert "data" not in repr(every["chart_2024"])  # bytes are kept out of the repr


@pytest.mark.parametrize("name", ["chart_2024", "chart_2025", "invoice", "sign", "clip"])
def test_same_bytes_twice(name: str, every: dict[str, samples.Sample]) -> None:
    assert samples.get(name).data == every[name].data


def test_chart_ignores_caller_style(every: dict[str, samples.Sample]) -> None:
    import matplotlib

    with matplotlib.rc_context({"font.size": 30, "axes.facecolor": "black", "figure.dpi": 300}):
        assert samples.chart(2024).data == every["chart_2024"].data


def test_chart_truth_matches_values(every: dict[str, samples.Sample]) -> None:
    for year in (2024, 2025):
        s = every[f"chart_{year}"]
        values = list(samples.CHART_VALUES[year])
        assert s.truth["values"] == values and s.truth["expected"] == values
        assert s.truth["labels"] == ["Q1", "Q2", "Q3", "Q4"]
        assert s.truth["highest"] == s.truth["labels"][values.index(max(values))]
        assert str(year) in s.truth["title"]
        assert Image.open(io.BytesIO(s.data)).size == (800, 500)
    assert every["chart_2024"].data != every["chart_2025"].data


def test_chart_bad_year() -> None:
    with pytest.raises(ValueError, match="year"):
        samples.chart(2023)


def test_invoice_arithmetic(every: dict[str, samples.Sample]) -> None:
    t = every["invoice"].truth
    cent = Decimal("0.01")
    for it in t["items"]:
        assert Decimal(str(it["unit_price"])) * it["qty"] == Decimal(str(it["amount"]))
    subtotal = sum(Decimal(str(it["amount"])) for it in t["items"])
    assert Decimal(str(t["subtotal"])) == subtotal
    assert Decimal(str(t["tax"])) == (subtotal * t["tax_rate_pct"] / 100).quantize(cent)
    assert Decimal(str(t["total"])) == subtotal + Decimal(str(t["tax"]))
    assert t["total"] == 152.56 and len(t["items"]) == 4


def test_speech_file_and_truth(every: dict[str, samples.Sample]) -> None:
    s = every["speech"]
    assert s.path == paths.DATA / "media" / "speech.wav"
    assert len(s.data) < 200_000
    with wave.open(io.BytesIO(s.data)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        assert 3.0 < w.getnframes() / w.getframerate() < 8.0
    # the truth is the sentence the committed script spoke
    script = (paths.DATA / "media" / "make_speech.sh").read_text()
    assert re.search(r'^sentence="(.*)"$', script, re.MULTILINE).group(1) == s.truth["text"] == samples.SPEECH_TEXT


def test_clip_frames_match_truth(every: dict[str, samples.Sample]) -> None:
    s = every["clip"]
    t = s.truth
    s.path.write_bytes(s.data)
    nframes, secs = imageio_ffmpeg.count_frames_and_secs(str(s.path))
    assert nframes == t["fps"] * t["duration_s"] == 12
    assert secs == pytest.approx(t["duration_s"], abs=0.1)
    gen = imageio_ffmpeg.read_frames(str(s.path))
    meta = next(gen)
    w, h = meta["size"]
    assert [w, h] == t["size"]
    frames = [np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in gen]
    # two identical frames per second, and a different picture every second
    per_second = [frames[2 * i].astype(int) for i in range(len(t["segments"]))]
    for i in range(len(t["segments"])):
        assert np.abs(frames[2 * i].astype(int) - frames[2 * i + 1]).mean() < 2
    for a, b in itertools.pairwise(per_second):
        assert np.abs(a - b).mean() > 5
    assert [seg["start"] for seg in t["segments"]] == list(range(6))
    assert [seg["word"] for seg in t["segments"]] == t["expected"]


def test_unknown_sample_name() -> None:
    with pytest.raises(catalog.UnknownNameError, match="name: unknown sample 'chart'"):
        samples.get("chart")


def test_check_answer_invoice(every: dict[str, samples.Sample]) -> None:
    s = every["invoice"]
    good = ("Invoice INV-2024-0042: Printer paper A4 26.00, Blue ink cartridge $49.98, Stapler 12.75, "
            "Desk lamp 38.4; subtotal 127.13, VAT 25.43, total $152.56.")
    r = samples.check_answer(s, good)
    assert r["score"] == 1.0 and r["total_found"] and r["missing"] == []
    r = samples.check_answer(s, "The total is 125.56 and the stapler is missing.")
    assert not r["total_found"] and r["score"] < 0.2
    assert 152.56 in r["missing"]


def test_check_answer_chart_numbers(every: dict[str, samples.Sample]) -> None:
    s = every["chart_2024"]
    assert samples.check_answer(s, "Q1 12.4, Q2 15.10, Q3 9.8, Q4 18.6")["values_found"] == 4
    r = samples.check_answer(s, "Q1 12, Q2 15, Q3 10, Q4 19")
    assert r["values_found"] == 0 and r["score"] == 0.0


def test_check_answer_speech_and_clip(every: dict[str, samples.Sample]) -> None:
    sp = every["speech"]
    assert samples.check_answer(sp, samples.SPEECH_TEXT.upper())["wer"] == 0.0
    r = samples.check_answer(sp, "Please send the final invoice to the fine and steam before Friday afternoon.")
    assert r["wer"] == pytest.approx(3 / 12)
    clip = every["clip"]
    forward = samples.check_answer(clip, "apple, bridge, candle, dragon, eagle, forest")
    backward = samples.check_answer(clip, "forest eagle dragon candle bridge apple")
    assert forward["in_order"] and forward["segments_found"] == 6
    assert not backward["in_order"] and backward["score"] == 1.0


def test_check_answer_sign_and_bad_input(every: dict[str, samples.Sample]) -> None:
    s = every["sign"]
    assert samples.check_answer(s, "No parking 8am to 6pm, Monday to Friday, tow-away zone.")["score"] == 1.0
    assert samples.check_answer(s, "A stop sign.")["score"] == 0.0
    with pytest.raises(TypeError, match="text"):
        samples.check_answer(s, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sample"):
        samples.check_answer("sign", "x")  # type: ignore[arg-type]


def test_word_error_rate() -> None:
    assert samples.word_error_rate("a b c d", "a b x d") == 0.25
    with pytest.raises(ValueError, match="reference"):
        samples.word_error_rate("...", "a")
