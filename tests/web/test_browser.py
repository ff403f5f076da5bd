"""The catalog in a real browser: headless Chromium (Playwright) against the app under waitress.

The browser is the system Chromium, never a download: CI installs it (`.ci/run`) and a
missing one fails these tests rather than skipping them.  Each step leaves a screenshot
under ``test-artifacts/browser/`` at the repository root.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import PASSWORD, chromium, served
from webapp import create_app

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TIMEOUT_MS = 10_000

PREVIEWS_LOADED = """(needle) => {
  const imgs = [...document.querySelectorAll("img.preview")];
  return imgs.length > 0 && imgs.every(i => i.src.includes(needle) && i.complete && i.naturalWidth > 0);
}"""
SET_RANGE = "(el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }"


@pytest.fixture(scope="module")
def base_url(web_kb, web_accounts) -> Iterator[str]:
    """The platform under waitress; the browser (which depends on this fixture) closes first."""
    with served(create_app({"TESTING": True, "SECRET_KEY": "t", "ACCOUNTS": web_accounts}, kb=web_kb)) as url:
        yield url


@pytest.fixture(scope="module")
def browser(base_url) -> Iterator[Browser]:
    # Depends on base_url so the browser (and its keep-alive connections) closes before the server.
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser, base_url) -> Iterator[Page]:
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def snap(page, request):
    """``snap(step)``: screenshot the page to ``test-artifacts/browser/<test>-<step>.png`` and check the file."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def snap(step: str) -> Path:
        path = ARTIFACTS / f"{request.node.name}-{step}.png"
        page.screenshot(path=path, full_page=True)
        assert path.is_file() and path.read_bytes()[:8] == PNG_SIGNATURE, path
        return path

    return snap


def _listed(page: Page, table: str) -> list[str]:
    return sorted(page.locator(f"table#{table} tbody tr td:first-child a").all_inner_texts())


def test_models_list_filters_with_facets(page, snap):
    page.goto("/models")
    assert _listed(page, "models") == ["abdomen", "beating-heart", "brain", "brain-mr-only", "contrast-detail"]
    snap("all")

    page.select_option("select[name=ready]", "PET")
    page.click("form.facets button[type=submit]")
    page.wait_for_url("**/models?*ready=PET*")
    assert _listed(page, "models") == ["abdomen", "brain", "contrast-detail"]
    expect(page.locator("select[name=ready]")).to_have_value("PET")  # the form keeps the choice
    snap("ready-pet")

    page.select_option("select[name=ready]", "")
    page.select_option("select[name=dynamics]", label="moving or longitudinal")
    page.click("form.facets button[type=submit]")
    page.wait_for_url("**/models?*dynamics=dynamic*")
    assert _listed(page, "models") == ["beating-heart"]
    expect(page.locator("p.count")).to_have_text("1 model(s)")
    snap("dynamic")


def test_slice_slider_updates_previews_without_reload(page, snap):
    page.goto("/models/brain")
    page.wait_for_function(PREVIEWS_LOADED, arg="z=")
    assert page.locator("#instant").count() == 0  # a static model has no instant slider
    snap("initial")
    page.evaluate("window.notReloaded = true")

    page.eval_on_selector("#slice", SET_RANGE, "40")
    page.wait_for_function(PREVIEWS_LOADED, arg="z=40")
    sources = page.eval_on_selector_all("img.preview[data-layer]", "imgs => imgs.map(i => i.src)")
    assert len(sources) == 2 and all("z=40" in s for s in sources), sources
    widths = page.eval_on_selector_all("img.preview", "imgs => imgs.map(i => i.naturalWidth)")
    assert all(w > 0 for w in widths), widths
    expect(page.locator("#slice-value")).to_have_text("40")
    assert page.evaluate("window.notReloaded") is True and "z=40" in page.url  # same page, address updated
    snap("slice-40")


def test_instant_slider_moves_the_heart(page, snap):
    page.goto("/models/beating-heart")
    page.wait_for_function(PREVIEWS_LOADED, arg="i=0")
    heart = page.locator("img.preview").first
    before = heart.screenshot()
    snap("instant-0")

    page.eval_on_selector("#instant", SET_RANGE, "5")
    _, i = page.evaluate("JSON.parse(document.getElementById('instants').textContent)[5]")[:2]
    page.wait_for_function(PREVIEWS_LOADED, arg=f"i={i}&")
    expect(page.locator("#instant-value")).to_have_text("5")
    after = heart.screenshot()
    assert after[:8] == PNG_SIGNATURE and after != before  # the heart moved
    snap("instant-5")


def test_simulator_and_simulated_data_pages_from_the_lists(page, snap):
    page.goto("/")
    page.click("header nav >> text=Simulators")
    page.wait_for_url("**/simulators")
    snap("simulators")
    page.click("table#simulators >> a:text-is('mri')")
    page.wait_for_url("**/simulators/mri")
    expect(page.locator("#parameters")).to_contain_text("matrix_readout")
    expect(page.locator("#compatible")).to_contain_text("contrast-detail")
    snap("simulator-mri")

    page.click("header nav >> text=Simulated data")
    page.wait_for_url("**/data")
    ids = _listed(page, "data")
    assert len(ids) == 3 and all(i.startswith("mri-contrast-detail-v1-") for i in ids), ids
    snap("data")
    page.click("table#data a[href$='/image']")
    page.wait_for_url("**/data/**/image")
    page.wait_for_function(PREVIEWS_LOADED, arg="/files/")
    expect(page.locator("#provenance")).to_contain_text("carol")
    snap("data-image")


def test_run_an_example_query_from_the_sparql_page(page, snap):
    page.goto("/")
    page.click("header nav >> text=SPARQL")
    page.wait_for_url("**/sparql")
    snap("page")
    page.click("#examples >> text=Provenance of simulated images")
    expect(page.locator("#query")).to_have_value(re.compile(r"prov:wasGeneratedBy \?run"))
    page.click("form.sparql button[type=submit]")
    page.wait_for_url("**/sparql?query=*")
    rows = page.locator("table#results tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("mri-contrast-detail-v1-")
    snap("results")


def test_sign_in_and_out(page, snap):
    page.goto("/models")
    page.click("header >> text=Sign in")
    page.fill("input[name=name]", "rosa")
    page.fill("input[name=password]", "not the password")
    page.click("form.login button[type=submit]")
    expect(page.locator("p.error")).to_have_text("wrong name or password")
    snap("refused")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_url("**/models")  # back where the visitor was
    expect(page.locator("header")).to_contain_text("rosa")
    snap("signed-in")
    page.click("header >> text=Sign out")
    expect(page.locator("header")).to_contain_text("Sign in")
    expect(page.locator("header")).not_to_contain_text("rosa")
    snap("signed-out")
