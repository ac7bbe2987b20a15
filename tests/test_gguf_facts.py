"""workbench.gguf_facts: the model file's own facts, and the bytes one decoded token reads."""
from __future__ import annotations

from pathlib import Path

import pytest
from workbench import gguf_facts
from workbench.host import MeasurementError
from workbench.local import find_model
from workbench.params import ParameterError


@pytest.fixture(scope="module")
def facts() -> gguf_facts.ModelFacts:
    return gguf_facts.model_facts()


def test_model_facts_read_from_the_gguf(facts: gguf_facts.ModelFacts) -> None:
    assert facts.path == find_model()
    assert facts.architecture == "llama"
    assert facts.file_type == "Q4_1"
    # "135M" in the file's own size label, within rounding of the counted weights
    assert facts.size_label == "135M"
    assert abs(facts.parameters / 135e6 - 1) < 0.01
    # the tensors are almost the whole file (the rest is metadata: tokenizer, template)
    assert 0.9 * facts.file_bytes < facts.weight_bytes < facts.file_bytes
    assert (facts.layers, facts.heads, facts.kv_heads, facts.head_dim) == (30, 9, 3, 64)
    assert facts.context_length == 8192 and facts.vocab_size == 49152
    assert facts.tied_embeddings  # SmolLM2 has no separate output matrix
    # Q4_1: 32 weights share a 16-bit scale and a 16-bit minimum -> (32*4 + 32) / 32 = 5 bits per weight
    bits = facts.by_type.set_index("type")["bits per weight"]
    assert bits["Q4_1"] == pytest.approx(5.0) and bits["Q8_0"] == pytest.approx(8.5)
    assert facts.by_type["bytes"].sum() == facts.weight_bytes
    table = facts.table()
    assert list(table.columns) == ["fact", "value"] and "Q4_1" in set(table["value"])


def test_bytes_per_token_counts_weights_and_kv_cache(facts: gguf_facts.ModelFacts) -> None:
    kv = 2 * 30 * 3 * 64 * 2  # K and V, layers, kv heads, head size, f16
    assert facts.kv_bytes_per_token() == kv
    assert facts.kv_bytes_per_token(1) == kv / 2
    # tied embedding: the whole matrix is read by the output layer, so every weight byte counts
    assert facts.bytes_per_token(0) == facts.weight_bytes
    assert facts.bytes_per_token(1000) == facts.weight_bytes + 1000 * kv
    with pytest.raises(ParameterError, match="context_tokens"):
        facts.bytes_per_token(-1)


def test_model_facts_name_a_bad_file(tmp_path: Path) -> None:
    with pytest.raises(MeasurementError, match="model_path"):
        gguf_facts.model_facts(tmp_path / "missing.gguf")
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a model at all" * 10)
    with pytest.raises(MeasurementError, match="model_path.*not a GGUF"):
        gguf_facts.model_facts(junk)
