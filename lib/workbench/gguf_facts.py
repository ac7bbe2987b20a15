"""What a GGUF model file says about its model, and the bytes decoding reads per token.

A GGUF file holds the weights, the tokenizer, the chat template and the model's shape as key/value
metadata. :func:`model_facts` reads it with the ``gguf`` package (never a model card): quantisation per
tensor type, parameter count, bytes, trained context length, layers and attention shape, whether the
output layer is tied to the token embedding. :class:`ModelFacts` turns that into the memory traffic of one
decoded token (:meth:`ModelFacts.bytes_per_token`: the weights plus the KV cache of the context), the
number the decode roofline of :mod:`workbench.bandwidth` divides by.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import params
from .host import MeasurementError

__all__ = ["ModelFacts", "model_facts"]


@dataclass(frozen=True)
class ModelFacts:
    """What the GGUF file says about the model (read by :func:`model_facts`)."""

    path: Path
    file_bytes: int
    name: str                         #: ``general.name``
    architecture: str                 #: ``general.architecture``
    size_label: str                   #: ``general.size_label`` ("" when absent)
    file_type: str                    #: the file's declared quantisation (``general.file_type``), e.g. Q4_1
    parameters: int                   #: number of weights over all tensors
    weight_bytes: int                 #: bytes of all tensors
    context_length: int               #: trained context length
    layers: int                       #: transformer blocks
    embedding_length: int
    feed_forward_length: int
    heads: int
    kv_heads: int
    vocab_size: int
    tied_embeddings: bool             #: no separate output matrix: the token embedding is reused
    embedding_bytes: int              #: bytes of ``token_embd.weight``
    by_type: pd.DataFrame = field(repr=False, compare=False)  #: tensors, parameters, bytes per tensor type

    @property
    def head_dim(self) -> int:
        """Size of one attention head."""
        return self.embedding_length // self.heads

    @property
    def bits_per_weight(self) -> float:
        """Average stored bits per weight (quantisation blocks include their scales)."""
        return 8 * self.weight_bytes / self.parameters

    def kv_bytes_per_token(self, bytes_per_value: float = 2.0) -> float:
        """KV-cache bytes one context token occupies (K and V, every layer; f16 cache: 2 bytes a value)."""
        return 2 * self.layers * self.kv_heads * self.head_dim * params.positive(bytes_per_value, "bytes_per_value")

    def bytes_per_token(self, context_tokens: int = 0, bytes_per_value: float = 2.0) -> float:
        """Bytes read from memory to decode one token with ``context_tokens`` already in the context.

        Every weight matrix is read once; the token embedding is only looked up (one row) unless it is
        tied to the output layer, in which case the whole matrix is read by the final projection. The
        attention reads the KV cache of the whole context.
        """
        context_tokens = params.count(context_tokens, "context_tokens", minimum=0)
        weights = self.weight_bytes
        if not self.tied_embeddings:
            weights -= self.embedding_bytes - self.embedding_bytes // self.vocab_size
        return weights + context_tokens * self.kv_bytes_per_token(bytes_per_value)

    def table(self) -> pd.DataFrame:
        """The facts as a two-column table (fact, value) for display."""
        rows = [
            ("file", self.path.name), ("file size (MB)", round(self.file_bytes / 1e6, 1)),
            ("model name (general.name)", self.name), ("architecture", self.architecture),
            ("size label", self.size_label or "-"), ("quantisation (file type)", self.file_type),
            ("parameters", f"{self.parameters:,}"), ("weight bytes (MB)", round(self.weight_bytes / 1e6, 1)),
            ("average bits per weight", round(self.bits_per_weight, 2)),
            ("trained context length", f"{self.context_length:,}"), ("layers", self.layers),
            ("embedding width", self.embedding_length), ("feed-forward width", self.feed_forward_length),
            ("attention heads (query / key-value)", f"{self.heads} / {self.kv_heads}"),
            ("head size", self.head_dim), ("vocabulary", f"{self.vocab_size:,}"),
            ("output layer tied to the embedding", "yes" if self.tied_embeddings else "no"),
            ("KV cache per context token (f16, KB)", round(self.kv_bytes_per_token() / 1e3, 1)),
        ]
        return pd.DataFrame(rows, columns=["fact", "value"]).astype({"value": str})


def _field(reader: Any, key: str, default: Any = None) -> Any:
    f = reader.fields.get(key)
    return default if f is None else f.contents()


@functools.lru_cache(maxsize=4)
def _read_facts(path: str, _mtime_ns: int) -> ModelFacts:
    import gguf

    try:
        reader = gguf.GGUFReader(path)
    except Exception as exc:  # noqa: BLE001 - the reader raises several kinds; one message names the file
        raise MeasurementError(f"model_path: {path} is not a readable GGUF file ({exc})") from None
    arch = str(_field(reader, "general.architecture", ""))
    if not arch:
        raise MeasurementError(f"model_path: {path} has no general.architecture key; not a model GGUF")

    def need(key: str) -> int:
        value = _field(reader, f"{arch}.{key}")
        if value is None:
            raise MeasurementError(f"model_path: {path} lacks the key {arch}.{key}")
        return int(value)

    rows = [{"type": t.tensor_type.name, "parameters": int(t.n_elements), "bytes": int(t.n_bytes)}
            for t in reader.tensors]
    by_type = (pd.DataFrame(rows).groupby("type").agg(tensors=("type", "size"), parameters=("parameters", "sum"),
                                                      bytes=("bytes", "sum"))
               .sort_values("bytes", ascending=False).reset_index())
    by_type["bits per weight"] = 8 * by_type["bytes"] / by_type["parameters"]
    names = {t.name: t for t in reader.tensors}
    embd = names.get("token_embd.weight")
    file_type_id = _field(reader, "general.file_type")
    try:
        file_type = gguf.LlamaFileType(int(file_type_id)).name.removeprefix("MOSTLY_")
    except (TypeError, ValueError):
        file_type = "unknown"
    vocab = _field(reader, f"{arch}.vocab_size")
    if vocab is None and embd is not None:
        vocab = int(max(embd.shape))
    return ModelFacts(
        path=Path(path), file_bytes=Path(path).stat().st_size, name=str(_field(reader, "general.name", "")),
        architecture=arch, size_label=str(_field(reader, "general.size_label", "")), file_type=file_type,
        parameters=int(by_type["parameters"].sum()), weight_bytes=int(by_type["bytes"].sum()),
        context_length=need("context_length"), layers=need("block_count"),
        embedding_length=need("embedding_length"), feed_forward_length=need("feed_forward_length"),
        heads=need("attention.head_count"),
        kv_heads=int(_field(reader, f"{arch}.attention.head_count_kv", need("attention.head_count"))),
        vocab_size=int(vocab or 0), tied_embeddings="output.weight" not in names,
        embedding_bytes=int(embd.n_bytes) if embd is not None else 0, by_type=by_type,
    )


def model_facts(model_path: str | Path | None = None) -> ModelFacts:
    """Read :class:`ModelFacts` from a GGUF file (None: the local engine's SmolLM2 file).

    Reading is cached per file (the tokenizer arrays make the first read take a few seconds).

    Raises:
        MeasurementError: the file is missing, not GGUF, or lacks a needed key (naming ``model_path``).
    """
    from .local.engine import EngineError, check_model_path

    try:
        path = check_model_path(model_path)
    except EngineError as exc:
        raise MeasurementError(str(exc)) from None
    return _read_facts(str(path), path.stat().st_mtime_ns)
