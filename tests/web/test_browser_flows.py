"""The platform's flows in a real browser: simulate and watch a run, annotate, an administrator's kill.

Headless system Chromium (Playwright) drives the app under waitress, as in
``test_browser.py``, whose launch flags and constants these tests share.  The
app runs its simulations on the ``inline`` backend with a single slot, so
that a test can hold a run in the queue (by taking the slot) while the
browser looks at it.  Each step leaves a numbered screenshot under
``test-artifacts/browser/flows/``.
"""

from __future__ import annotations

import gzip
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import nibabel as nib
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import snapshot
from tests.web.conftest import PASSWORD, chromium, served
from tests.web.test_browser import ARTIFACTS, PNG_SIGNATURE, PREVIEWS_LOADED, TIMEOUT_MS
from vipkb.runs import plan_run, run_status
from vipkb.runs.launcher import Launcher
from webapp import create_app

FLOWS = ARTIFACTS / "flows"
#: Long enough for a 32 x 32 MRI run on two busy cores.
RUN_TIMEOUT_MS = 60_000
EXPECT_DEFAULT_MS = 5_000
PARAMS = {"matrix_readout": 32, "matrix_phase": 32}
SHAPES = Path(__file__).resolve().parent.parent / "shapes"
GOOD_IRI = "https://w3id.org/vipkb/model/test-browser-annotated"
#: A conforming model not yet in the knowledge base.
GOOD = (SHAPES / "conforming" / "10-model-static.ttl").read_text().replace(
    "<https://w3id.org/vipkb/model/test-static>", f"<{GOOD_IRI}>")
#: A model of spatial dimensionality 4.
BAD = (SHAPES / "violating" / "model-spatial-dimensionality-4.ttl").read_text()
BAD_IRI = "https://w3id.org/vipkb/model/test-bad-model-spatial-dimensionality-4"

# Records, in sessionStorage (which survives reloads), each page load and each change of the run's status
# element, so a test can tell a status run.js wrote in place from one a reload rendered.
STATUS_RECORDER = """addEventListener("DOMContentLoaded", () => {
  const status = document.getElementById("status");
  if (!status) return;
  const note = (entry) => {
    const seen = JSON.parse(sessionStorage.getItem("seen") || "[]");
    if (seen[seen.length - 1] !== entry) seen.push(entry);
    sessionStorage.setItem("seen", JSON.stringify(seen));
  };
  note("load:" + status.textContent);
  new MutationObserver(() => note(status.textContent)).observe(status, {childList: true, characterData: true});
});"""
IMAGES_LOADED = """(selector) => {
  const imgs = [...document.querySelectorAll(selector)];
  return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0);
}"""


@pytest.fixture(scope="module")
def accounts(web_accounts):
    """rosa (a user, from ``web_accounts``), anne (an annotator) and adam (an administrator)."""
    web_accounts.create_user("anne", "annotator", PASSWORD)
    web_accounts.create_user("adam", "administrator", PASSWORD)
    return web_accounts


@pytest.fixture(scope="module")
def platform(web_kb, accounts):
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "ACCOUNTS": accounts, "RUN_BACKEND": "inline",
                      "RUN_SLOTS": 1, "RUN_RECOVER": False}, kb=web_kb)
    yield app
    app.extensions["launcher"].close()


@pytest.fixture(scope="module")
def base_url(platform) -> Iterator[str]:
    with served(platform) as url:
        yield url


@pytest.fixture(scope="module")
def browser(base_url) -> Iterator[Browser]:
    # Depends on base_url so the browser (and its keep-alive connections) closes before the server.
    # Assertions wait as long as actions do (expect's own default is 5 s), here only.
    expect.set_options(timeout=TIMEOUT_MS)
    with chromium() as browser:
        yield browser
    expect.set_options(timeout=EXPECT_DEFAULT_MS)


@pytest.fixture
def new_page(browser, base_url) -> Iterator[Callable[[], Page]]:
    """``new_page()``: a page in a fresh browser context (its own cookies: one per person)."""
    contexts = []

    def new_page() -> Page:
        context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield new_page
    for context in contexts:
        context.close()


@pytest.fixture
def snap(request) -> Callable[[Page, str], Path]:
    """``snap(page, step)``: screenshot to ``flows/<test>-<NN>-<step>.png``, numbered in the test's order."""
    FLOWS.mkdir(parents=True, exist_ok=True)
    name = request.node.name.removeprefix("test_")
    taken = []

    def snap(page: Page, step: str) -> Path:
        taken.append(step)
        path = FLOWS / f"{name}-{len(taken):02d}-{step}.png"
        page.screenshot(path=path, full_page=True)
        assert path.is_file() and path.read_bytes()[:8] == PNG_SIGNATURE, path
        return path

    return snap


@contextmanager
def slot_taken(launcher: Launcher) -> Iterator[None]:
    """Keep the launcher's only slot busy, so runs submitted meanwhile stay queued; free it on leaving."""
    gate = threading.Event()
    launcher._pool.submit(gate.wait)
    try:
        yield
    finally:
        gate.set()


def sign_in(page: Page, name: str, *, next: str = "") -> None:
    page.goto(f"/login?next={next}" if next else "/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    expect(page.locator("header")).to_contain_text(name)


def test_define_launch_watch_and_open_the_result(platform, web_kb, new_page, snap):
    page = new_page()
    page.add_init_script(STATUS_RECORDER)
    sign_in(page, "rosa")
    snap(page, "signed-in")

    page.goto("/models/contrast-detail")
    snap(page, "model")
    page.click("#simulate")
    page.wait_for_url(re.compile(r"/simulate\?model=contrast-detail(/v1)?$"))
    expect(page.locator("table#simulators")).to_contain_text("mri")
    snap(page, "compatible-simulators")
    page.click("table#simulators >> text=Define a mri run")
    page.wait_for_url(re.compile(r"/simulate\?model=contrast-detail(/v1)?&simulator=mri$"))
    expect(page.locator("#p-matrix_readout")).to_have_attribute("min", "8")

    # Out of range: simulate.js says so next to the field, and the form is not sent.
    page.fill("#p-matrix_readout", "4")
    inline = page.locator("tr:has(#p-matrix_readout) .field-error.js")
    expect(inline).to_be_visible()
    expect(inline).to_contain_text("matrix_readout: ")
    page.evaluate("window.notReloaded = true")
    page.click("#launch")
    assert page.evaluate("window.notReloaded") is True and page.url.endswith("simulator=mri")
    snap(page, "inline-error")

    # The server checks again (a form sent without the script's check): the simulator's own message.
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/simulate")) as posted:
        page.eval_on_selector("#simulation", "form => form.submit()")
    assert posted.value.status == 400
    expect(page.locator("#error-matrix_readout")).to_have_text(
        "matrix_readout = 4 is below the minimum 8 (Samples along the readout.)")
    expect(page.locator("#p-matrix_readout")).to_have_value("4")  # what the user typed is kept
    snap(page, "server-error")

    for name, value in PARAMS.items():
        page.fill(f"#p-{name}", str(value))
    expect(inline).to_be_hidden()
    launcher = platform.extensions["launcher"]
    with slot_taken(launcher):  # the run waits in the queue until the browser watches it
        page.click("#launch")
        page.wait_for_url("**/runs/*")
        run_id = page.url.rsplit("/", 1)[1]
        expect(page.locator("#status")).to_have_text("queued")
        expect(page.locator("#log")).to_contain_text("submitted by rosa")
        snap(page, "queued")
    # run.js writes the new status in place, then reloads once to show the results.
    expect(page.locator("#results")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    launcher.wait(run_id, timeout=RUN_TIMEOUT_MS / 1000)
    assert run_status(web_kb, run_id) == "succeeded"
    seen = page.evaluate("JSON.parse(sessionStorage.getItem('seen'))")
    assert seen[0] == "load:queued" and seen[-2:] == ["succeeded", "load:succeeded"], seen
    assert sum(s.startswith("load:") for s in seen) == 2, seen  # the first load and run.js' final reload
    expect(page.locator("#status")).to_have_text("succeeded")
    expect(page.locator("#progress-text")).to_contain_text("1/1 tasks (100%)")
    expect(page.locator("#log")).to_contain_text("succeeded: 4 output file(s)")
    page.wait_for_function(IMAGES_LOADED, arg="#results img")
    snap(page, "succeeded")

    with page.expect_download() as download:
        page.click("#results a[download]:text-is('image.nii.gz')")
    assert download.value.suggested_filename == "image.nii.gz"
    image = nib.Nifti1Image.from_bytes(gzip.decompress(Path(download.value.path()).read_bytes()))
    assert image.shape[:2] == (32, 32), image.shape

    page.click("#results figure:has(a:text-is('image.nii.gz')) >> text=provenance")
    page.wait_for_url("**/data/**")
    page.wait_for_function(PREVIEWS_LOADED, arg="/files/")
    expect(page.locator("#provenance")).to_contain_text("rosa")
    snap(page, "result-image")


def test_validate_and_commit_a_good_annotation_then_a_bad_one(web_kb, new_page, snap):
    page = new_page()
    sign_in(page, "anne", next="/annotate")
    page.wait_for_url("**/annotate")
    snap(page, "form")
    ask = f"ASK {{ <{GOOD_IRI}> a vip:ObjectModel }}"
    before = snapshot(web_kb)

    page.fill("textarea[name=text]", GOOD)
    page.click("button[value=validate]")
    expect(page.locator("#report")).to_have_class("annotation-report conforms")
    expect(page.locator("#verdict")).to_contain_text("conforms;")
    assert snapshot(web_kb) == before  # validating writes nothing
    snap(page, "good-conforms")
    page.click("button[value=commit]")  # the form kept the text
    expect(page.locator("#verdict")).to_contain_text("Committed:")
    assert web_kb.query(ask).boolean
    snap(page, "good-committed")

    before = snapshot(web_kb)
    page.fill("textarea[name=text]", BAD)
    page.click("button[value=validate]")
    expect(page.locator("#report")).to_have_class("annotation-report violates")
    expect(page.locator("#verdict")).to_contain_text("does not conform: 1 violation(s) on 1 resource(s)")
    focus = page.locator("#report article.focus")
    expect(focus).to_have_count(1)
    expect(focus.locator("h2")).to_contain_text("Test model (violating)")
    expect(focus.locator("h2 .iri")).to_contain_text(BAD_IRI)
    expect(focus.locator("li.violation .message")).to_have_text(
        "value 4 of vip:spatialDimensionality is not one of 2, 3")
    expect(focus.locator("li.violation .value code")).to_have_text("4")
    snap(page, "bad-report")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/annotate")) as posted:
        page.click("button[value=commit]")
    assert posted.value.status == 422  # refused
    expect(page.locator("#verdict")).to_contain_text("Nothing was written.")
    assert snapshot(web_kb) == before
    assert not web_kb.query(f"ASK {{ <{BAD_IRI}> ?p ?o }}").boolean
    snap(page, "bad-refused")


def test_an_administrator_kills_another_users_queued_run(platform, web_kb, new_page, snap):
    launcher = platform.extensions["launcher"]
    with slot_taken(launcher):  # rosa's run stays queued until adam has killed it
        run_id = launcher.submit(plan_run(web_kb, "contrast-detail", "mri", PARAMS, seed=2, owner="rosa"),
                                 agent="rosa")
        assert run_status(web_kb, run_id) == "queued"
        page = new_page()
        sign_in(page, "adam")
        page.goto(f"/runs/{run_id}")
        expect(page.locator("#status")).to_have_text("queued")
        expect(page.locator("#state")).to_contain_text("private to rosa")
        kill = page.locator("form#kill")
        expect(kill).to_have_attribute("method", "post")
        expect(kill).to_have_attribute("action", f"/runs/{run_id}/kill")
        snap(page, "queued")
        # The browser asks first: dismissed, nothing is sent and the run stays queued.
        asked = []
        page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
        kill.locator("button").click()
        assert asked and "of rosa" in asked[0]
        expect(page.locator("#status")).to_have_text("queued")
        assert run_status(web_kb, run_id) == "queued"
        page.once("dialog", lambda d: d.accept())
        with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/kill")) as posted:
            kill.locator("button").click()
        assert posted.value.status == 303 and "csrf_token=" in posted.value.request.post_data
        page.wait_for_url(f"**/runs/{run_id}")
        expect(page.locator("#status")).to_have_text("killed")
        expect(page.locator("#reason")).to_contain_text("The run was stopped: killed by adam.")
        expect(kill).to_have_count(0)
        snap(page, "killed")
    launcher.wait(run_id, timeout=RUN_TIMEOUT_MS / 1000)  # the freed slot finds it killed and leaves it
    assert run_status(web_kb, run_id) == "killed" and launcher.active() == []

    owner = new_page()
    sign_in(owner, "rosa")
    owner.goto(f"/runs/{run_id}")
    expect(owner.locator("#status")).to_have_text("killed")
    expect(owner.locator("#reason")).to_contain_text("killed by adam")
    snap(owner, "seen-by-owner")
