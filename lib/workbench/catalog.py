"""Load and validate the workbook's tidy data tables (``data/*.csv``), and say which model ids are usable today.

Every table is one CSV file with a declared schema (:mod:`workbench.catalog_schema`): its columns, each column's
type, which columns are required, which ones form the row key, which columns must be positive, match a pattern
(a SHA-256, a URL, a date) or hold a semicolon list of known names or model ids, and which columns a row must fill
once it fills another. Every row carries a ``source_id``: one of the source ids in ``data/sources.csv`` (S0, S1,
...) or the URL of the page it was read from (then with the date read and whether the page is a third party's).
A file that breaks any rule raises :class:`CatalogError` naming the file, the line (as an editor shows it: the
header is line 1) and the reason, so a broken CSV fails loudly instead of flowing into a figure.

Model lifecycle: ``data/retirements.csv`` holds what each page says about an id (deprecated, retired, its
replacement, where requests are routed). :func:`retirement` merges them into the state of one id on a date
(today by default) and :func:`check_usable` is the one guard every caller of a model uses: a retired id stops a
live run with :class:`RetiredModelError` naming its replacement (unless the caller opts in), and warns
(:class:`LifecycleWarning`) everywhere else, as do deprecated ids and ids no page read today mentions.

Typical use::

    from workbench import catalog
    prices = catalog.prices()                 # a validated pandas DataFrame
    catalog.check_models(["gpt-4o"])          # raises UnknownNameError naming a bad id
    catalog.local_models()                    # the ids served by local GGUF files
    catalog.rejected_params("claude-opus-4-7")  # sampling parameters the provider refuses
    catalog.retirement("gemini-2.5-flash").message()   # retired on 2026-12-01; routed to gemini-3.5-flash-lite
"""
from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd

from . import params, paths
from .catalog_schema import PROVIDERS, SOURCE_ID, TABLES, URL, CatalogError, read_table

__all__ = [
    "PROVIDERS",
    "TABLES",
    "CatalogError",
    "LifecycleWarning",
    "RetiredModelError",
    "Retirement",
    "UnknownNameError",
    "benchmarks",
    "check_models",
    "check_names",
    "check_providers",
    "check_sources",
    "check_usable",
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
    "retirement",
    "retirements",
    "scores",
    "sources",
    "unit_prices",
]


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


@cache
def _load_cached(name: str, data_dir: str, mtime_ns: int) -> pd.DataFrame:
    table = TABLES[name]
    path = Path(data_dir) / f"{name}.csv"
    if name == "sources":
        frame = read_table(table, path, None, None)
        bad = [s for s in frame["source_id"] if not SOURCE_ID.match(str(s))]
        if bad:
            raise CatalogError(path, None, f"source ids must look like S0, S1, ...: {bad}")
        return frame
    known_sources = set(load("sources", data_dir=Path(data_dir))["source_id"])
    cites_models = table.model_columns or table.model_list_columns
    known_models = set(load("models", data_dir=Path(data_dir))["model_id"]) if cites_models else None
    return read_table(table, path, known_sources, known_models)


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
    """The models table: provider, family, release, limits, input and output modalities, open weights."""
    return load("models")


def prices() -> pd.DataFrame:
    """The dated price observations (USD per 1M tokens, every tier), one row per model, date and source."""
    return load("prices")


def unit_prices() -> pd.DataFrame:
    """Prices per image generated, per minute of audio or per second of video, one row per model, date, unit,
    variant and source."""
    return load("unit_prices")


def retirements() -> pd.DataFrame:
    """What each page says about a model id's lifecycle (status, dates, replacement), one row per id and page."""
    return load("retirements")


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
    return check_names(values, PROVIDERS, param=param, kind="provider")


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
    if URL.match(source_id):
        return source_id
    check_sources([source_id], param="source_id")
    row = sources().set_index("source_id").loc[source_id]
    return f"{source_id} ({row['author']}, {row['published']})"


# --------------------------------------------------------------------------------------------
# Lifecycle: is a model id usable on a date, and what replaces it
# --------------------------------------------------------------------------------------------
#: The SDK providers whose ids retire (open weights never do).
API_PROVIDERS = ("openai", "anthropic", "google")
_MAX_CHAIN = 5


class LifecycleWarning(UserWarning):
    """A model id is retired, deprecated, or not mentioned by any page read today; the message names the
    replacement where a page gives one."""


class RetiredModelError(ValueError):
    """A live run asked for a retired model id without opting in; the message names the replacement."""


@dataclass(frozen=True)
class Retirement:
    """The lifecycle of one model id on a date, merged from every row of ``data/retirements.csv`` about it.

    Each fact (deprecation date, retirement date, replacement, routing) comes from the most recently observed
    page that states it; a provider's own page is credited when it states the same value as a third party.
    ``disagreements`` lists the facts the pages disagree on, each value with its page and date.
    """

    model_id: str
    on: date
    status: str                       #: active, preview, legacy, deprecated, retired or unknown (on ``on``)
    deprecated_on: date | None
    retired_on: date | None
    replacement: tuple[str, ...]      #: as the page names it
    routed_to: tuple[str, ...]        #: where the provider sends requests for the retired id
    current: tuple[str, ...]          #: the replacement, followed past replacements that are retired too
    alternatives: tuple[str, ...]     #: when no page names a replacement: current ids of the same provider and output
    sources: tuple[str, ...]          #: the pages the facts come from
    third_party: bool                 #: True when some fact rests on a third party's page only
    disagreements: tuple[str, ...]

    @property
    def usable(self) -> bool:
        """Whether requests to the id are served on ``on`` (not retired)."""
        return self.status != "retired"

    def message(self) -> str:
        """One sentence for a person: the state, the dates, the replacement and where it comes from."""
        if self.status == "unknown":
            return (f"{self.model_id}: no page read says whether it is still served on {self.on.isoformat()}; "
                    "check the provider's deprecations page before a live run")
        when = {"retired": self.retired_on, "deprecated": self.retired_on}.get(self.status)
        text = {"retired": f"was retired (shut down) on {when.isoformat()}" if when else "is retired (shut down)",
                "deprecated": f"is deprecated and shuts down on {when.isoformat()}" if when else "is deprecated",
                }.get(self.status, f"is {self.status}")
        parts = [f"{self.model_id} {text} (as of {self.on.isoformat()})"]
        if self.routed_to:
            parts.append(f"the provider routes its requests to {' or '.join(self.routed_to)}, billed at that "
                         "model's rates")
        if self.replacement:
            chain = "" if self.current == self.replacement else f" (now {' or '.join(self.current)})"
            parts.append(f"replacement: {' or '.join(self.replacement)}{chain}")
        elif self.alternatives and self.status in ("retired", "deprecated"):
            parts.append(f"no page names a replacement; current models of the same kind: {', '.join(self.alternatives)}")
        if self.sources:
            hosts = ", ".join(dict.fromkeys(_host(s) for s in self.sources))
            parts.append(f"source: {hosts}" + (" (a third party's page)" if self.third_party else ""))
        if self.disagreements:
            parts.append("pages disagree on " + "; ".join(self.disagreements))
        return "; ".join(parts)


def _host(url: str) -> str:
    return urlparse(url).netloc.removeprefix("www.") or url


def _as_day(on: date | datetime | str | None) -> date:
    return date.today() if on is None else params.iso_date(on, "on")


def _fact(rows: pd.DataFrame, column: str) -> tuple[object, list[str], bool, list[str]]:
    """The value of ``column`` from the most recently observed row stating it: (value, its pages, whether only
    third parties state it, the disagreeing values with their pages)."""
    stating = rows[rows[column].notna()]
    if stating.empty:
        return None, [], False, []
    value = stating.iloc[0][column]
    same = stating[stating[column] == value]
    own = same[~same["third_party"].astype(bool)]
    credited = own if not own.empty else same.iloc[:1]
    others = stating.drop_duplicates(column)
    disagree = ([f"{column} ({', '.join(f'{_show(r[column])} per {_host(r.source_id)} of {r.observed.date()}' for _, r in others.iterrows())})"]
                if len(others) > 1 else [])
    return value, list(credited["source_id"]), own.empty, disagree


def _show(value: object) -> str:
    return value.date().isoformat() if isinstance(value, pd.Timestamp) else str(value).replace(";", " or ")


def _alternatives(model_id: str, on: date) -> tuple[str, ...]:
    """Up to three ids of the same provider and output, in today's line-up (read from a page) and not retired
    on ``on``, newest release first."""
    table = models().set_index("model_id")
    if model_id not in table.index:
        return ()
    row = table.loc[model_id]
    same = table[(table["provider"] == row["provider"]) & (table["output"] == row["output"])
                 & table["read_on"].notna() & (table.index != model_id)]
    same = same.assign(_release=same["release"].fillna("")).sort_values("_release", ascending=False)
    return tuple(m for m in same.index if _state(str(m), on, _MAX_CHAIN).usable)[:3]


def _state(model_id: str, day: date, depth: int) -> Retirement:
    return retirement(model_id, day, _depth=depth)


def retirement(model_id: str, on: date | datetime | str | None = None, *, _depth: int = 0) -> Retirement:
    """The lifecycle of ``model_id`` on ``on`` (today by default), merged from ``data/retirements.csv``.

    The id may be one of ``models.csv`` or only of ``retirements.csv`` (an id the providers retired that this
    workbook never priced). Status on ``on``: ``retired`` once its retirement date has passed (or, without a
    date, once a page observed by then says so); ``deprecated`` once deprecated or once a page announced its
    shutdown; else the latest page's own word (``legacy``, ``preview``, ``active``); ``active`` for an id of
    today's line-up, an open-weight or a local model; ``unknown`` for an API model no page read mentions.

    Raises:
        UnknownNameError: ``model_id`` is in neither table.
    """
    day = _as_day(on)
    rows = retirements()
    check_names([model_id], set(models()["model_id"]) | set(rows["model_id"]), param="model_id", kind="model")
    rows = rows[rows["model_id"] == model_id].assign(_own=lambda f: ~f["third_party"].astype(bool))
    rows = rows.sort_values(["observed", "_own"], ascending=False)
    facts = {c: _fact(rows, c) for c in ("deprecated_on", "retired_on", "replacement", "routed_to")}
    dep_day, ret_day = (None if facts[c][0] is None else facts[c][0].date() for c in ("deprecated_on", "retired_on"))
    seen = rows[rows["observed"].dt.date <= day]
    said = str(seen.iloc[0]["status"]) if not seen.empty else None
    if (ret_day is not None and ret_day <= day) or (ret_day is None and said == "retired"):
        status = "retired"
    elif (dep_day is not None and dep_day <= day) or said in ("deprecated", "retired"):
        status = "deprecated"
    else:  # a page observed later still tells an earlier date's state: not yet deprecated means active
        status = said or ("active" if not rows.empty else _default_status(model_id))
    replacement, routed = (tuple(str(facts[c][0]).split(";")) if facts[c][0] is not None else ()
                           for c in ("replacement", "routed_to"))
    current = replacement
    if _depth < _MAX_CHAIN:  # follow a replacement that is itself retired to its own replacement
        current = tuple(dict.fromkeys(
            c for r in replacement
            for c in ((_state(r, day, _depth + 1).current or (r,)) if not _state(r, day, _depth + 1).usable else (r,))))
    used = [f for f in facts.values() if f[0] is not None]
    sources = tuple(dict.fromkeys(s for f in used for s in f[1])) or tuple(dict.fromkeys(seen["source_id"]))
    third = any(f[2] for f in used) if used else bool(len(seen)) and bool(seen["third_party"].all())
    lost = status in ("retired", "deprecated") and not replacement and _depth < _MAX_CHAIN
    return Retirement(model_id=model_id, on=day, status=status, deprecated_on=dep_day, retired_on=ret_day,
                      replacement=replacement, routed_to=routed, current=current,
                      alternatives=_alternatives(model_id, day) if lost else (), sources=sources,
                      third_party=third, disagreements=tuple(d for f in used for d in f[3]))


def _default_status(model_id: str) -> str:
    """``active`` for an id of today's line-up (read from a page), an open-weight or a local model; else unknown."""
    table = models().set_index("model_id")
    if model_id not in table.index:
        return "unknown"
    row = table.loc[model_id]
    if pd.notna(row["read_on"]) or bool(row["open_weights"]) or str(row["provider"]) not in API_PROVIDERS:
        return "active"
    return "unknown"


def check_usable(model_id: str, backend: str = "local", *, allow_retired: bool = False,
                 on: date | datetime | str | None = None, stacklevel: int = 1, param: str = "model_id") -> Retirement:
    """The one guard before a model is called: warn about, or stop, an id that is not usable today.

    - retired, on the ``live`` backend: raise :class:`RetiredModelError` naming the replacement, unless
      ``allow_retired=True`` (then a :class:`LifecycleWarning`);
    - retired on the ``local`` backend, deprecated (either backend), or an API id no page read mentions:
      a :class:`LifecycleWarning` naming the replacement; Python shows it once per id and call site;
    - active, preview, legacy, open weights and the local ladder: nothing.

    ``stacklevel`` 1 attributes the warning to the caller of this function, 2 to its caller, and so on;
    ``param`` is the parameter the error names (a chapter's ``model``, say).
    Returns the :class:`Retirement` it judged by.
    """
    if backend not in ("local", "live"):
        raise UnknownNameError("backend", backend, "backend", ("local", "live"))
    if not isinstance(allow_retired, bool):
        raise TypeError(f"allow_retired: expected True or False, got {allow_retired!r}")
    state = retirement(model_id, on)
    if state.status == "retired" and backend == "live" and not allow_retired:
        raise RetiredModelError(f"{param}: {state.message()}. Pass allow_retired=True to send it anyway.")
    if state.status in ("retired", "deprecated", "unknown"):
        note = (" The local provider still answers for it offline; a live run stops here."
                if state.status == "retired" and backend == "local" else "")
        warnings.warn(state.message() + "." + note, LifecycleWarning, stacklevel=stacklevel + 1)
    return state
