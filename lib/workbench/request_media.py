"""Media made ready for a request: base64 text, frames sampled from a video, and speech as a transcript.

The JSON APIs carry media as base64 text (:func:`b64`). A model without native video gets frames sampled
every few seconds (:func:`video_frames`, the sources' "a frame every N seconds, at most ten"); a model
without audio input gets a transcript made first (:func:`transcribe`, Whisper run locally). The API
chapters call these in their SDK code; they work on :class:`workbench.samples.Sample` media.
"""
from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass, field

from . import params, samples

__all__ = ["Frame", "b64", "transcribe", "video_frames"]


def b64(sample: samples.Sample) -> str:
    """The sample's bytes as base64 text (what the JSON APIs carry; never raw bytes)."""
    if not isinstance(sample, samples.Sample):
        raise TypeError(f"sample: expected a workbench.samples.Sample, got {type(sample).__name__}")
    return base64.b64encode(sample.data).decode("ascii")


@dataclass(frozen=True)
class Frame:
    """One frame sampled from a video: its time in seconds and the picture as PNG bytes."""

    t: float
    png: bytes = field(repr=False)
    mime: str = "image/png"

    def b64(self) -> str:
        """The PNG as base64 text."""
        return base64.b64encode(self.png).decode("ascii")


def _check_kind(sample: samples.Sample, kind: str) -> None:
    if not isinstance(sample, samples.Sample) or not sample.mime.startswith(f"{kind}/"):
        raise params.ParameterError("sample", f"a {kind} Sample", getattr(sample, "mime", type(sample).__name__))


def video_frames(sample: samples.Sample, every_s: float = 1.0, max_frames: int = 10) -> list[Frame]:
    """Sample frames from a video every ``every_s`` seconds (mid-interval), at most ``max_frames``.

    This is the frame-sampling pipeline for models without native video input. Frames are decoded by
    the ffmpeg bundled in ``imageio-ffmpeg``.
    """
    import imageio_ffmpeg
    import numpy as np
    from PIL import Image

    _check_kind(sample, "video")
    every_s = params.positive(every_s, "every_s")
    max_frames = params.count(max_frames, "max_frames")
    gen = imageio_ffmpeg.read_frames(str(sample.path))
    try:
        meta = next(gen)
        w, h = meta["size"]
        fps = float(meta["fps"])
        raw = [np.frombuffer(f, dtype=np.uint8).reshape(h, w, 3) for f in gen]
    finally:
        gen.close()
    duration = len(raw) / fps
    frames: list[Frame] = []
    t = every_s / 2
    while t < duration and len(frames) < max_frames:
        buf = io.BytesIO()
        Image.fromarray(raw[min(len(raw) - 1, int(t * fps))]).save(buf, format="PNG")
        frames.append(Frame(round(t, 3), buf.getvalue()))
        t += every_s
    return frames


def transcribe(sample: samples.Sample) -> str:
    """Speech to text with Whisper tiny.en, run locally (the first step of a transcript pipeline).

    The same local step serves both backends: a model without audio input (Claude) then reads the text.
    """
    from .local import media

    _check_kind(sample, "audio")
    text = media.audio_to_text(sample.data, sample.mime)
    m = re.search(r"Transcript \([^)]*\): (.*)", text, re.DOTALL)
    if m is None:
        raise RuntimeError(f"transcribe: unexpected output of workbench.local.media.audio_to_text: {text[:120]!r}")
    return m.group(1).strip()
