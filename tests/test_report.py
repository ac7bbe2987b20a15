"""The report build: executes two small real notebooks with papermill and checks the HTML, PDF and cache.

The build runs with canary API keys in the environment; no file under the build folder may contain them.
"""
from __future__ import annotations

import re
import secrets
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup

from workbench import catalog, paths, report

REAL_TREE_FILES = report.cache.tree_files
CANARIES = {name: f"sk-canary-{secrets.token_hex(12)}"
            for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY")}

ALPHA = [
    ("markdown", ("# Alpha chapter\n\nWhat you will learn: links work. See [the beta results](02_beta.ipynb#Results) "
                 "and [beta](02_beta.ipynb). Prices $2.50 and $10 stay text; math $x^2$ is MathML.")),
    ("parameters", "backend = \"local\"\nn = 3"),
    ("code", ("import os, pandas as pd\nimport matplotlib.pyplot as plt\n"
             "INPUT_MARKER_7f3 = 1\n"
             "print('key seen by the kernel:', os.environ.get('OPENAI_API_KEY'))\n"
             "print('secret-looking variables:', sorted(k for k in os.environ if 'KEY' in k))\n"
             "pd.DataFrame({'model': ['a', 'b'], 'score': [n, n * 2]})")),
    ("markdown", "## A figure"),
    ("code", "fig, ax = plt.subplots(figsize=(3, 2))\nax.plot([1, 2, 3])\nplt.show()"),
    ("code", "from IPython.display import Markdown\nMarkdown(f'## What we found\\n\\nOutput marker {n * 7}, backend {backend}.')"),
    ("code", ("import tempfile\nfrom workbench import plots, tables\n"
              "fig, ax = plt.subplots(figsize=(3, 2))\nax.set_title('Alpha line')\nax.plot([3, 1, 2])\n"
              "plots.save(fig, '01_alpha_line', folder=tempfile.mkdtemp())\nplt.show()")),
    ("markdown", "As [the alpha line figure](#fig-01_alpha_line) shows, and [a missing figure](#fig-01_nothing) does not."),
    ("code", ("tables.show(pd.DataFrame({f'column_{i}_pct': [f'value_{i}_is_rather_long_{j}' for j in range(3)] "
              "for i in range(12)}), 'a wide test frame')\n"
              "tables.show(pd.DataFrame({f'c{i}': ['averyveryverylongunbreakableword'] for i in range(20)}), 'a very wide frame')\n"
              "tables.show(pd.DataFrame({'model': ['a', 'b'], 'score_pct': [50.0, float('nan')]}), 'TABLE_SOURCE_f6')")),
    ("markdown:exercise", "## Exercises\n\n### Exercise 01.1 · EXERCISE_MARKER_a1"),
    ("code:exercise", "answer = ...  # EXERCISE_CODE_b2"),
    ("code:solution", "answer = 42  # SOLUTION_MARKER_c3\nprint('SOLUTION_OUTPUT_d4')"),
    ("code:check", "print('CHECK_OUTPUT_e5', answer)"),
]
BETA = [
    ("markdown", "# Beta chapter\n\nBack to [alpha](01_alpha.ipynb#A-figure) and [its line](01_alpha.ipynb#fig-01_alpha_line)."),
    ("parameters", "label = \"beta\""),
    ("code", "import os\nprint(label, dict(os.environ))"),
    ("markdown", "## Results\n\n| a | b |\n|---|---|\n| 1 | 2 |"),
    ("show-input", "SHOWN_SDK_CALL_9c1 = sum([1, 2])"),
]


def _write(folder: Path, name: str, cells: list[tuple[str, str]]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for kind, source in cells:
        kind, _, tag = kind.partition(":")  # "code:solution" is a code cell tagged solution
        if kind == "markdown":
            cell = nbformat.v4.new_markdown_cell(source)
        else:
            cell = nbformat.v4.new_code_cell(source)
            if kind in ("parameters", "show-input"):
                cell.metadata["tags"] = [kind]
        if tag:
            cell.metadata["tags"] = [tag]
        nb.cells.append(cell)
    path = folder / name
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def canaries():
    with pytest.MonkeyPatch.context() as mp:
        for name, value in CANARIES.items():
            mp.setenv(name, value)
        yield CANARIES


@pytest.fixture(scope="module")
def frozen_tree():
    """Teammates edit lib/ and data/ while tests run: freeze the hashed tree so the cache test is stable."""
    snapshot = report.cache.tree_files(report.cache.LIB_DIR, paths.DATA)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(report.cache, "tree_files", lambda lib_dir, data_dir: snapshot)
        yield snapshot


@pytest.fixture(scope="module")
def built(tmp_path_factory, canaries, frozen_tree, local_provider):
    nbdir = tmp_path_factory.mktemp("notebooks")
    _write(nbdir, "01_alpha.ipynb", ALPHA)
    _write(nbdir, "02_beta.ipynb", BETA)
    build_dir = tmp_path_factory.mktemp("build")
    result = report.build(params={"n": 4}, notebooks_dir=nbdir, build_dir=build_dir, progress=False)
    html = result.html.read_text(encoding="utf-8")
    return {"nbdir": nbdir, "build": build_dir, "result": result, "html": html,
            "soup": BeautifulSoup(html, "html.parser")}


def test_no_secret_reaches_any_build_file(built, canaries):
    files = [p for p in built["build"].rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"report.html", "report.pdf", "report.typ", "01_alpha.ipynb", "02_beta.ipynb"}
    for path in files:
        data = path.read_bytes()
        for name, value in canaries.items():
            assert value.encode() not in data, f"{name} leaked into {path}"
    executed = (built["build"] / "notebooks" / "01_alpha.ipynb").read_text()
    assert "key seen by the kernel: None" in executed and "secret-looking variables: []" in executed
    assert report.scan_for_secrets(built["build"]) == {}


def test_code_inputs_hidden_outputs_shown(built):
    html = built["html"]
    assert "INPUT_MARKER_7f3" not in html and "plt.subplots" not in html
    assert "Output marker 28, backend local." in html  # n=4 reached the notebook that declares it
    assert built["soup"].select("section[id='01_alpha'] table")  # the DataFrame
    imgs = built["soup"].select("section[id='01_alpha'] figure img")
    assert imgs and all(i["src"].startswith("data:image/") for i in imgs)
    assert built["soup"].select("section[id='01_alpha'] math")  # $x^2$ became MathML
    assert "$2.50 and $10 stay text" in html
    # a cell tagged show-input keeps its code (the API chapters' SDK calls), even with no output
    assert "SHOWN_SDK_CALL_9c1" in built["soup"].select_one("section[id='02_beta']").get_text()


def test_toc_chapters_in_order_and_internal_links_resolve(built):
    soup = built["soup"]
    toc = [a["href"] for a in soup.select("nav#toc a")]
    assert toc.index("#01_alpha") < toc.index("#02_beta") < toc.index("#sources") < toc.index("#environment")
    assert "#01_alpha--What-we-found" in toc and "#02_beta--Results" in toc
    ids = {t["id"] for t in soup.find_all(id=True)}
    internal = [a["href"][1:] for a in soup.find_all("a", href=True) if a["href"].startswith("#")]
    assert internal and all(i in ids for i in internal)
    alpha = soup.select_one("section[id='01_alpha']")
    assert alpha.find("a", href="#02_beta--Results") and alpha.find("a", href="#02_beta")
    assert soup.select_one("section[id='02_beta']").find("a", href="#01_alpha--A-figure")
    assert not soup.find("a", href=re.compile(r"\.ipynb"))


def test_sources_and_environment_sections(built):
    soup = built["soup"]
    rows = soup.select("section#sources tbody tr")
    table = catalog.load("sources")
    assert [r.td.get_text() for r in rows] == list(table["source_id"]) and len(rows) >= 5
    assert all(t in built["html"] for t in table["title"])
    env = {r.find_all("td")[0].get_text(): r.find_all("td")[1].get_text()
           for r in soup.select("section#environment table.environment tbody tr")}
    for key in ("Built", "Git commit", "Python", "Backend", *report.KEY_PACKAGES):
        assert key in env
    assert env["Backend"] == "local" and env["openai"] == "3.51.0" and "SmolLM2" in env["Local model"]


def test_html_loads_nothing_from_the_network(built):
    soup = built["soup"]
    for tag in soup.find_all(["script", "link", "img", "iframe", "source", "video", "audio"]):
        for attr in ("src", "href"):
            assert not re.match(r"(?i)\s*(https?:)?//", tag.get(attr, "")), tag
    assert not re.search(r"(?i)<(script|link)[^>]+(src|href)=[\"']?(https?:)?//", built["html"])


def test_pdf_written(built):
    pdf = built["result"].pdf
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 20_000
    typ = (pdf.parent / "pdf" / "report.typ").read_text()
    assert "#outline(" in typ and "= Sources" in typ and "= Environment" in typ and "image(" in typ


def test_exercise_cells_stay_out_of_the_article(built):
    executed = (built["build"] / "notebooks" / "01_alpha.ipynb").read_text()
    assert "SOLUTION_OUTPUT_d4" in executed and "CHECK_OUTPUT_e5 42" in executed  # they ran
    typ = (built["build"] / "pdf" / "report.typ").read_text()
    for marker in ("EXERCISE_MARKER_a1", "EXERCISE_CODE_b2", "SOLUTION_MARKER_c3", "SOLUTION_OUTPUT_d4",
                   "CHECK_OUTPUT_e5", "Exercises"):
        assert marker not in built["html"] and marker not in typ, marker


def test_figures_numbered_per_chapter_captioned_and_referenced(built):
    soup = built["soup"]
    alpha = soup.select_one("section[id='01_alpha']")
    figures = alpha.find_all("figure")
    assert [f["id"] for f in figures] == ["figure-1-1", "fig-01_alpha_line"]
    assert [f.figcaption.get_text() for f in figures] == ["Figure 1.1", "Figure 1.2. Alpha line"]
    assert figures[1].img["alt"] == "Figure 1.2. Alpha line"
    ref = alpha.find("a", href="#fig-01_alpha_line")
    words = " ".join(alpha.get_text(" ").split())
    assert ref.get_text() == "Figure 1.2" and "As Figure 1.2 shows" in words
    assert "a missing figure does not" in words and not soup.find("a", href="#fig-01_nothing")
    assert soup.select_one("section[id='02_beta']").find("a", href="#fig-01_alpha_line").get_text() == "Figure 1.2"
    # plots.save showed the figure once, with its name and caption in the output's metadata
    nb = nbformat.read(built["build"] / "notebooks" / "01_alpha.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "01_alpha_line" in c.source and c.cell_type == "code")
    images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1
    assert images[0].metadata["workbench"] == {"figure": "01_alpha_line", "caption": "Alpha line"}
    typ = (built["build"] / "pdf" / "report.typ").read_text()
    assert "<fig-01_alpha_line>" in typ and "#link(<fig-01_alpha_line>)[Figure 1.2]" in typ
    assert "Figure 1.2. Alpha line" in typ and "#set figure(numbering: none)" in typ


def test_tables_without_index_and_legible_in_the_pdf(built):
    alpha = built["soup"].select_one("section[id='01_alpha']")
    small = next(t for t in alpha.find_all("table") if "score %" in t.get_text())
    assert [th.get_text() for th in small.find_all("th")] == ["model", "score %"]  # no index column
    assert [td.get_text() for td in small.find_all("td")] == ["a", "50.0", "b", ""]
    source = small.find_next("p")
    assert source["class"] == ["table-source"] and source.get_text() == "From TABLE_SOURCE_f6."
    typ = (built["build"] / "pdf" / "report.typ").read_text()
    assert "scale(" not in typ  # no table is shrunk to fit
    assert "table.header(" in typ  # the header repeats on every page a table runs over
    assert re.search(r"columns: \((\d+(\.\d+)?%, ){11}\d+(\.\d+)?%\)", typ)  # the wide table wraps in set columns
    assert "] <wb-landscape-1>" in typ and "] <wb-landscape-2>" not in typ  # the widest one is turned
    assert re.search(r"\] <wb-source-\d+>", typ)
    template = (report.publish.ASSETS / "report.typ").read_text()
    table_sizes = [float(x) for x in re.findall(r"#show table[^\n]*size: ([\d.]+)pt", template)]
    assert table_sizes == [7.5] and "page(flipped: true" in template


def test_second_run_is_a_cache_hit(built):
    first = built["result"]
    assert first.cache_hits == []
    executed = built["build"] / "notebooks" / "01_alpha.ipynb"
    before = executed.stat().st_mtime_ns
    again = report.build(params={"n": 4}, notebooks_dir=built["nbdir"], build_dir=built["build"],
                         pdf=False, progress=False)
    assert again.cache_hits == ["01_alpha", "02_beta"]
    assert executed.stat().st_mtime_ns == before
    changed = report.execute(built["nbdir"], built["build"], params={"n": 5}, only="01", progress=False)
    assert [r.cached for r in changed] == [False]  # a new parameter value re-executes


def test_cache_key_covers_notebook_library_data_parameters_and_backend(tmp_path, monkeypatch):
    monkeypatch.setattr(report.cache, "tree_files", REAL_TREE_FILES)
    lib, data = tmp_path / "lib", tmp_path / "data"
    lib.mkdir(), data.mkdir()
    (lib / "mod.py").write_text("x = 1\n")
    (data / "prices.csv").write_text("a,b\n1,2\n")
    nb = _write(tmp_path, "01_x.ipynb", BETA)

    def key(params=None, backend="local"):
        return report.cache_key(nb, params or {"label": "a"}, backend, lib_dir=lib, data_dir=data)

    keys = [key()]
    assert key() == keys[0]
    keys.append(key(params={"label": "b"}))
    keys.append(key(backend="live"))
    (lib / "mod.py").write_text("x = 2\n")
    keys.append(key())
    (data / "prices.csv").write_text("a,b\n1,3\n")
    keys.append(key())
    _write(tmp_path, "01_x.ipynb", BETA[:-1])
    keys.append(key())
    assert len(set(keys)) == len(keys)


def test_parameters_go_only_where_declared(built):
    alpha = nbformat.read(built["build"] / "notebooks" / "01_alpha.ipynb", as_version=4)
    beta = nbformat.read(built["build"] / "notebooks" / "02_beta.ipynb", as_version=4)
    assert alpha.metadata.papermill.parameters in ({"backend": "local", "n": 4}, {"backend": "local", "n": 5})
    assert beta.metadata.papermill.parameters == {}


def test_unknown_parameter_is_one_clear_error(built, capsys):
    with pytest.raises(report.UnknownParameterError, match="'nope'.*backend, label, n"):
        report.build(params={"nope": 1}, notebooks_dir=built["nbdir"], build_dir=built["build"])
    assert report.main(["--notebooks-dir", str(built["nbdir"]), "--build-dir", str(built["build"]),
                        "-p", "nope", "1"]) == 1
    assert "unknown parameter 'nope'" in capsys.readouterr().err
    with pytest.raises(report.UnknownParameterError, match="'api_key' looks like a secret"):
        report.execute(built["nbdir"], built["build"], params={"api_key": "x"})
    with pytest.raises(report.UnknownParameterError, match="'n' looks like a secret"):
        report.execute(built["nbdir"], built["build"], params={"n": CANARIES["OPENAI_API_KEY"]})
    assert not report.secrets.SECRET_PARAM.search("input_tokens") and report.secrets.SECRET_PARAM.search("hf_token")
    with pytest.raises(report.UnknownParameterError, match="only: no notebook '07'"):
        report.execute(built["nbdir"], built["build"], only="07")
    with pytest.raises(report.UnknownParameterError, match="backend: unknown backend 'cloud'"):
        report.build("cloud", notebooks_dir=built["nbdir"], build_dir=built["build"])


def test_selection_and_cell_timeout_are_checked(built):
    assert report.plan.selection("01, 06,") == ["01", "06"]
    assert report.plan.selection([1, "02_beta"]) == ["1", "02_beta"]
    assert report.plan.selection('["02"]') == ["02"]
    assert [p.stem for p in report.find_notebooks(built["nbdir"], [2])] == ["02_beta"]
    with pytest.raises(report.UnknownParameterError, match="only: expected names"):
        report.find_notebooks(built["nbdir"], ["01", None])
    with pytest.raises(report.UnknownParameterError, match="only: empty selection"):
        report.find_notebooks(built["nbdir"], " , ")
    with pytest.raises(report.UnknownParameterError, match="cell_timeout: expected a whole number >= 1, got 0"):
        report.execute(built["nbdir"], built["build"], cell_timeout=0)


def test_package_imports_point_down():
    """cli -> pipeline -> publish -> print_layout -> render -> figures -> execution -> cache -> plan -> secrets
    -> errors."""
    order = ["cli", "pipeline", "publish", "print_layout", "render", "figures", "execution", "cache", "plan",
             "secrets", "errors"]
    folder = Path(report.__file__).parent
    assert sorted(p.stem for p in folder.glob("*.py")) == sorted([*order, "__init__", "__main__"])
    for name in order:
        source = (folder / f"{name}.py").read_text()
        imported = re.findall(r"^from \.(\w+) import", source, re.MULTILINE)
        imported += [m for line in re.findall(r"^from \. import (.+)$", source, re.MULTILINE)
                     for m in re.split(r",\s*", line)]
        for other in imported:
            assert order.index(other) > order.index(name), f"{name} imports {other}, which is above it"
        assert len(source.splitlines()) < 400, name


def test_failing_notebook_names_notebook_and_cell(tmp_path):
    nbdir = tmp_path / "nb"
    nbdir.mkdir()
    _write(nbdir, "01_broken.ipynb", [("markdown", "# Broken"), ("code", "x = 1"),
                                      ("code", "raise ValueError('bad model gpt-9')"), ("code", "y = 2")])
    with pytest.raises(report.NotebookExecutionError) as info:
        report.build(notebooks_dir=nbdir, build_dir=tmp_path / "build", progress=False)
    message = str(info.value)
    assert "01_broken.ipynb" in message and "cell 3" in message and "bad model gpt-9" in message
    assert info.value.executed.exists()  # the partial copy is kept for reading
    assert not (tmp_path / "build" / "notebooks" / "01_broken.run.json").exists()
    assert not (tmp_path / "build" / "report.html").exists()


def test_command_line_values_take_the_declared_type():
    assert report.plan.coerce("5", "3") == 5
    assert report.plan.coerce("0.9", "0.95") == 0.9
    assert report.plan.coerce("123", "'abc'") == "123"
    assert report.plan.coerce("a,b", "['x']") == ["a", "b"]
    assert report.plan.coerce('["a", "b"]', "['x']") == ["a", "b"]
    assert report.plan.coerce("false", "True") is False
    assert report.plan.coerce("gpt-4o,claude", "None") == ["gpt-4o", "claude"]
    assert report.plan.coerce("2024-11-30", "None") == "2024-11-30"
    assert report.plan.coerce("None", "'x'") == "None" and report.plan.coerce("None", "3") is None


def test_scan_finds_and_redaction_removes_a_secret(tmp_path, canaries):
    leak = tmp_path / "out.txt"
    leak.write_text(f"oops {canaries['GEMINI_API_KEY']}")
    assert report.scan_for_secrets(tmp_path) == {leak: ["GEMINI_API_KEY"]}
    assert report.secrets.redact([leak]) == {"GEMINI_API_KEY"}
    assert canaries["GEMINI_API_KEY"] not in leak.read_text()
