"""Where things live: every module finds the repository's folders through here."""
from __future__ import annotations

import os
import sys
from pathlib import Path

#: The repository root (the folder holding pyproject.toml). Override with WORKBENCH_ROOT.
ROOT: Path = Path(os.environ.get("WORKBENCH_ROOT", Path(__file__).resolve().parents[2]))
DATA: Path = ROOT / "data"
FIGURES: Path = ROOT / "figures"
NOTEBOOKS: Path = ROOT / "notebooks"
BUILD: Path = ROOT / "build"
RESULTS: Path = ROOT / "results"
#: Where assembled model files (GGUF) live: inside the Python environment, so removing the environment
#: (``make distclean``) removes them too. Override with WORKBENCH_MODELS.
MODELS: Path = Path(os.environ.get("WORKBENCH_MODELS", Path(sys.prefix) / "share" / "workbench" / "models"))
