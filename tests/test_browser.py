"""The article as people see it: build/report.html opened in a real headless browser (Debian's chromium).

The browser is the system's ``chromium`` (``make env`` installs it with apt-get when run as root; without it
this module is skipped with one message saying how to install it), driven by playwright through the
DevTools protocol; playwright's own browser download is never used. The page is opened from disk and checked
for console errors, images that did not load, table-of-contents links that do not land on their heading,
and any request that would leave the machine (only ``file:`` and ``data:`` URLs are allowed; anything else
is recorded and aborted). A screenshot of the first screen of each chapter goes to ``build/screenshots/``
for a person to look at.

Which article: ``build/report.html`` when it exists (``make report`` wrote it). Otherwise a small article of
two fast chapters (01 and 06, HTML only: about 30 s on a quiet 2-core machine, 130 s under heavy load) is
built into a temporary folder with the library API (``report.build(only="01,06", pdf=False)``), so that
``make test`` from a fresh clone does not pay for the whole report. Marked slow for that reason; with
build/report.html present the checks take about 10 s.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from workbench import paths, report

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra: make env")

CHROMIUM = shutil.which("chromium")
if CHROMIUM is None:
    pytest.skip("Debian's chromium is missing: `make env` installs it as root (apt-get install chromium); "
                "otherwise run `sudo apt-get install chromium`", allow_module_level=True)

pytestmark = pytest.mark.slow

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
FALLBACK_CHAPTERS = "01,06"
SHOTS = paths.BUILD / "screenshots"
VIEWPORT = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def article(tmp_path_factory, local_provider) -> Path:
    """build/report.html, or a two-chapter article built into a temporary folder (see the module doc)."""
    built = paths.BUILD / "report.html"
    if built.is_file():
        return built
    out = tmp_path_factory.mktemp("article")
    result = report.build(only=FALLBACK_CHAPTERS, build_dir=out, pdf=False, progress=False)
    assert result.html is not None
    return result.html


@pytest.fixture(scope="module")
def page_visit(article, tmp_path_factory):
    """Open the article once; collect console errors, page errors, requests; yield the live page."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    seen: dict[str, list] = {"console": [], "errors": [], "requests": [], "blocked": []}
    with playwright.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=FLAGS, viewport=VIEWPORT,
            service_workers="block")

        def guard(route, request):  # record and stop anything that is not the file itself or inline data
            if request.url.startswith(("file:", "data:")):
                route.continue_()
            else:
                seen["blocked"].append(request.url)
                route.abort()

        context.route("**/*", guard)
        context.on("request", lambda r: seen["requests"].append(r.url))
        context.on("websocket", lambda ws: seen["blocked"].append(ws.url))
        page = context.pages[0] if context.pages else context.new_page()
        page.on("console", lambda m: seen["console"].append((m.type, m.text)))
        page.on("pageerror", lambda e: seen["errors"].append(str(e)))
        page.goto(article.resolve().as_uri(), wait_until="load")
        page.wait_for_load_state("networkidle")
        yield page, seen
        context.close()


def test_no_console_errors(page_visit):
    _, seen = page_visit
    assert seen["errors"] == []
    assert [text for kind, text in seen["console"] if kind == "error"] == []


def test_no_request_leaves_the_machine(page_visit):
    _, seen = page_visit
    assert seen["requests"], "the browser saw no request at all: the page did not load"
    assert seen["blocked"] == []
    assert all(url.startswith(("file:", "data:")) for url in seen["requests"]), seen["requests"]


def test_every_image_and_figure_loads(page_visit):
    page, _ = page_visit
    images = page.evaluate("""() => Array.from(document.images).map(i => ({
        alt: i.alt, complete: i.complete, width: i.naturalWidth, src: i.src.slice(0, 30)}))""")
    assert images, "the article has no image"
    broken = [i for i in images if not i["complete"] or i["width"] == 0]
    assert broken == []
    empty = page.evaluate("""() => Array.from(document.querySelectorAll('figure'))
        .filter(f => !f.querySelector('img, svg') || f.getBoundingClientRect().height < 20).map(f => f.id)""")
    assert empty == []
    assert page.locator("figure figcaption").first.inner_text().startswith("Figure ")


def test_every_contents_link_lands_on_its_heading(page_visit):
    page, _ = page_visit
    hrefs = page.eval_on_selector_all("nav#toc a", "links => links.map(a => a.getAttribute('href'))")
    assert len(hrefs) >= 4 and all(h.startswith("#") for h in hrefs)
    for href in hrefs:
        page.locator(f'nav#toc a[href="{href}"]').click()
        landed = page.evaluate("""(id) => {
            const el = document.getElementById(id);
            if (!el) return {exists: false};
            const heading = /^H[1-6]$/.test(el.tagName) ? el : el.querySelector('h1, h2, h3, h4, h5, h6');
            const top = el.getBoundingClientRect().top;
            const atBottom = window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 2;
            return {exists: true, heading: heading ? heading.textContent.trim() : null, top: top,
                    atBottom: atBottom, hash: location.hash};
        }""", href[1:])
        assert landed["exists"], f"{href}: no element with that id"
        assert landed["heading"], f"{href}: the target holds no heading"
        assert landed["hash"] == href
        assert abs(landed["top"]) <= 2 or (landed["atBottom"] and 0 <= landed["top"] < VIEWPORT["height"]), \
            f"{href}: the heading is at {landed['top']:.0f} px, not at the top of the window"


def test_screenshot_of_each_chapter(page_visit):
    page, _ = page_visit
    stems = page.eval_on_selector_all("section.chapter", "s => s.map(x => x.id)")
    assert stems
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    for stem in stems:
        page.evaluate("(id) => document.getElementById(id).scrollIntoView()", stem)
        shot = SHOTS / f"{stem}.png"
        page.screenshot(path=str(shot))
        assert shot.stat().st_size > 10_000, f"{shot} looks empty"
    assert sorted(p.stem for p in SHOTS.glob("*.png")) == sorted(stems)


def test_every_link_inside_the_article_has_a_target(page_visit):
    """Links between chapters and to figures ("Figure 7.2") point at an element of the page."""
    page, _ = page_visit
    dangling = page.evaluate("""() => Array.from(document.querySelectorAll('a[href^="#"]'))
        .map(a => a.getAttribute('href').slice(1)).filter(id => !document.getElementById(id))""")
    assert dangling == []
    refs = page.eval_on_selector_all("a.figure-ref", "links => links.map(a => a.textContent)")
    assert all(r.startswith("Figure ") for r in refs)
