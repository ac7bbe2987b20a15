"""Load and validate the workbook's tidy data tables (``data/*.csv``).

Every table is one CSV file with a declared schema: its columns, each column's type, which columns are
required, which ones form the row key, which columns must be positive, match a pattern (a SHA-256, a URL)
or hold a semicolon list of known names, and which columns a row must fill once it fills another. Every
row carries a ``source_id``: one of the source ids in ``data/sources.csv`` (S0, S1, ...) or a URL. A file
that breaks any rule
raises :class:`CatalogError` naming the file, the line (as an editor shows it: the header is line 1) and
the reason, so a broken CSV fails loudly instead of flowing into a figure.

Typical use::

    from workbench import catalog
    prices = catalog.prices()                 # a validated pandas DataFrame
    catalog.check_models(["gpt-4o"])          # raises UnknownNameError naming a bad id
    catalog.local_models()                    # the ids served by local GGUF files
    catalog.rejected_params("claude-opus-4-7")  # sampling parameters the provider refuses
"""
from __future__ import annotations

import csv
import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path

import pandas as pd

from . import paths

__all__ = [
    "TABLES",
    "CatalogError",
    "UnknownNameError",
    "benchmarks",
    "check_models",
    "check_names",
    "check_providers",
    "check_sources",
    "cite",
    "claim",
    "claims",
    "limits",
    "load",
    "local_models",
    "media_token_rules",
    "models",
    "prices",
    "provider_of",
    "rejected_params",
    "scores",
    "sources",
]


class CatalogError(ValueError):
    """A data file breaks its schema. The message names the file, the line and the reason."""

    def __init__(self, path: Path | str, line: int | None, reason: str) -> None:
        self.path = Path(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}" + (f", line {line}" if line is not None else "")
        super().__init__(f"{where}: {reason}")


class UnknownNameError(ValueError):
    """A parameter names a model, provider, source or other entry that the catalog does not know."""

    def __init__(self, param: str, value: object, kind: str, valid: Iterable[str]) -> None:
        self.param, self.value, self.kind = param, value, kind
        self.valid = sorted(set(valid))
        close = difflib.get_close_matches(str(value), self.valid, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        super().__init__(
            f"{param}: unknown {kind} {value!r}.{hint} Known {kind}s: {', '.join(self.valid)}"
        )


# --------------------------------------------------------------------------------------------
# Schemas
# --------------------------------------------------------------------------------------------
_TYPES = {"str", "int", "float", "bool", "date"}
_SOURCE_ID = re.compile(r"^S\d+$")
_URL = re.compile(r"^https?://\S+$")
_PROVIDERS = ("openai", "anthropic", "google", "meta", "alibaba", "huggingface")
#: Sampling parameters a model can refuse (``rejects_params`` in models.csv), named as in the OpenAI API.
SAMPLING_PARAMS = ("temperature", "top_p", "top_k", "frequency_penalty", "presence_penalty", "seed",
                   "logprobs", "stop")
_PATTERNS = {"sha256": re.compile(r"^[0-9a-f]{64}$"), "url": _URL}


@dataclass(frozen=True)
class Column:
    """One column of a table: its type, whether a value is required, whether it must be > 0.

    ``choices`` lists the allowed values; ``pattern`` names an entry of ``_PATTERNS`` the text must match
    (``sha256``: 64 lowercase hex digits, ``url``); ``items`` makes the cell a ``;``-separated list whose
    every entry must be one of them (an empty cell is an empty list).
    """

    name: str
    type: str = "str"
    required: bool = False
    positive: bool = False
    choices: tuple[str, ...] | None = None
    pattern: str | None = None
    items: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Table:
    """A data table: its file, columns and the columns whose values identify a row."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    description: str = ""
    model_columns: tuple[str, ...] = field(default=())
    #: (column, columns a row must also fill whenever it fills ``column``)
    requires: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())

    @property
    def path(self) -> Path:
        """The CSV file of this table."""
        return paths.DATA / f"{self.name}.csv"


def _c(name: str, type: str = "str", *, req: bool = False, pos: bool = False,
       choices: tuple[str, ...] | None = None, pattern: str | None = None,
       items: tuple[str, ...] | None = None) -> Column:
    return Column(name, type, req, pos, choices, pattern, items)


#: What a model served by a local GGUF file must state besides its hash.
_LOCAL_FACTS = ("parameters", "quantization", "file_bytes", "license", "upstream_url", "local_threads")


TABLES: dict[str, Table] = {
    t.name: t
    for t in [
        Table("sources", (
            _c("source_id", req=True), _c("title", req=True), _c("author", req=True),
            _c("published", req=True), _c("kind", req=True), _c("url", pattern="url"), _c("notes"),
        ), key=("source_id",),
            description="The articles this workbook checks (S0-S4) and the reports and model cards its "
                        "published scores come from (S5, ...)."),
        Table("models", (
            _c("model_id", req=True), _c("provider", req=True, choices=_PROVIDERS),
            _c("family", req=True), _c("name", req=True), _c("release"),
            _c("context_window", "int", pos=True), _c("max_output", "int", pos=True),
            _c("input_text", "bool"), _c("input_image", "bool"), _c("input_audio", "bool"),
            _c("input_video", "bool"), _c("output", req=True), _c("open_weights", "bool", req=True),
            _c("parameters", "int", pos=True), _c("quantization"), _c("file_bytes", "int", pos=True),
            _c("gguf_sha256", pattern="sha256"), _c("license"), _c("upstream_url", pattern="url"),
            _c("local_threads", "int", pos=True), _c("rejects_params", items=SAMPLING_PARAMS),
            _c("params_source", pattern="url"), _c("source_id", req=True), _c("notes"),
        ), key=("model_id",), requires=(("gguf_sha256", _LOCAL_FACTS), ("rejects_params", ("params_source",))),
            description="Models: provider, limits, input modalities; for local GGUF models the file, its "
                        "hash, licence and measured thread count; sampling parameters a model refuses."),
        Table("prices", (
            _c("model_id", req=True), _c("observed", "date", req=True),
            _c("observed_as_published", req=True),
            _c("input_per_mtok", "float", req=True, pos=True),
            _c("output_per_mtok", "float", req=True, pos=True),
            _c("per_image_usd", "float", pos=True), _c("source_id", req=True), _c("notes"),
        ), key=("model_id", "observed", "source_id"), model_columns=("model_id",),
            description="Dated API prices in USD per 1M tokens; one row per source and date."),
        Table("scores", (
            _c("benchmark", req=True), _c("model_id", req=True), _c("metric", req=True),
            _c("value", "float", req=True, pos=True), _c("unit", req=True, choices=("percent", "ms")),
            _c("source_id", req=True), _c("checked", "date"), _c("notes"),
        ), key=("benchmark", "model_id", "metric", "source_id"), model_columns=("model_id",),
            description="Published benchmark scores; one row per benchmark, model, metric and source."),
        Table("benchmarks", (
            _c("benchmark", req=True), _c("family", req=True), _c("n_items", "int", pos=True),
            _c("split"), _c("offline_data"), _c("source_id", req=True), _c("notes"),
        ), key=("benchmark",), description="Benchmarks: family and number of items (where known)."),
        Table("claims", (
            _c("claim_id", req=True), _c("source_id", req=True), _c("section", req=True),
            _c("kind", req=True, choices=("price", "spec", "score", "ranking", "cost", "latency", "behaviour",
                                          "architecture", "api", "recommendation")),
            _c("statement", req=True), _c("topic", req=True), _c("model_id"), _c("models"),
            _c("quantity"), _c("value", "float", pos=True), _c("unit"), _c("check", req=True),
            _c("inputs"), _c("notes"),
        ), key=("claim_id",), model_columns=("model_id",), requires=(("value", ("quantity", "unit")),),
            description="Every checkable claim of the sources, in our words: its kind, the models it concerns, "
                        "what it states (a number with its unit, a benchmark family, an SDK call) and the "
                        "check that gives its verdict (workbench.ledger)."),
        Table("limits", (
            _c("model_id", req=True), _c("limit", req=True), _c("value", "float", req=True, pos=True),
            _c("unit", req=True), _c("source_id", req=True), _c("notes"),
        ), key=("model_id", "limit", "source_id"), model_columns=("model_id",),
            description="Stated limits on media per request."),
        Table("media_token_rules", (
            _c("provider", req=True, choices=_PROVIDERS), _c("model_scope", req=True),
            _c("modality", req=True, choices=("image", "audio", "video", "document")),
            _c("parameter", req=True), _c("value", "float", req=True), _c("unit", req=True),
            _c("source_id", req=True), _c("checked", "date", req=True), _c("notes"),
        ), key=("provider", "model_scope", "modality", "parameter"),
            description="How providers count media as tokens, from their own documentation."),
    ]
}

for _t in TABLES.values():  # schema sanity, checked once at import
    assert all(c.type in _TYPES for c in _t.columns), _t.name
    assert all(c.pattern in (None, *_PATTERNS) for c in _t.columns), _t.name
    assert set(_t.key) <= {c.name for c in _t.columns}, _t.name
    assert {n for c, cs in _t.requires for n in (c, *cs)} <= {c.name for c in _t.columns}, _t.name


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------
_TRUE, _FALSE = {"true", "yes", "1"}, {"false", "no", "0"}


def _parse(value: str, col: Column, path: Path, line: int):
    """Turn one CSV cell into a Python value of the column's type, or raise CatalogError."""
    value = value.strip()
    if value == "":
        if col.required:
            raise CatalogError(path, line, f"column {col.name!r} is empty but required")
        return None
    try:
        if col.type == "str":
            out: object = value
        elif col.type == "int":
            out = int(value)
        elif col.type == "float":
            out = float(value)
        elif col.type == "bool":
            low = value.lower()
            if low not in _TRUE | _FALSE:
                raise ValueError("expected true or false")
            out = low in _TRUE
        else:  # date
            out = date.fromisoformat(value)
    except ValueError as exc:
        raise CatalogError(path, line, f"column {col.name!r}: {value!r} is not a valid {col.type} ({exc})") from None
    if col.positive and isinstance(out, (int, float)) and not out > 0:
        raise CatalogError(path, line, f"column {col.name!r} must be positive, got {value}")
    if col.choices and out not in col.choices:
        raise CatalogError(path, line, f"column {col.name!r}: {value!r} is not one of {', '.join(col.choices)}")
    if col.pattern and not _PATTERNS[col.pattern].match(value):
        raise CatalogError(path, line, f"column {col.name!r}: {value!r} is not a {col.pattern}")
    if col.items is not None:
        entries = [e.strip() for e in value.split(";")]
        bad = [e for e in entries if e not in col.items]
        if bad:
            raise CatalogError(path, line, f"column {col.name!r}: {bad[0]!r} is not one of "
                                           f"{', '.join(col.items)} (a ;-separated list)")
        out = ";".join(entries)
    return out


def _read(table: Table, path: Path, known_sources: set[str] | None,
          known_models: set[str] | None) -> pd.DataFrame:
    """Read and validate one table's CSV file."""
    if not path.exists():
        raise CatalogError(path, None, f"file not found (table {table.name!r})")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            raise CatalogError(path, 1, "file is empty (no header)") from None
        expected = [c.name for c in table.columns]
        if header != expected:
            missing = [c for c in expected if c not in header]
            extra = [c for c in header if c not in expected]
            detail = "; ".join(
                s for s in (f"missing {missing}" if missing else "", f"unexpected {extra}" if extra else "",
                            "columns out of order" if not (missing or extra) else "") if s
            )
            raise CatalogError(path, 1, f"header does not match the {table.name!r} schema: {detail}; expected {expected}")
        rows, seen = [], {}
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(expected):
                raise CatalogError(path, line, f"expected {len(expected)} fields, found {len(record)}")
            row = {c.name: _parse(v, c, path, line) for c, v in zip(table.columns, record)}
            for col, needed in table.requires:
                empty = [n for n in needed if row[col] is not None and row[n] is None]
                if empty:
                    raise CatalogError(path, line, f"column {empty[0]!r} is empty but required when "
                                                   f"{col!r} is given (needed: {', '.join(needed)})")
            src = row.get("source_id")
            if src is not None and not _URL.match(src):
                if not _SOURCE_ID.match(src):
                    raise CatalogError(path, line, f"source_id {src!r} is neither a source id (S0, S1, ...) nor a URL")
                if known_sources is not None and src not in known_sources:
                    raise CatalogError(path, line, f"source_id {src!r} is not in sources.csv")
            for mc in table.model_columns:
                if known_models is not None and row.get(mc) is not None and row[mc] not in known_models:
                    raise CatalogError(path, line, f"{mc} {row[mc]!r} is not in models.csv")
            key = tuple(row[k] for k in table.key)
            if key in seen:
                raise CatalogError(path, line, f"duplicate key {dict(zip(table.key, key))} (first seen on line {seen[key]})")
            seen[key] = line
            rows.append(row)
    frame = pd.DataFrame(rows, columns=expected)
    for col in table.columns:
        if col.type == "int":
            frame[col.name] = frame[col.name].astype("Int64")
        elif col.type == "float":
            frame[col.name] = frame[col.name].astype("float64")
        elif col.type == "bool":
            frame[col.name] = frame[col.name].astype("boolean")
        elif col.type == "date":
            frame[col.name] = pd.to_datetime(frame[col.name])
        else:
            frame[col.name] = frame[col.name].astype("string")
    frame.attrs["table"] = table.name
    frame.attrs["path"] = str(path)
    return frame


@cache
def _load_cached(name: str, data_dir: str, mtime_ns: int) -> pd.DataFrame:
    table = TABLES[name]
    path = Path(data_dir) / f"{name}.csv"
    if name == "sources":
        frame = _read(table, path, None, None)
        bad = [s for s in frame["source_id"] if not _SOURCE_ID.match(str(s))]
        if bad:
            raise CatalogError(path, None, f"source ids must look like S0, S1, ...: {bad}")
        return frame
    known_sources = set(load("sources", data_dir=Path(data_dir))["source_id"])
    known_models = set(load("models", data_dir=Path(data_dir))["model_id"]) if table.model_columns else None
    return _read(table, path, known_sources, known_models)


def load(name: str, *, data_dir: Path | None = None) -> pd.DataFrame:
    """Load one validated table by name (see :data:`TABLES`) as a new DataFrame.

    Raises :class:`UnknownNameError` for an unknown table and :class:`CatalogError` for a broken file.
    Results are cached until the file changes on disk.
    """
    if name not in TABLES:
        raise UnknownNameError("name", name, "table", TABLES)
    folder = Path(data_dir) if data_dir is not None else paths.DATA
    path = folder / f"{name}.csv"
    mtime = path.stat().st_mtime_ns if path.exists() else -1
    return _load_cached(name, str(folder), mtime).copy()


def sources() -> pd.DataFrame:
    """The sources table (S0, S1, ...): id, title, author, date published, kind, URL."""
    return load("sources")


def models() -> pd.DataFrame:
    """The models table: provider, family, limits, input modalities, open weights."""
    return load("models")


def prices() -> pd.DataFrame:
    """The dated price observations (USD per 1M tokens), one row per model, date and source."""
    return load("prices")


def scores() -> pd.DataFrame:
    """The published benchmark scores, one row per benchmark, model, metric and source."""
    return load("scores")


def benchmarks() -> pd.DataFrame:
    """The benchmarks: family, split and number of items where known."""
    return load("benchmarks")


def claims() -> pd.DataFrame:
    """The sources' numeric claims that the workbook re-derives."""
    return load("claims")


def limits() -> pd.DataFrame:
    """Stated per-request media limits."""
    return load("limits")


def media_token_rules() -> pd.DataFrame:
    """How each provider turns images, audio and video into tokens (from its own documentation)."""
    return load("media_token_rules")


# --------------------------------------------------------------------------------------------
# Checks for notebook parameters
# --------------------------------------------------------------------------------------------
def _as_list(values: str | Iterable[str], param: str) -> list[str]:
    if isinstance(values, str):
        return [values]
    try:
        out = list(values)
    except TypeError:
        raise TypeError(f"{param}: expected a name or a list of names, got {values!r}") from None
    for v in out:
        if not isinstance(v, str):
            raise TypeError(f"{param}: expected names (strings), got {v!r}")
    return out


def check_names(values: str | Iterable[str], valid: Iterable[str], *, param: str, kind: str) -> list[str]:
    """Return ``values`` as a list if every one is in ``valid``; else raise :class:`UnknownNameError`."""
    valid = list(valid)
    out = _as_list(values, param)
    for v in out:
        if v not in valid:
            raise UnknownNameError(param, v, kind, valid)
    return out


def check_models(values: str | Iterable[str], provider: str | None = None, param: str = "models") -> list[str]:
    """Validate model ids against ``models.csv`` (optionally of one provider); return them as a list."""
    table = models()
    if provider is not None:
        check_providers([provider], param="provider")
        table = table[table["provider"] == provider]
    return check_names(values, table["model_id"], param=param,
                       kind=f"{provider} model" if provider else "model")


def check_sources(values: str | Iterable[str], param: str = "sources") -> list[str]:
    """Validate source ids (S0, S1, ...) against ``sources.csv``; return them as a list."""
    return check_names(values, sources()["source_id"], param=param, kind="source id")


def check_providers(values: str | Iterable[str], param: str = "providers") -> list[str]:
    """Validate provider names (openai, anthropic, google, ...); return them as a list."""
    return check_names(values, _PROVIDERS, param=param, kind="provider")


def provider_of(model_id: str) -> str:
    """The provider of a catalog model id (e.g. ``"openai"`` for ``"gpt-4o"``)."""
    check_models([model_id], param="model_id")
    table = models()
    return str(table.loc[table["model_id"] == model_id, "provider"].iloc[0])


def local_models() -> list[str]:
    """The model ids served by a local GGUF file (rows of ``models.csv`` with a ``gguf_sha256``), smallest first.

    Their files are declared in ``pyproject.toml`` and found through :func:`workbench.assets.model_file`.
    """
    table = models()
    local = table[table["gguf_sha256"].notna()].sort_values(["parameters", "model_id"])
    return [str(m) for m in local["model_id"]]


def rejected_params(model_id: str) -> frozenset[str]:
    """The sampling parameters ``model_id``'s provider refuses (an API error on a non-default value).

    Empty for most models; filled only where a provider document says so (``params_source``). A harness
    leaves these parameters out of the request and says so.
    """
    check_models([model_id], param="model_id")
    table = models().set_index("model_id")
    value = table.at[model_id, "rejects_params"]
    return frozenset() if pd.isna(value) else frozenset(str(value).split(";"))


def claim(claim_id: str) -> float:
    """The numeric value of one claim in ``claims.csv``."""
    table = claims()
    check_names([claim_id], table["claim_id"], param="claim_id", kind="claim")
    return float(table.loc[table["claim_id"] == claim_id, "value"].iloc[0])


def cite(source_id: str) -> str:
    """A short citation for a source id or URL, e.g. ``"S2 (Larry Qu, 2026-05-24)"``."""
    if _URL.match(source_id):
        return source_id
    check_sources([source_id], param="source_id")
    row = sources().set_index("source_id").loc[source_id]
    return f"{source_id} ({row['author']}, {row['published']})"
