"""Every chapter: committed without outputs, parameterised, executed by papermill, and strict about bad ids."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from workbench import chapters, paths, report

# The chapters come from the registry (notebooks/chapters.toml); tests/test_chapters.py checks that it
# lists every notebook in notebooks/ and only those.
NOTEBOOKS = [c.notebook for c in chapters.load()]

# Small parameters so the whole suite stays within CI's budget on 2 cores. Every parameter a notebook
# declares is also passed explicitly (at its default unless overridden here), which checks that
# `papermill -p NAME VALUE` works for each of them.
SMALL: dict[str, dict[str, object]] = {
    "02_api_openai": {"max_tokens": 24, "concurrency": 2},
    "03_api_anthropic": {"max_tokens": 24, "concurrency": 2},
    "04_api_gemini": {"max_tokens": 24, "concurrency": 2},
    "05_self_hosted": {"prompt_lengths": [32, 128], "concurrency_levels": [1, 2], "n_requests": 4,
                       "max_tokens": 16, "decode_tokens": 16, "thread_counts": [1]},
    "10_choosing_models": {"demo_models": ["smollm2-135m-instruct"], "ensemble_models": ["smollm2-135m-instruct"] * 3,
                           "profiles": ["s1_long_context", "s2_simple"]},
}

# One bad value per notebook: the run must fail with one clear error that names the bad value.
BAD: dict[str, tuple[str, object, str]] = {
    "01_architecture": ("models", ["gpt-9"], "gpt-9"),
    "02_api_openai": ("model", "gpt-9", "gpt-9"),
    "03_api_anthropic": ("model", "claude-9", "claude-9"),
    "04_api_gemini": ("model", "gemini-9", "gemini-9"),
    "05_self_hosted": ("api_models", ["gpt-9"], "gpt-9"),
    "06_published_benchmarks": ("sources", ["S9"], "S9"),
    "07_measured_benchmarks": ("archives", ["no-such-run"], "no-such-run"),
    "08_cost_model": ("models", ["gpt-9"], "gpt-9"),
    "09_claims_ledger": ("sources", ["S9"], "S9"),
    "10_choosing_models": ("my_task_type", "poetry", "poetry"),
}


@pytest.fixture(autouse=True)
def _one_provider_for_all_kernels(request: pytest.FixtureRequest) -> None:
    """Kernels reuse the session's local provider (WORKBENCH_LOCAL_URL) instead of starting their own."""
    if "nb" in request.fixturenames or "stem" in request.fixturenames:
        request.getfixturevalue("local_provider")


def _params(nb: Path) -> dict[str, object]:
    declared = report.declared_parameters(nb)
    values = {name: ast.literal_eval(default) for name, default in declared.items()}
    values.update(SMALL.get(nb.stem, {}))
    return values


def test_there_are_chapters() -> None:
    assert {"01_architecture", "06_published_benchmarks", "08_cost_model"} <= {p.stem for p in NOTEBOOKS}


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs_and_with_a_parameters_cell(nb: Path) -> None:
    book = nbformat.read(nb, as_version=4)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "strip outputs before committing"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one code cell tagged 'parameters'"
    assert book.cells[0].cell_type == "markdown" and book.cells[0].source.startswith("# "), "starts with a title"
    declared = report.declared_parameters(nb)
    assert declared, "declares its parameters"
    seen_by_papermill = set(pm.inspect_notebook(str(nb)))
    assert seen_by_papermill == set(declared), (
        f"papermill cannot see {sorted(set(declared) - seen_by_papermill)}: keep '=' out of parameter comments")


@pytest.mark.notebooks
@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_executes_with_every_parameter_passed(nb: Path, tmp_path: Path) -> None:
    out = tmp_path / nb.name
    pm.execute_notebook(str(nb), str(out), parameters=_params(nb), cwd=str(paths.NOTEBOOKS),
                        kernel_name="python3", progress_bar=False)
    book = nbformat.read(out, as_version=4)
    errors = [o for c in book.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    shown = [o for c in book.cells if c.cell_type == "code" for o in c.outputs
             if o.output_type in ("display_data", "execute_result")]
    assert any("image/png" in o.data for o in shown), "a chapter shows at least one figure"
    exercise_tags = {"exercise", "solution", "check"}  # the exercises close a chapter; the findings come before
    last = [c for c in book.cells if c.cell_type == "code" and not exercise_tags & set(c.metadata.get("tags", []))][-1]
    text = json.dumps([o.get("data", {}) for o in last.outputs])
    assert "What we found" in text or any("What we found" in c.source for c in book.cells if c.cell_type == "markdown")


@pytest.mark.notebooks
@pytest.mark.parametrize("stem", sorted(BAD), ids=str)
def test_a_bad_id_fails_with_one_clear_error(stem: str, tmp_path: Path) -> None:
    nb = paths.NOTEBOOKS / f"{stem}.ipynb"
    if not nb.exists():
        pytest.fail(f"{nb.name} is missing")
    name, value, needle = BAD[stem]
    with pytest.raises(pm.PapermillExecutionError) as info:
        pm.execute_notebook(str(nb), str(tmp_path / nb.name), parameters={name: value},
                            cwd=str(paths.NOTEBOOKS), kernel_name="python3", progress_bar=False)
    assert info.value.ename in {"UnknownNameError", "ValueError"}
    assert needle in info.value.evalue and name in info.value.evalue
