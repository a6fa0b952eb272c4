"""The page in a real browser: Debian's Chromium, headless, driven by Playwright.

Playwright's own browser download cannot work on these machines, so the browser is
/usr/bin/chromium (``apt-get install -y chromium``; .ci/run installs it).  A test here
skips only where that binary is missing, and never in CI (``CI`` set), where a skip
would hide that the page went untested.
"""

import itertools
import math
import os
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from helpers import FEATURES, TREES
from PIL import Image

import deltanet as dn

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
expect.set_options(timeout=20_000)  # a busy machine's server may take its time

CHROMIUM = Path("/usr/bin/chromium")
# without the background-networking flags, Chromium's own connections to Google's
# hosts are refused by the closed network, many at a time
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# mouse strokes in the 280×280 canvas, each a list of points
ZERO = [
    (140 + 55 * math.sin(2 * math.pi * t / 32), 140 - 85 * math.cos(2 * math.pi * t / 32))
    for t in range(33)
]
STROKES = {
    "7": [[(75, 60), (205, 60), (125, 230)]],
    "0": [ZERO],
    "1": [[(140, 45), (140, 235)]],
}


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        reason = f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: .ci/run must install it")
        pytest.skip(reason)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield browser
        browser.close()


class Page:
    """A tab on a served page that records every request it makes."""

    def __init__(self, browser, url):
        self.context = browser.new_context(viewport={"width": 1100, "height": 560})
        self.page = self.context.new_page()
        self.requests = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.errors = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(url)
        expect(self.page.locator("body")).to_have_attribute("data-ready", "1")

    def settled(self):
        """Wait until the chart shows the newest drawing."""
        body = self.page.locator("body")
        expect(body).to_have_attribute("data-shown", body.get_attribute("data-version"))

    def draw(self, strokes):
        box = self.page.locator("#canvas").bounding_box()
        mouse = self.page.mouse
        for stroke in strokes:
            mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
            mouse.down()
            for (x0, y0), (x, y) in itertools.pairwise(stroke):
                # a move event every 10 pixels or so, as a hand makes them
                steps = max(1, round(math.hypot(x - x0, y - y0) / 10))
                mouse.move(box["x"] + x, box["y"] + y, steps=steps)
            mouse.up()
        self.settled()

    def top(self):
        """The top 3 the page shows: (label, percent text) pairs."""
        rows = self.page.locator("#bars li")
        return [
            (rows.nth(i).locator(".label").inner_text(), rows.nth(i).locator(".value").inner_text())
            for i in range(rows.count())
        ]

    def hosts(self):
        return {urlsplit(u).netloc for u in self.requests if not u.startswith("data:")}

    def close(self):
        self.context.close()


@pytest.fixture
def digit_page(browser, served):
    page = Page(browser, served.url)
    yield page
    assert page.errors == []
    assert page.hosts() == {urlsplit(served.url).netloc}  # no other host, ever
    page.close()


@pytest.mark.parametrize("digit", list(STROKES))
def test_a_digit_drawn_with_the_mouse_is_read(digit_page, digit, artifacts):
    page = digit_page.page
    expect(page.locator("#about")).to_contain_text("784-64-10 relu network")
    digit_page.draw(STROKES[digit])
    top = digit_page.top()
    assert len(top) == 3 and top[0][0] == digit, top
    assert float(top[0][1].rstrip("%")) > 50
    # beside the chart, the 28×28 input the network saw: ink on a dark background
    seen = page.locator("#seen")
    assert seen.evaluate("c => [c.width, c.height]") == [28, 28]
    page.screenshot(path=artifacts / f"serve-{digit}.png")  # for docs/serve.md
    with Image.open(artifacts / f"serve-{digit}.png") as shot:
        assert shot.size == (1100, 560)
    # the page asked as it drew, each time about the drawing so far
    asked = [u for u in digit_page.requests if u.endswith("/api/predict?with_input=true")]
    assert len(asked) >= 2


def test_clear_empties_the_canvas_and_the_chart(digit_page):
    page = digit_page.page
    digit_page.draw(STROKES["1"])
    assert digit_page.top()[0][0] == "1"
    page.click("#clear")
    digit_page.settled()
    assert digit_page.top() == [] and page.locator("#message").inner_text() == ""
    ink = page.locator("#canvas").evaluate(
        "c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some(v => v < 255)"
    )
    assert not ink


def test_an_uploaded_picture_is_read(digit_page, tmp_path):
    x, y = dn.datasets.load_mnist().X_test[3], int(dn.datasets.load_mnist().y_test[3])
    photo = tmp_path / "digit.jpg"
    big = np.kron(x.reshape(28, 28), np.ones((6, 6)))
    Image.fromarray((255 * (1 - big)).astype(np.uint8)).save(photo)
    digit_page.page.set_input_files("#upload", photo)
    digit_page.settled()
    assert digit_page.top()[0][0] == str(y)


def test_an_upload_that_is_no_picture_says_why(digit_page, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_bytes(b"these are not pixels")
    digit_page.page.set_input_files("#upload", bad)
    digit_page.settled()
    expect(digit_page.page.locator("#message")).to_contain_text("not an image that Pillow can read")
    assert digit_page.top() == []


def test_a_finger_draws_too(browser, served):
    # touch: the canvas takes pointer events from a finger (and does not scroll the page)
    context = browser.new_context(has_touch=True, viewport={"width": 1100, "height": 560})
    page = context.new_page()
    page.goto(served.url)
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    assert page.locator("#canvas").evaluate("c => getComputedStyle(c).touchAction") == "none"
    box = page.locator("#canvas").bounding_box()
    points = [(140, 50 + 9 * i) for i in range(21)]
    events = [("touchStart", points[:1])] + [("touchMove", [p]) for p in points[1:]]
    session = context.new_cdp_session(page)
    for kind, pts in [*events, ("touchEnd", [])]:
        session.send(
            "Input.dispatchTouchEvent",
            {"type": kind, "touchPoints": [{"x": box["x"] + x, "y": box["y"] + y} for x, y in pts]},
        )
    body = page.locator("body")
    expect(body).to_have_attribute("data-shown", body.get_attribute("data-version"))
    assert page.locator("#bars li .label").first.inner_text() == "1"
    context.close()


def test_a_model_of_features_gets_a_form(browser, serve_load, tabular, artifacts):
    path, _, X, y = tabular
    with serve_load.serving(path, "--quiet") as server:
        page = Page(browser, server.url)
        form = page.page.locator("#form")
        expect(form).to_be_visible()
        assert not page.page.locator("#digit").is_visible()
        fields = form.locator("input")
        assert fields.count() == 4
        assert form.locator("label").all_inner_texts() == list(FEATURES)
        for i in range(4):
            fields.nth(i).fill(repr(float(X[7, i])))
        page.page.click("#form button")
        page.settled()
        assert page.top()[0][0] == TREES[y[7]]
        page.page.screenshot(path=artifacts / "serve-features.png")
        assert page.hosts() == {urlsplit(server.url).netloc} and page.errors == []
        page.close()


@pytest.mark.parametrize(
    ("model", "says"),
    [
        (dn.Model(dn.MLP([100, 5, 2], seed=0), ["no", "yes"]), "rows of 100 numbers: too many"),
        (dn.Model(dn.MLP([64, 5, 2], seed=0), input_shape=(8, 8)), "takes 8×8 pictures"),
    ],
    ids=["100 features", "8x8 pictures"],
)
def test_a_model_the_page_cannot_draw_for_points_to_the_api(
    browser, serve_load, tmp_path, model, says
):
    dn.save_model(model, tmp_path / "other.safetensors")
    with serve_load.serving(tmp_path / "other.safetensors", "--quiet") as server:
        page = Page(browser, server.url)
        expect(page.page.locator("#api-only")).to_contain_text(says)
        expect(page.page.locator("#api-only-example")).to_contain_text(f"{server.url}api/predict")
        assert not page.page.locator("#form").is_visible()
        assert not page.page.locator("#digit").is_visible()
        page.close()
