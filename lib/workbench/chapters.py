"""The chapter registry: every chapter's number, title, what it teaches, parameters, keys and offline run time.

One small data file, ``notebooks/chapters.toml`` (one ``[[chapter]]`` table per notebook, in reading order),
is the only place the chapter list is written. Everything that lists chapters renders it from here:

- :func:`readme_table` - the README's chapter table (``python -m workbench.chapters readme`` prints it,
  a test compares it with the README),
- :func:`where_next` - chapter 01's "where to go next" list,
- :func:`help_lines` - the chapters ``make help`` lists,
- :func:`times_table` - the offline run times in ``docs/teaching.md``,
- the notebook tests take their chapter list from :func:`load`.

A chapter's offline run time is the report pipeline's own timing of its last run (backend ``local``, default
parameters, no key), with the date and the machine: ``python -m workbench.teaching times`` rewrites
the times here with :func:`write_times` after a ``make report``; they are never typed.

A malformed registry is one :class:`RegistryError` naming the file, the chapter and the field.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import tomlkit

from . import paths
from .params import ParameterError, iso_date

__all__ = [
    "REGISTRY",
    "Chapter",
    "RegistryError",
    "Timing",
    "content_digest",
    "embed",
    "embedded",
    "get",
    "help_lines",
    "load",
    "main",
    "readme_table",
    "times_table",
    "where_next",
    "write_times",
]

#: The registry file.
REGISTRY: Path = paths.NOTEBOOKS / "chapters.toml"

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEY = re.compile(r"^[A-Z][A-Z0-9_]*$")
_FIELDS = ("number", "stem", "title", "teaches", "parameters", "keys")
_TIMING = ("seconds", "measured_on", "machine")


class RegistryError(ValueError):
    """The registry file is malformed: the message names the file, the chapter and the field."""


@dataclass(frozen=True)
class Timing:
    """A chapter's offline run time as the report pipeline measured it."""

    seconds: float
    measured_on: date
    machine: str


@dataclass(frozen=True)
class Chapter:
    """One chapter of the workbook, as the registry describes it."""

    number: str
    stem: str
    title: str
    teaches: str
    parameters: tuple[str, ...]
    keys: tuple[str, ...]
    timing: Timing | None = None

    @property
    def filename(self) -> str:
        """The notebook's file name (``01_architecture.ipynb``)."""
        return f"{self.stem}.ipynb"

    @property
    def notebook(self) -> Path:
        """The notebook's path in the repository."""
        return paths.NOTEBOOKS / self.filename

    @property
    def heading(self) -> str:
        """``01 · Architecture notes``: how the chapter is named in lists and links."""
        return f"{self.number} · {self.title}"

    @property
    def live(self) -> bool:
        """True when the chapter has live cells (they need the keys in :attr:`keys`)."""
        return bool(self.keys)


def _fail(path: Path, where: str, message: str) -> RegistryError:
    return RegistryError(f"{path}: {where}: {message}")


def _text(entry: Mapping[str, Any], field: str, path: Path, where: str) -> str:
    value = entry.get(field)
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, where, f"'{field}' must be non-empty text, got {value!r}")
    return value.strip()


def _names(entry: Mapping[str, Any], field: str, pattern: re.Pattern[str], path: Path, where: str) -> tuple[str, ...]:
    value = entry.get(field)
    if not isinstance(value, list) or not all(isinstance(v, str) and pattern.match(v) for v in value):
        raise _fail(path, where, f"'{field}' must be a list of names matching {pattern.pattern}, got {value!r}")
    if len(set(value)) != len(value):
        raise _fail(path, where, f"'{field}' lists a name twice: {value!r}")
    return tuple(value)


def _timing(entry: Mapping[str, Any], path: Path, where: str) -> Timing | None:
    present = [f for f in _TIMING if f in entry]
    if not present:
        return None
    if len(present) != len(_TIMING):
        raise _fail(path, where, f"give all of {', '.join(_TIMING)} or none (has only {', '.join(present)})")
    seconds = entry["seconds"]
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
        raise _fail(path, where, f"'seconds' must be a positive number, got {seconds!r}")
    try:
        measured_on = iso_date(entry["measured_on"], "measured_on")
    except ParameterError as err:
        raise _fail(path, where, str(err)) from None
    return Timing(float(seconds), measured_on, _text(entry, "machine", path, where))


def _chapter(entry: Any, i: int, path: Path) -> Chapter:
    where = f"chapter {i}"
    if not isinstance(entry, dict):
        raise _fail(path, where, "each [[chapter]] must be a table")
    unknown = sorted(set(entry) - set(_FIELDS) - set(_TIMING))
    if unknown:
        raise _fail(path, where, f"unknown field(s) {unknown}; fields: {', '.join(_FIELDS + _TIMING)}")
    number = _text(entry, "number", path, where)
    where = f"chapter {number}"
    if not re.fullmatch(r"\d{2}", number):
        raise _fail(path, where, f"'number' must be two digits such as \"01\", got {number!r}")
    stem = _text(entry, "stem", path, where)
    if not re.fullmatch(rf"{number}_[a-z0-9_]+", stem):
        raise _fail(path, where, f"'stem' must be '{number}_' and a lowercase name, got {stem!r}")
    return Chapter(number=number, stem=stem, title=_text(entry, "title", path, where),
                   teaches=_text(entry, "teaches", path, where),
                   parameters=_names(entry, "parameters", _NAME, path, where),
                   keys=_names(entry, "keys", _KEY, path, where), timing=_timing(entry, path, where))


def load(path: Path | None = None) -> tuple[Chapter, ...]:
    """Every chapter in reading order; raises :class:`RegistryError` on a malformed file."""
    path = Path(path) if path is not None else REGISTRY
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise RegistryError(f"{path}: cannot be read: {err}") from None
    except tomllib.TOMLDecodeError as err:
        raise RegistryError(f"{path}: not valid TOML: {err}") from None
    unknown = sorted(set(data) - {"chapter"})
    if unknown or not isinstance(data.get("chapter"), list) or not data["chapter"]:
        raise RegistryError(f"{path}: expected only [[chapter]] tables, at least one"
                            + (f"; unknown: {unknown}" if unknown else ""))
    chapters = tuple(_chapter(entry, i, path) for i, entry in enumerate(data["chapter"], start=1))
    numbers = [c.number for c in chapters]
    if numbers != sorted(set(numbers)):
        raise RegistryError(f"{path}: chapter numbers must be unique and in order, got {numbers}")
    return chapters


def get(chapter: str | int, path: Path | None = None) -> Chapter:
    """One chapter by number (``"01"``, ``1``) or stem; :class:`ParameterError` lists the valid ones."""
    chapters = load(path)
    wanted = f"{chapter:02d}" if isinstance(chapter, int) and not isinstance(chapter, bool) else str(chapter)
    for c in chapters:
        if wanted in (c.number, c.stem, c.filename):
            return c
    raise ParameterError("chapter", "one of " + ", ".join(c.number for c in chapters), chapter)


def content_digest(path: Path | None = None) -> str:
    """SHA-256 of what the chapters say about themselves, measured times left out.

    For a build cache: a chapter that renders the registry (chapter 01's "where to go next") depends on
    this, and rewriting the times after a build (:func:`write_times`) does not change it.
    """
    described = [(c.number, c.stem, c.title, c.teaches, c.parameters, c.keys) for c in load(path)]
    return hashlib.sha256(json.dumps(described).encode()).hexdigest()


# -- renderings ------------------------------------------------------------------------------------------

def _keys(chapter: Chapter) -> str:
    return ", ".join(f"`{k}`" for k in chapter.keys) if chapter.keys else "none (no live cells)"


def _duration(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole} s" if whole < 90 else f"{whole // 60} min {whole % 60:02d} s"


def where_next(current: str | int | None = None, path: Path | None = None) -> str:
    """The markdown list of chapters, with links, that a chapter shows as "where to go next".

    ``current`` (a number or stem) is left out. Links are relative to ``notebooks/`` (the report turns
    them into anchors inside the article).
    """
    skip = get(current, path).number if current is not None else None
    return "\n".join(f"- [{c.heading}]({c.filename}): {c.teaches}." for c in load(path) if c.number != skip)


def readme_table(path: Path | None = None) -> str:
    """The README's chapter table (markdown, between its markers; see :func:`embed`)."""
    rows = ["| chapter | what it teaches | live cells need |", "|---|---|---|"]
    rows += [f"| [{c.heading}](notebooks/{c.filename}) | {c.teaches} | {_keys(c)} |" for c in load(path)]
    return _wrap("readme", "\n".join(rows))


def times_table(path: Path | None = None) -> str:
    """The teaching guide's table: each chapter's offline run time, where it was measured, what keys add."""
    chapters = load(path)
    rows = ["| chapter | offline, no key | measured on | live cells need |", "|---|---|---|---|"]
    for c in chapters:
        t = c.timing
        when = f"{t.measured_on.isoformat()}, {t.machine}" if t else "not measured yet"
        rows.append(f"| {c.heading} | {_duration(t.seconds) if t else '?'} | {when} | {_keys(c)} |")
    timed = [c.timing.seconds for c in chapters if c.timing]
    total = _duration(sum(timed)) + ("" if len(timed) == len(chapters) else f" ({len(timed)} of {len(chapters)} measured)")
    rows.append(f"| all chapters | {total} | | |")
    return _wrap("times", "\n".join(rows))


def help_lines(path: Path | None = None) -> str:
    """The chapters as ``make help`` lists them: number, title, offline time, keys of the live cells."""
    lines = ["chapters (notebooks/; make lab opens them, make report builds them):"]
    for c in load(path):
        extra = [f"~{_duration(c.timing.seconds)} offline" if c.timing else "",
                 f"live: {', '.join(c.keys)}" if c.keys else ""]
        note = "; ".join(e for e in extra if e)
        lines.append(f"  {c.number}  {c.title}" + (f"  ({note})" if note else ""))
    return "\n".join(lines)


# -- generated blocks inside hand-written files ----------------------------------------------------------

def _markers(name: str) -> tuple[str, str]:
    begin = (f"<!-- chapters:{name} (generated from notebooks/chapters.toml by "
             f"`python -m workbench.chapters {name}`; do not edit by hand) -->")
    return begin, f"<!-- /chapters:{name} -->"


def _wrap(name: str, body: str) -> str:
    begin, end = _markers(name)
    return f"{begin}\n{body}\n{end}"


def embedded(text: str, name: str) -> str | None:
    """The generated block ``name`` (``readme``, ``times``) inside ``text``, markers included; None if absent."""
    begin, end = _markers(name)
    start = text.find(begin)
    stop = text.find(end, start)
    return text[start:stop + len(end)] if start >= 0 and stop >= 0 else None


def embed(text: str, block: str) -> str:
    """``text`` with the generated block of the same name replaced by ``block`` (which carries its markers)."""
    name = block.split("chapters:", 1)[1].split(" ", 1)[0]
    old = embedded(text, name)
    if old is None:
        raise RegistryError(f"no block '{name}' to replace: the text lacks the line {_markers(name)[0]!r}")
    return text.replace(old, block)


# -- writing the measured times ----------------------------------------------------------------------------

def write_times(timings: Mapping[str, Timing], path: Path | None = None) -> tuple[Chapter, ...]:
    """Set the run time of the chapters named (by stem) in ``timings``, keeping the file's comments and layout.

    Returns the registry as read back (so a bad write fails here, not later).
    """
    path = Path(path) if path is not None else REGISTRY
    known = {c.stem for c in load(path)}
    unknown = sorted(set(timings) - known)
    if unknown:
        raise ParameterError("timings", f"chapters of the registry ({', '.join(sorted(known))})", unknown)
    doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    for table in doc["chapter"]:  # type: ignore[union-attr]
        t = timings.get(str(table["stem"]))
        if t is not None:
            table["seconds"] = round(t.seconds, 1)
            table["measured_on"] = t.measured_on.isoformat()
            table["machine"] = t.machine
    path.write_text(tomlkit.dumps(doc), encoding="utf-8")
    return load(path)


# -- command line ----------------------------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    """``python -m workbench.chapters readme|times|help|where-next [NN]``: print a rendering of the registry."""
    parser = argparse.ArgumentParser(prog="python -m workbench.chapters", description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["readme", "times", "help", "where-next", "list"],
                        help="readme: the README's chapter table; times: the teaching guide's time table; "
                             "help: what make help lists; where-next: chapter 01's list; list: the stems")
    parser.add_argument("chapter", nargs="?", help="where-next: the chapter to leave out (e.g. 01)")
    args = parser.parse_args(argv)
    try:
        if args.what == "readme":
            print(readme_table())
        elif args.what == "times":
            print(times_table())
        elif args.what == "help":
            print(help_lines())
        elif args.what == "where-next":
            print(where_next(args.chapter))
        else:
            print("\n".join(c.stem for c in load()))
    except (RegistryError, ParameterError) as err:
        print(f"chapters: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
