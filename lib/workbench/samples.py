"""Sample media with KNOWN contents, so every chapter can check a model's answer against the truth.

Every sample is drawn (or, for speech, read from the committed ``data/media/speech.wav``) from fixed
inputs, so its ground truth is the input itself, not a label someone typed afterwards:

=============  ==========  ===================================================================
name           mime        what it shows / says
=============  ==========  ===================================================================
chart_2024     image/png   bar chart of quarterly revenue Q1..Q4 2024 with printed value labels
chart_2025     image/png   the same chart for 2025 (use both for a "several images" example)
invoice        image/png   an invoice with four line items, subtotal, VAT and total
sign           image/png   a parking sign (days and hours: a small reasoning question)
speech         audio/wav   one English sentence spoken by espeak-ng, 16 kHz mono
clip           video/mp4   6 s, 2 fps: one word per second ("Scene n" + WORD)
=============  ==========  ===================================================================

Each function returns a :class:`Sample` (bytes + truth + the path of a copy written under
``build/samples/``). Rendering is deterministic: the same call gives the same bytes, whatever
matplotlib style the caller has set. :func:`check_answer` scores a free-text answer against the truth
(numbers found, phrases found, word error rate for speech) so chapters can say honestly how a model did.
"""
from __future__ import annotations

import functools
import io
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from . import catalog, paths

__all__ = [
    "CHART_VALUES", "SAMPLE_NAMES", "SPEECH_TEXT", "Sample", "all_samples", "cached", "chart", "check_answer",
    "clip", "get", "invoice", "samples_dir", "sign", "speech", "word_error_rate",
]

#: Quarterly revenue (USD millions) drawn by :func:`chart`, per year.
CHART_VALUES: dict[int, tuple[float, float, float, float]] = {
    2024: (12.4, 15.1, 9.8, 18.6),
    2025: (14.2, 13.7, 16.9, 21.3),
}
_QUARTERS = ("Q1", "Q2", "Q3", "Q4")

#: The sentence spoken in ``data/media/speech.wav`` (must match ``data/media/make_speech.sh``).
SPEECH_TEXT = "Please send the final invoice to the finance team before Friday afternoon."
_SPEECH_FILE = "speech.wav"

_INVOICE = {
    "vendor": "ACME Office Supplies Ltd.",
    "number": "INV-2024-0042",
    "date": "2024-03-15",
    "customer": "Northwind Traders",
    "currency": "USD",
    "tax_rate_pct": 20,
    # description, quantity, unit price
    "items": (
        ("Printer paper A4", 4, "6.50"),
        ("Blue ink cartridge", 2, "24.99"),
        ("Stapler", 1, "12.75"),
        ("Desk lamp", 1, "38.40"),
    ),
}

_SIGN_LINES = ("NO PARKING", "8 AM - 6 PM", "MON - FRI", "TOW-AWAY ZONE")

_CLIP_WORDS = ("APPLE", "BRIDGE", "CANDLE", "DRAGON", "EAGLE", "FOREST")
_CLIP_FPS = 2
_CLIP_SIZE = (512, 288)  # width, height: multiples of 16, as H.264 likes

#: Every sample name accepted by :func:`get`.
SAMPLE_NAMES: tuple[str, ...] = ("chart_2024", "chart_2025", "invoice", "sign", "speech", "clip")


@dataclass(frozen=True)
class Sample:
    """One sample medium: its name, mime type, bytes, ground truth and a file copy on disk."""

    name: str
    mime: str
    data: bytes = field(repr=False)
    truth: dict[str, Any]
    path: Path

    @property
    def size_bytes(self) -> int:
        """Length of :attr:`data` in bytes."""
        return len(self.data)


# --------------------------------------------------------------------------------------------
# Helpers: cache folder, fonts
# --------------------------------------------------------------------------------------------
def samples_dir() -> Path:
    """The folder where sample files are written on demand (``build/samples/``; created if needed)."""
    folder = paths.BUILD / "samples"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _store(filename: str, data: bytes) -> Path:
    """Write ``data`` to the samples folder unless an identical file is there; atomic replace."""
    path = samples_dir() / filename
    if path.exists() and path.read_bytes() == data:
        return path
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{filename}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """DejaVu Sans from matplotlib's own data folder (always present, so rendering is stable)."""
    import matplotlib

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), size)


def _png(image: Image.Image) -> bytes:
    """Encode a PIL image as PNG with no metadata."""
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------
def chart(year: int = 2024) -> Sample:
    """A bar chart of quarterly revenue (USD millions) for ``year`` (2024 or 2025), values printed on bars.

    Truth: ``title``, ``labels`` (Q1..Q4), ``values``, ``unit``, ``highest`` (label of the tallest bar),
    ``total`` and ``expected`` (the four values, what a correct reading must contain).
    """
    if year not in CHART_VALUES:
        raise ValueError(f"year: no chart for {year!r}; choose one of {sorted(CHART_VALUES)}")
    import matplotlib
    import matplotlib.style
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    values = CHART_VALUES[year]
    title = f"Quarterly revenue {year} (USD millions)"
    # matplotlib's own defaults, whatever style the caller set, so the bytes never depend on it.
    with matplotlib.style.context("default"), matplotlib.rc_context({"font.family": "DejaVu Sans"}):
        fig = Figure(figsize=(8, 5), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        bars = ax.bar(_QUARTERS, values, color="#4C72B0", width=0.6)
        ax.bar_label(bars, labels=[f"{v:.1f}" for v in values], padding=4, fontsize=18, fontweight="bold")
        ax.set_title(title, fontsize=18, pad=14)
        ax.set_ylabel("Revenue (USD millions)", fontsize=14)
        ax.tick_params(axis="both", labelsize=14)
        ax.set_ylim(0, max(values) * 1.2)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Software": None})
    data = buf.getvalue()
    truth = {
        "title": title,
        "year": year,
        "unit": "USD millions",
        "labels": list(_QUARTERS),
        "values": list(values),
        "highest": _QUARTERS[int(np.argmax(values))],
        "total": round(sum(values), 1),
        "expected": list(values),
    }
    name = f"chart_{year}"
    return Sample(name, "image/png", data, truth, _store(f"{name}.png", data))


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):.2f}"


def invoice() -> Sample:
    """An invoice image with four line items, subtotal, VAT (20 %) and total, amounts computed exactly.

    Truth: ``vendor``, ``number``, ``date``, ``customer``, ``currency``, ``items`` (description, qty,
    unit_price, amount), ``subtotal``, ``tax_rate_pct``, ``tax``, ``total`` and ``expected`` (invoice
    number, item descriptions, amounts, subtotal, tax, total).
    """
    spec = _INVOICE
    cent = Decimal("0.01")
    items = []
    for desc, qty, unit in spec["items"]:
        amount = (Decimal(unit) * qty).quantize(cent, rounding=ROUND_HALF_UP)
        items.append({"description": desc, "qty": qty, "unit_price": float(unit), "amount": float(amount),
                      "_amount": amount, "_unit": Decimal(unit)})
    subtotal = sum((it["_amount"] for it in items), Decimal(0))
    tax = (subtotal * spec["tax_rate_pct"] / 100).quantize(cent, rounding=ROUND_HALF_UP)
    total = subtotal + tax

    width, height = 900, 760
    img = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(img)
    black, grey = (20, 20, 20), (90, 90, 90)
    d.text((50, 40), spec["vendor"], font=_font(34, bold=True), fill=black)
    d.text((50, 100), "INVOICE", font=_font(30, bold=True), fill=(30, 60, 140))
    d.text((50, 150), f"Invoice No: {spec['number']}", font=_font(24), fill=black)
    d.text((50, 185), f"Date: {spec['date']}", font=_font(24), fill=black)
    d.text((50, 220), f"Bill to: {spec['customer']}", font=_font(24), fill=black)

    cols = (50, 500, 680, 860)  # description (left edge); qty, unit price, amount (right edges)
    head_y = 290
    hf = _font(22, bold=True)
    d.text((cols[0], head_y), "Description", font=hf, fill=black)
    for x, label in zip(cols[1:], ("Qty", "Unit price", "Amount")):
        d.text((x, head_y), label, font=hf, fill=black, anchor="ra")
    d.line((50, head_y + 36, width - 50, head_y + 36), fill=grey, width=2)
    rf = _font(22)
    y = head_y + 55
    for it in items:
        d.text((cols[0], y), it["description"], font=rf, fill=black)
        d.text((cols[1], y), str(it["qty"]), font=rf, fill=black, anchor="ra")
        d.text((cols[2], y), _money(it["_unit"]), font=rf, fill=black, anchor="ra")
        d.text((cols[3], y), _money(it["_amount"]), font=rf, fill=black, anchor="ra")
        y += 45
    d.line((50, y, width - 50, y), fill=grey, width=2)
    y += 20
    for label, value, bold in (("Subtotal", subtotal, False), (f"VAT {spec['tax_rate_pct']}%", tax, False),
                               (f"TOTAL {spec['currency']}", total, True)):
        f = _font(24, bold=bold)
        d.text((cols[2] - 160, y), label, font=f, fill=black)
        d.text((cols[3], y), _money(value), font=f, fill=black, anchor="ra")
        y += 45
    d.text((50, height - 60), "Payment due within 30 days. Thank you for your business.", font=_font(18),
           fill=grey)
    data = _png(img)

    truth = {
        "vendor": spec["vendor"],
        "number": spec["number"],
        "date": spec["date"],
        "customer": spec["customer"],
        "currency": spec["currency"],
        "items": [{k: v for k, v in it.items() if not k.startswith("_")} for it in items],
        "subtotal": float(subtotal),
        "tax_rate_pct": spec["tax_rate_pct"],
        "tax": float(tax),
        "total": float(total),
    }
    truth["expected"] = ([spec["number"]] + [it["description"] for it in truth["items"]]
                         + [it["amount"] for it in truth["items"]]
                         + [truth["subtotal"], truth["tax"], truth["total"]])
    return Sample("invoice", "image/png", data, truth, _store("invoice.png", data))


def sign() -> Sample:
    """A parking sign: NO PARKING, 8 AM - 6 PM, MON - FRI, TOW-AWAY ZONE (red on white, grey wall).

    Truth: ``lines`` (top to bottom), ``hours`` (8, 18 on a 24 h clock), ``days`` and ``expected``
    (phrases a correct reading contains; each may list accepted spellings).
    """
    width, height = 600, 720
    img = Image.new("RGB", (width, height), (150, 150, 150))
    d = ImageDraw.Draw(img)
    red, white = (200, 20, 30), (250, 250, 250)
    d.rectangle((80, 60, 520, 660), fill=white, outline=red, width=14)
    sizes = (50, 50, 50, 38)
    y = 120
    for line, size in zip(_SIGN_LINES, sizes):
        d.text((width // 2, y), line, font=_font(size, bold=True), fill=red, anchor="ma")
        y += int(size * 2.4)
    # a post under the sign
    d.rectangle((285, 660, 315, height), fill=(70, 70, 70))
    data = _png(img)
    truth = {
        "lines": list(_SIGN_LINES),
        "hours": [8, 18],
        "days": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
        "expected": ["no parking", ["8 am", "8am", "8:00", "08:00"], ["6 pm", "6pm", "18:00"],
                     ["mon", "monday"], ["fri", "friday"], ["tow away", "towaway", "tow", "towed"]],
    }
    return Sample("sign", "image/png", data, truth, _store("sign.png", data))


# --------------------------------------------------------------------------------------------
# Audio and video
# --------------------------------------------------------------------------------------------
def speech() -> Sample:
    """The committed spoken sentence (``data/media/speech.wav``, espeak-ng, 16 kHz mono PCM).

    Truth: ``text`` (the sentence), ``words`` (normalised), ``voice``, ``sample_rate`` and ``expected``.
    The file is only read here; ``data/media/make_speech.sh`` made it.
    """
    src = paths.DATA / "media" / _SPEECH_FILE
    if not src.is_file():
        raise FileNotFoundError(f"speech: sample file {src} is missing (made by data/media/make_speech.sh)")
    data = src.read_bytes()
    words = words_of(SPEECH_TEXT)
    truth = {"text": SPEECH_TEXT, "words": words, "voice": "espeak-ng 1.51 en-us, 150 wpm",
             "sample_rate": 16000, "expected": list(dict.fromkeys(words))}
    return Sample("speech", "audio/wav", data, truth, src)


def clip() -> Sample:
    """A 6-second MP4 (H.264, 2 fps, 512x288): second n shows "Scene n" and one known word.

    Truth: ``fps``, ``duration_s``, ``size`` ([width, height]), ``segments`` (start, end, text, word:
    what is on screen from ``start`` to ``end`` seconds) and ``expected`` (the words in order).
    """
    import imageio_ffmpeg

    w, h = _CLIP_SIZE
    palette = ((255, 236, 179), (200, 230, 201), (187, 222, 251), (248, 187, 208), (225, 190, 231),
               (255, 224, 178))
    segments, frames = [], []
    for i, word in enumerate(_CLIP_WORDS):
        img = Image.new("RGB", (w, h), palette[i % len(palette)])
        d = ImageDraw.Draw(img)
        d.text((w // 2, 50), f"Scene {i + 1}", font=_font(34), fill=(40, 40, 40), anchor="ma")
        d.text((w // 2, 130), word, font=_font(64, bold=True), fill=(10, 10, 10), anchor="ma")
        frame = np.asarray(img, dtype=np.uint8)
        frames.extend([frame] * _CLIP_FPS)
        segments.append({"start": float(i), "end": float(i + 1), "text": f"Scene {i + 1} {word}", "word": word})

    fd, tmp = tempfile.mkstemp(suffix=".mp4")
    os.close(fd)
    try:
        writer = imageio_ffmpeg.write_frames(
            tmp, (w, h), fps=_CLIP_FPS, codec="libx264", pix_fmt_out="yuv420p", quality=None,
            macro_block_size=16, ffmpeg_log_level="error",
            output_params=["-crf", "23", "-threads", "1", "-map_metadata", "-1", "-fflags", "+bitexact",
                           "-flags:v", "+bitexact", "-movflags", "+faststart"],
        )
        writer.send(None)  # start ffmpeg
        for frame in frames:
            writer.send(frame)
        writer.close()
        data = Path(tmp).read_bytes()
    finally:
        Path(tmp).unlink(missing_ok=True)
    truth = {"fps": _CLIP_FPS, "duration_s": float(len(_CLIP_WORDS)), "size": [w, h],
             "segments": segments, "expected": list(_CLIP_WORDS)}
    return Sample("clip", "video/mp4", data, truth, _store("clip.mp4", data))


# --------------------------------------------------------------------------------------------
# All samples, lookup
# --------------------------------------------------------------------------------------------
_MAKERS: dict[str, Callable[[], Sample]] = {
    "chart_2024": lambda: chart(2024),
    "chart_2025": lambda: chart(2025),
    "invoice": invoice,
    "sign": sign,
    "speech": speech,
    "clip": clip,
}


def get(name: str) -> Sample:
    """The sample called ``name`` (one of :data:`SAMPLE_NAMES`); an unknown name raises ``UnknownNameError``."""
    catalog.check_names([name], SAMPLE_NAMES, param="name", kind="sample")
    return _MAKERS[name]()


@functools.cache
def cached(name: str) -> Sample:
    """:func:`get`, made once per process (samples are deterministic): for code that asks for one often."""
    return get(name)


def all_samples() -> list[Sample]:
    """Every sample, in the order of :data:`SAMPLE_NAMES`."""
    return [_MAKERS[n]() for n in SAMPLE_NAMES]


# --------------------------------------------------------------------------------------------
# Scoring answers against the truth
# --------------------------------------------------------------------------------------------
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?")


def words_of(text: str) -> list[str]:
    """Lower-case words (letters, digits, apostrophes), punctuation and hyphens dropped."""
    return re.findall(r"[a-z0-9']+", text.lower().replace("-", " "))


def numbers_in(text: str) -> list[float]:
    """Every number written in ``text`` (thousands separators allowed), in order."""
    out = []
    for m in _NUMBER.finditer(text):
        raw = m.group().replace(",", "")
        try:
            out.append(float(raw))
        except ValueError:
            continue
    return out


def _phrase_in(phrase: str, text_words: str) -> bool:
    return f" {' '.join(words_of(phrase))} " in text_words


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word error rate of ``hypothesis`` against ``reference`` (lower-cased, punctuation removed; jiwer)."""
    import jiwer

    ref, hyp = " ".join(words_of(reference)), " ".join(words_of(hypothesis))
    if not ref:
        raise ValueError("reference: empty after normalisation; WER is undefined")
    return float(jiwer.wer(ref, hyp)) if hyp else 1.0


def check_answer(sample: Sample, text: str) -> dict[str, Any]:
    """Score a model's free-text ``text`` about ``sample`` against its truth.

    Every expected fact in ``sample.truth["expected"]`` is looked for: numbers are matched by value
    (``152.56`` matches ``$152.56``; commas are read as thousands separators, so ``1,234.5`` is 1234.5),
    phrases case-insensitively on word boundaries (a list means any spelling counts). Returns
    ``{"sample", "score" (fraction found), "found", "missing"}`` plus per-sample extras:
    ``total_found`` (invoice), ``values_found`` (charts), ``wer`` (speech: of the whole ``text``, so pass
    the transcript alone, without preamble), ``segments_found`` and
    ``in_order`` (clip).
    """
    if not isinstance(sample, Sample):
        raise TypeError(f"sample: expected a Sample, got {type(sample).__name__}")
    if not isinstance(text, str):
        raise TypeError(f"text: expected a string, got {type(text).__name__}")
    numbers = numbers_in(text)
    text_words = f" {' '.join(words_of(text))} "

    def has(item: Any) -> bool:
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            return any(abs(x - item) < 0.005 for x in numbers)
        if isinstance(item, (list, tuple)):
            return any(has(alt) for alt in item)
        return _phrase_in(str(item), text_words)

    expected = sample.truth["expected"]
    found = [e for e in expected if has(e)]
    missing = [e for e in expected if not has(e)]
    result: dict[str, Any] = {"sample": sample.name, "score": len(found) / len(expected) if expected else 0.0,
                              "found": found, "missing": missing}
    if sample.name.startswith("chart_"):
        result["values_found"] = sum(has(v) for v in sample.truth["values"])
    elif sample.name == "invoice":
        result["total_found"] = has(sample.truth["total"])
    elif sample.name == "speech":
        result["wer"] = word_error_rate(sample.truth["text"], text)
    elif sample.name == "clip":
        words = sample.truth["expected"]
        result["segments_found"] = len(found)
        positions = [text_words.find(f" {w.lower()} ") for w in words]
        result["in_order"] = all(p >= 0 for p in positions) and positions == sorted(positions)
    return result
