"""The schemas of the data tables (``data/*.csv``) and the reader that validates one CSV file against its schema.

A table declares its columns (type, required, positive, at most a maximum, allowed values, a pattern such as a
SHA-256, a URL or a partial date, or a ``;``-list of known names), the columns that form its row key, the columns
that must name a model of ``models.csv``, which columns a row must fill once it fills another, and row-level rules
(a deprecation before its retirement, a row citing a web page carries the date it was read). :func:`read_table`
applies all of it and raises :class:`CatalogError` naming the file, the line (as an editor shows it: the header
is line 1) and the reason. :mod:`workbench.catalog` loads the tables through it and is the module to use.
"""
from __future__ import annotations

import csv
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from . import paths

__all__ = ["LIFECYCLE", "PROVIDERS", "SAMPLING_PARAMS", "TABLES", "CatalogError", "Column", "Table", "read_table"]


class CatalogError(ValueError):
    """A data file breaks its schema. The message names the file, the line and the reason."""

    def __init__(self, path: Path | str, line: int | None, reason: str) -> None:
        self.path = Path(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}" + (f", line {line}" if line is not None else "")
        super().__init__(f"{where}: {reason}")


_TYPES = {"str", "int", "float", "bool", "date"}
SOURCE_ID = re.compile(r"^S\d+$")
URL = re.compile(r"^https?://\S+$")
#: Providers (and makers of open weights) the catalog knows.
PROVIDERS = ("openai", "anthropic", "google", "meta", "alibaba", "huggingface", "zhipu", "allenai", "opengvlab",
             "stability")
#: Sampling parameters a model can refuse (``rejects_params`` in models.csv), named as in the OpenAI API.
SAMPLING_PARAMS = ("temperature", "top_p", "top_k", "frequency_penalty", "presence_penalty", "seed",
                   "logprobs", "stop")
#: Lifecycle states a page can give a model id (``retirements.csv``), in the providers' own words.
LIFECYCLE = ("active", "preview", "legacy", "deprecated", "retired")
_PATTERNS = {
    "sha256": re.compile(r"^[0-9a-f]{64}$"),
    "url": URL,
    "partial_date": re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$"),
    "modalities": re.compile(r"^(text|image|audio|video)(\+(text|image|audio|video))*$"),
    "ttls": re.compile(r"^\d+[mh];\d+[mh]$"),
}


@dataclass(frozen=True)
class Column:
    """One column of a table: its type, whether a value is required, whether it must be > 0.

    ``choices`` lists the allowed values; ``pattern`` names an entry of ``_PATTERNS`` the text must match
    (``sha256``, ``url``, ``partial_date`` such as 2026 or 2026-05, ``modalities`` such as text+image, ``ttls``
    such as 5m;1h); ``items`` makes the cell a ``;``-separated list whose every entry must be one of them (an
    empty cell is an empty list); ``maximum`` bounds a number from above.
    """

    name: str
    type: str = "str"
    required: bool = False
    positive: bool = False
    choices: tuple[str, ...] | None = None
    pattern: str | None = None
    items: tuple[str, ...] | None = None
    maximum: float | None = None


Row = Mapping[str, object]


@dataclass(frozen=True)
class Table:
    """A data table: its file, columns, the columns whose values identify a row, and its cross-column rules."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    description: str = ""
    #: columns that must hold a model id of models.csv
    model_columns: tuple[str, ...] = field(default=())
    #: ``;``-list columns whose every entry must be a model id of models.csv
    model_list_columns: tuple[str, ...] = field(default=())
    #: (column, columns a row must also fill whenever it fills ``column``)
    requires: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())
    #: a row whose ``source_id`` is a URL must say when the page was read and whether it is a third party's
    url_rows_are_dated: bool = False
    #: row rules: each returns the reason a row is wrong, or None
    rules: tuple[Callable[[Row], str | None], ...] = field(default=())

    @property
    def path(self) -> Path:
        """The CSV file of this table."""
        return paths.DATA / f"{self.name}.csv"


def _c(name: str, type: str = "str", *, req: bool = False, pos: bool = False,
       choices: tuple[str, ...] | None = None, pattern: str | None = None,
       items: tuple[str, ...] | None = None, maximum: float | None = None) -> Column:
    return Column(name, type, req, pos, choices, pattern, items, maximum)


def _money(*names: str) -> tuple[Column, ...]:
    return tuple(_c(n, "float", pos=True) for n in names)


def _in_order(first: str, then: str) -> Callable[[Row], str | None]:
    def rule(row: Row) -> str | None:
        a, b = row.get(first), row.get(then)
        return f"{first} {a} is after {then} {b}" if a is not None and b is not None and a > b else None
    return rule


def _not_own_replacement(row: Row) -> str | None:
    named = str(row.get("replacement") or "").split(";") + str(row.get("routed_to") or "").split(";")
    return f"model_id {row['model_id']!r} names itself as its replacement" if row["model_id"] in named else None


def _long_rates_above_short(row: Row) -> str | None:
    for short, long in (("input_per_mtok", "long_input_per_mtok"), ("output_per_mtok", "long_output_per_mtok")):
        a, b = row.get(short), row.get(long)
        if a is not None and b is not None and b < a:  # type: ignore[operator]
            return f"{long} {b} is below {short} {a}: a long-context tier costs at least the short one"
    return None


#: What a model served by a local GGUF file must state besides its hash.
_LOCAL_FACTS = ("parameters", "quantization", "file_bytes", "license", "upstream_url", "local_threads")
_DATED = (("read_on", ("third_party",)), ("third_party", ("read_on",)))

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
            _c("model_id", req=True), _c("provider", req=True, choices=PROVIDERS),
            _c("family", req=True), _c("name", req=True), _c("release", pattern="partial_date"),
            _c("context_window", "int", pos=True), _c("max_output", "int", pos=True),
            _c("input_text", "bool"), _c("input_image", "bool"), _c("input_audio", "bool"),
            _c("input_video", "bool"), _c("output", req=True, pattern="modalities"),
            _c("open_weights", "bool", req=True),
            _c("parameters", "int", pos=True), _c("quantization"), _c("file_bytes", "int", pos=True),
            _c("gguf_sha256", pattern="sha256"), _c("license"), _c("upstream_url", pattern="url"),
            _c("local_threads", "int", pos=True), _c("rejects_params", items=SAMPLING_PARAMS),
            _c("params_source", pattern="url"), _c("source_id", req=True), _c("read_on", "date"),
            _c("third_party", "bool"), _c("notes"),
        ), key=("model_id",),
            requires=(("gguf_sha256", _LOCAL_FACTS), ("rejects_params", ("params_source",)), *_DATED),
            description="Models: provider, release, limits, input and output modalities; for local GGUF models "
                        "the file, its hash, licence and measured thread count; sampling parameters a model refuses; "
                        "for the line-up read from provider pages, the date read and whether the page is a third "
                        "party's."),
        Table("prices", (
            _c("model_id", req=True), _c("observed", "date", req=True),
            _c("observed_as_published", req=True),
            _c("input_per_mtok", "float", req=True, pos=True), _c("output_per_mtok", "float", pos=True),
            *_money("cached_input_per_mtok", "cache_write_per_mtok", "cache_write_long_per_mtok"),
            _c("cache_ttls", pattern="ttls"), _c("batch_multiplier", "float", pos=True, maximum=1.0),
            _c("long_context_above", "int", pos=True),
            *_money("long_input_per_mtok", "long_output_per_mtok", "long_cached_input_per_mtok",
                    "long_cache_write_per_mtok", "long_cache_write_long_per_mtok", "audio_input_per_mtok",
                    "audio_output_per_mtok", "video_input_per_mtok", "per_image_usd"),
            _c("source_id", req=True), _c("read_on", "date"), _c("third_party", "bool"), _c("notes"),
        ), key=("model_id", "observed", "source_id"), model_columns=("model_id",),
            requires=(("cache_write_per_mtok", ("cache_ttls",)), ("cache_write_long_per_mtok", ("cache_ttls",)),
                      ("long_context_above", ("long_input_per_mtok",)), ("long_input_per_mtok", ("long_context_above",)),
                      *_DATED),
            url_rows_are_dated=True, rules=(_long_rates_above_short,),
            description="Dated API prices in USD per 1M tokens with every tier a page states (cached reads, cache "
                        "writes for the short and long retention, batch multiplier, the long-context tier above a "
                        "prompt size, audio and video rates); one row per model, date and source."),
        Table("unit_prices", (
            _c("model_id", req=True), _c("observed", "date", req=True), _c("observed_as_published", req=True),
            _c("unit", req=True, choices=("image", "minute", "second")), _c("variant", req=True),
            _c("usd", "float", req=True, pos=True), _c("source_id", req=True), _c("read_on", "date", req=True),
            _c("third_party", "bool", req=True), _c("notes"),
        ), key=("model_id", "observed", "unit", "variant", "source_id"), model_columns=("model_id",),
            url_rows_are_dated=True,
            description="Prices per unit that is not a token: an image generated, a minute of audio transcribed, "
                        "a second of video; one row per model, date, unit, variant (size, quality) and source."),
        Table("retirements", (
            _c("model_id", req=True), _c("status", req=True, choices=LIFECYCLE), _c("deprecated_on", "date"),
            _c("retired_on", "date"), _c("replacement"), _c("routed_to"), _c("source_id", req=True, pattern="url"),
            _c("observed", "date", req=True), _c("observed_as_published", req=True),
            _c("read_on", "date", req=True), _c("third_party", "bool", req=True), _c("notes"),
        ), key=("model_id", "source_id"), model_list_columns=("replacement", "routed_to"),
            url_rows_are_dated=True, rules=(_in_order("deprecated_on", "retired_on"), _in_order("observed", "read_on"),
                                            _not_own_replacement),
            description="What each page says about a model id's lifecycle: status, deprecation and retirement "
                        "(shutdown) dates, the replacement it names and the id requests are routed to; one row per "
                        "id and page. Ids need not be in models.csv; replacements must be."),
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
            _c("provider", req=True, choices=PROVIDERS), _c("model_scope", req=True),
            _c("modality", req=True, choices=("image", "audio", "video", "document")),
            _c("parameter", req=True), _c("value", "float", req=True), _c("unit", req=True),
            _c("source_id", req=True), _c("checked", "date", req=True), _c("notes"),
        ), key=("provider", "model_scope", "modality", "parameter"),
            description="How providers count media as tokens, from their own documentation."),
    ]
}

for _t in TABLES.values():  # schema sanity, checked once at import
    _names = {c.name for c in _t.columns}
    assert all(c.type in _TYPES for c in _t.columns), _t.name
    assert all(c.pattern in (None, *_PATTERNS) for c in _t.columns), _t.name
    assert set(_t.key) <= _names, _t.name
    assert {n for c, cs in _t.requires for n in (c, *cs)} <= _names, _t.name
    assert set(_t.model_columns) | set(_t.model_list_columns) <= _names, _t.name
    assert not _t.url_rows_are_dated or {"source_id", "read_on", "third_party"} <= _names, _t.name


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------
_TRUE, _FALSE = {"true", "yes", "1"}, {"false", "no", "0"}


def _parse(value: str, col: Column, path: Path, line: int) -> object:
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
    if col.maximum is not None and isinstance(out, (int, float)) and out > col.maximum:
        raise CatalogError(path, line, f"column {col.name!r} must be at most {col.maximum:g}, got {value}")
    if col.choices and out not in col.choices:
        raise CatalogError(path, line, f"column {col.name!r}: {value!r} is not one of {', '.join(col.choices)}")
    if col.pattern and not _PATTERNS[col.pattern].match(value):
        raise CatalogError(path, line, f"column {col.name!r}: {value!r} is not a {col.pattern.replace('_', ' ')}")
    if col.items is not None:
        entries = [e.strip() for e in value.split(";")]
        bad = [e for e in entries if e not in col.items]
        if bad:
            raise CatalogError(path, line, f"column {col.name!r}: {bad[0]!r} is not one of "
                                           f"{', '.join(col.items)} (a ;-separated list)")
        out = ";".join(entries)
    return out


def _check_header(table: Table, path: Path, header: list[str]) -> None:
    expected = [c.name for c in table.columns]
    if header == expected:
        return
    missing = [c for c in expected if c not in header]
    extra = [c for c in header if c not in expected]
    detail = "; ".join(
        s for s in (f"missing {missing}" if missing else "", f"unexpected {extra}" if extra else "",
                    "columns out of order" if not (missing or extra) else "") if s
    )
    raise CatalogError(path, 1, f"header does not match the {table.name!r} schema: {detail}; expected {expected}")


def _check_row(table: Table, row: dict[str, object], path: Path, line: int, known_sources: set[str] | None,
               known_models: set[str] | None) -> None:
    """Every cross-column, cross-table and row rule of ``table`` for one parsed row."""
    for col, needed in table.requires:
        empty = [n for n in needed if row[col] is not None and row[n] is None]
        if empty:
            raise CatalogError(path, line, f"column {empty[0]!r} is empty but required when "
                                           f"{col!r} is given (needed: {', '.join(needed)})")
    src = row.get("source_id")
    if src is not None and not URL.match(str(src)):
        if not SOURCE_ID.match(str(src)):
            raise CatalogError(path, line, f"source_id {src!r} is neither a source id (S0, S1, ...) nor a URL")
        if known_sources is not None and src not in known_sources:
            raise CatalogError(path, line, f"source_id {src!r} is not in sources.csv")
    elif src is not None and table.url_rows_are_dated:
        for col in ("read_on", "third_party"):
            if row[col] is None:
                raise CatalogError(path, line, f"column {col!r} is empty but required for a row citing a web page")
    for mc in table.model_columns:
        if known_models is not None and row.get(mc) is not None and row[mc] not in known_models:
            raise CatalogError(path, line, f"{mc} {row[mc]!r} is not in models.csv")
    for mc in table.model_list_columns:
        for entry in filter(None, str(row.get(mc) or "").split(";")):
            if known_models is not None and entry.strip() not in known_models:
                raise CatalogError(path, line, f"{mc}: {entry.strip()!r} is not in models.csv")
    for rule in table.rules:
        reason = rule(row)
        if reason:
            raise CatalogError(path, line, reason)


def _frame(table: Table, rows: list[dict[str, object]], path: Path) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[c.name for c in table.columns])
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


def read_table(table: Table, path: Path, known_sources: set[str] | None,
               known_models: set[str] | None) -> pd.DataFrame:
    """Read and validate one table's CSV file (``known_*``: the ids other tables may cite; None skips the check)."""
    if not path.exists():
        raise CatalogError(path, None, f"file not found (table {table.name!r})")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            raise CatalogError(path, 1, "file is empty (no header)") from None
        _check_header(table, path, header)
        rows: list[dict[str, object]] = []
        seen: dict[tuple[object, ...], int] = {}
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(table.columns):
                raise CatalogError(path, line, f"expected {len(table.columns)} fields, found {len(record)}")
            row = {c.name: _parse(v, c, path, line) for c, v in zip(table.columns, record)}
            _check_row(table, row, path, line, known_sources, known_models)
            key = tuple(row[k] for k in table.key)
            if key in seen:
                raise CatalogError(path, line, f"duplicate key {dict(zip(table.key, key))} (first seen on line {seen[key]})")
            seen[key] = line
            rows.append(row)
    return _frame(table, rows, path)
