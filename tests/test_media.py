"""workbench.local.media: the OCR / Whisper / video adapters on the real sample media.

Each adapter runs once per module on each sample (module fixtures), so the models load once.
"""
from __future__ import annotations

import io
import re
import subprocess
import threading
from pathlib import Path

import imageio_ffmpeg
import pytest
from PIL import Image
from workbench import samples
from workbench.local import media

# Measured: Whisper tiny.en hears "finance team" as "fine and steam" -> WER 3/12 = 0.25.
MAX_WER = 0.34


@pytest.fixture(scope="module")
def every() -> dict[str, samples.Sample]:
    return {s.name: s for s in samples.all_samples()}


@pytest.fixture(scope="module")
def image_texts(every: dict[str, samples.Sample]) -> dict[str, str]:
    return {n: media.image_to_text(every[n].data, every[n].mime)
            for n in ("chart_2024", "chart_2025", "invoice", "sign")}


@pytest.fixture(scope="module")
def speech_text(every: dict[str, samples.Sample]) -> str:
    s = every["speech"]
    return media.audio_to_text(s.data, s.mime)


@pytest.fixture(scope="module")
def clip_text(every: dict[str, samples.Sample]) -> str:
    s = every["clip"]
    return media.video_to_text(s.data, s.mime, max_frames=6)


def _transcript(text: str) -> str:
    return text.split("Transcript (Whisper tiny.en): ", 1)[1]


# ---------------------------------------------------------------------------- images
def test_chart_values_read(image_texts: dict[str, str], every: dict[str, samples.Sample]) -> None:
    for name in ("chart_2024", "chart_2025"):
        text = image_texts[name]
        assert text.startswith("Image: PNG, 800x500 px.")
        result = samples.check_answer(every[name], text)
        assert result["values_found"] == 4, (name, result, text)
        assert re.search(r"Q1\s+Q2\s+Q3\s+Q4", text)  # the tick labels, on one line, in order


def test_invoice_total_read(image_texts: dict[str, str], every: dict[str, samples.Sample]) -> None:
    text = image_texts["invoice"]
    result = samples.check_answer(every["invoice"], text)
    assert result["total_found"], text
    assert result["score"] >= 0.9, result
    # reading order keeps each table row on one line
    assert re.search(r"Blue ink cartridge\s+2\s+24\.99\s+49\.98", text), text


def test_sign_read(image_texts: dict[str, str], every: dict[str, samples.Sample]) -> None:
    text = image_texts["sign"]
    assert samples.check_answer(every["sign"], text)["score"] == 1.0, text
    lines = text.splitlines()
    assert lines.index("NO PARKING") < next(i for i, line in enumerate(lines) if "FRI" in line)


def test_jpeg_and_transparent_png(every: dict[str, samples.Sample]) -> None:
    img = Image.open(io.BytesIO(every["sign"].data)).convert("RGB").resize((300, 360))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    text = media.image_to_text(buf.getvalue(), "image/jpeg")
    assert text.startswith("Image: JPEG, 300x360 px.") and "PARKING" in text
    blank = io.BytesIO()
    Image.new("RGBA", (64, 32), (0, 0, 0, 0)).save(blank, format="PNG")
    assert media.image_to_text(blank.getvalue(), "image/png").endswith("No text found by OCR.")


# ---------------------------------------------------------------------------- audio
def test_speech_transcript(speech_text: str, every: dict[str, samples.Sample]) -> None:
    assert speech_text.startswith("Audio: WAV (pcm_s16le), 16000 Hz, mono, 4.9 s.")
    wer = samples.word_error_rate(every["speech"].truth["text"], _transcript(speech_text))
    assert wer <= MAX_WER, speech_text


def test_speech_as_ogg_opus(every: dict[str, samples.Sample], tmp_path: Path) -> None:
    src, dst = tmp_path / "s.wav", tmp_path / "s.ogg"
    src.write_bytes(every["speech"].data)
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(src),
                    "-c:a", "libopus", "-b:a", "32k", str(dst)], check=True)
    text = media.audio_to_text(dst.read_bytes(), "audio/ogg; codecs=opus")
    assert text.startswith("Audio: OGG (opus), 48000 Hz, mono")
    assert samples.word_error_rate(samples.SPEECH_TEXT, _transcript(text)) <= MAX_WER, text


def test_whisper_model_is_pinned_tiny_en(speech_text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    model = media._whisper_model()
    assert not model.model.is_multilingual and model.model.n_mels == 80
    assert media._sha256(media.whisper_model_dir() / "model.bin") == media.WHISPER_SHA256
    monkeypatch.setattr(media, "_whisper", None)
    monkeypatch.setattr(media, "WHISPER_SHA256", "0" * 64)
    with pytest.raises(media.ModelFileError, match="model.bin has SHA-256 1a5afae0"):
        media.audio_to_text(samples.speech().data, "audio/wav")


# ---------------------------------------------------------------------------- video
def test_clip_text_per_timestamp(clip_text: str, every: dict[str, samples.Sample]) -> None:
    truth = every["clip"].truth
    lines = clip_text.splitlines()
    assert lines[0].startswith("Video: MP4 (h264), 6.0 s, 512x288 px, 2 fps; 6 frames sampled")
    stamps = [re.match(r"\[t=([\d.]+)s\] (.*)", l) for l in lines[1:]]
    assert len(stamps) == 6 and all(stamps)
    for m in stamps:
        t, text = float(m.group(1)), m.group(2)
        seg = next(s for s in truth["segments"] if s["start"] <= t < s["end"])
        assert seg["word"] in text, (t, text)
        assert re.search(rf"Scene ?{seg['start'] + 1:.0f}\b", text), (t, text)


def test_clip_as_webm_one_frame(every: dict[str, samples.Sample], tmp_path: Path) -> None:
    src, dst = tmp_path / "c.mp4", tmp_path / "c.webm"
    src.write_bytes(every["clip"].data)
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(src),
                    "-c:v", "libvpx-vp9", "-b:v", "200k", str(dst)], check=True)
    text = media.video_to_text(dst.read_bytes(), "video/webm", max_frames=1)
    lines = text.splitlines()
    assert len(lines) == 2 and lines[1].startswith("[t=3.0s]") and "DRAGON" in lines[1], text


# ---------------------------------------------------------------------------- errors
GARBAGE = b"this is not a media file at all \x00\x01\x02" * 20


@pytest.mark.parametrize("func,mime", [
    (media.image_to_text, "image/png"),
    (media.audio_to_text, "audio/mpeg"),
    (media.video_to_text, "video/mp4"),
])
def test_garbage_bytes_name_the_mime(func, mime: str) -> None:
    with pytest.raises(media.MediaError, match=f"cannot decode the data as {re.escape(mime)}") as err:
        func(GARBAGE, mime)
    # plain words about the input; the decoder's own message (object addresses, ffmpeg output, a temp
    # path) stays in __cause__
    assert err.value.reason.startswith(f"cannot decode the data as {mime}: it is not a complete, valid")
    assert not any(x in str(err.value) for x in ("0x", "BytesIO", "/tmp", "ffmpeg")), str(err.value)
    assert err.value.__cause__ is not None


@pytest.mark.parametrize("func,mime", [
    (media.image_to_text, "image/svg+xml"),
    (media.audio_to_text, "audio/midi"),
    (media.video_to_text, "video/x-flv"),
    (media.to_text, "text/plain"),
    (media.image_to_text, "audio/wav"),
])
def test_unknown_mime(func, mime: str) -> None:
    with pytest.raises(media.MediaError, match=f"unsupported mime '{re.escape(mime)}'"):
        func(b"\x89PNG", mime)


def test_other_bad_input(every: dict[str, samples.Sample]) -> None:
    with pytest.raises(media.MediaError, match="data is empty"):
        media.image_to_text(b"", "image/png")
    with pytest.raises(media.MediaError, match="data must be bytes"):
        media.audio_to_text("speech.wav", "audio/wav")  # type: ignore[arg-type]
    with pytest.raises(media.MediaError, match="mime must be a string"):
        media.image_to_text(every["sign"].data, None)  # type: ignore[arg-type]
    with pytest.raises(media.MediaError, match="max_frames"):
        media.video_to_text(every["clip"].data, "video/mp4", max_frames=0)
    with pytest.raises(media.MediaError, match="has no audio stream"):
        media.audio_to_text(every["clip"].data, "audio/mp4")
    assert issubclass(media.MediaError, ValueError)


def test_to_text_dispatches(image_texts: dict[str, str], every: dict[str, samples.Sample]) -> None:
    assert media.to_text(every["sign"].data, "IMAGE/PNG") == image_texts["sign"]


def test_media_threads_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_MEDIA_THREADS", "2")
    assert 1 <= media.media_threads() <= 2
    for bad in ("0", "two"):
        monkeypatch.setenv("WORKBENCH_MEDIA_THREADS", bad)
        with pytest.raises(RuntimeError, match="WORKBENCH_MEDIA_THREADS"):
            media.media_threads()


def test_ocr_loads_once_across_threads(image_texts: dict[str, str]) -> None:
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(media._ocr())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 4 and all(g is got[0] for g in got)
