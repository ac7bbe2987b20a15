"""workbench.request_media: base64 text, frames sampled from a video, speech as a transcript."""
from __future__ import annotations

import base64

import pytest
from workbench import request_media, samples


def test_b64_round_trips():
    s = samples.sign()
    assert base64.b64decode(request_media.b64(s)) == s.data
    with pytest.raises(TypeError, match="sample"):
        request_media.b64(s.data)  # type: ignore[arg-type]


def test_video_frames_sample_one_frame_per_second_with_the_right_picture():
    from workbench.local import media

    clip = samples.clip()
    frames = request_media.video_frames(clip, every_s=1.0, max_frames=10)
    assert [f.t for f in frames] == [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]
    assert all(f.png.startswith(b"\x89PNG") for f in frames)
    assert clip.truth["segments"][2]["word"] in media.image_to_text(frames[2].png, "image/png")
    assert len(request_media.video_frames(clip, every_s=0.5, max_frames=3)) == 3
    with pytest.raises(ValueError, match="sample"):
        request_media.video_frames(samples.sign())
    with pytest.raises(ValueError, match="every_s"):
        request_media.video_frames(clip, every_s=0)
    with pytest.raises(ValueError, match="max_frames"):
        request_media.video_frames(clip, max_frames=0)


def test_transcribe_is_the_speech_to_text_step():
    speech = samples.speech()
    text = request_media.transcribe(speech)
    assert not text.startswith("Audio:") and "invoice" in text.lower()
    assert samples.word_error_rate(speech.truth["text"], text) < 0.5
    with pytest.raises(ValueError, match="sample"):
        request_media.transcribe(samples.sign())
