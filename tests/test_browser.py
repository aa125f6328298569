"""The Loss Breakdown tab in a real browser: Playwright drives Debian's /usr/bin/chromium
against a real TensorBoard (both loaders). Never a downloaded browser.
"""

import os

import pytest

from conftest import LOADERS, start_tensorboard
from logdirs import XSS_RUN

ARTIFACTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                         "test-artifacts")


@pytest.fixture(scope="module", params=LOADERS)
def tensorboard(request, written):
    logdir, expected = written
    tb = start_tensorboard(logdir, request.param, expected)
    yield tb
    tb.stop()


class Page:
    """A page on the tab, recording dialogs, console errors and page errors."""

    def __init__(self, browser, tb):
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.dialogs, self.errors = [], []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.goto(tb.url + "/#detloss")
        self.page.wait_for_selector("iframe", timeout=30_000)
        self.frame = self.page.frame_locator("iframe").first

    def run_button(self, run):
        return self.frame.locator(".detloss-run").filter(has_text=run).first

    def painted_pixels(self, selector):
        """How many non-blank pixels the canvases under `selector` hold (proof of drawing)."""
        handle = self.frame.locator(selector).first.element_handle()
        return handle.evaluate(
            """el => Array.from(el.querySelectorAll('canvas')).reduce((sum, c) => {
                 const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                 let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
                 return sum + n; }, 0)"""
        )

    def screenshot(self, name):
        os.makedirs(ARTIFACTS, exist_ok=True)
        self.page.screenshot(path=os.path.join(ARTIFACTS, name))


def test_tab_draws_stack_and_component_charts(browser, tensorboard):
    ui = Page(browser, tensorboard)
    try:
        ui.run_button("torch_writer").click()
        ui.frame.locator("#detloss-stack canvas").first.wait_for(timeout=30_000)
        charts = ui.frame.locator(".detloss-component-chart")
        charts.nth(3).wait_for(timeout=30_000)
        components = [charts.nth(i).get_attribute("data-component") for i in range(charts.count())]
        assert components == ["box", "cls", "dfl", "l1"]
        ui.page.wait_for_timeout(300)
        assert ui.painted_pixels("#detloss-stack") > 1000
        assert ui.painted_pixels(".detloss-component-chart") > 1000
        for name in ("box", "cls", "dfl", "l1"):
            assert ui.frame.locator("#detloss-stack").get_by_text(name, exact=True).count() >= 1
        ui.screenshot("tab-%s.png" % ("fast" if tensorboard.load_fast else "mux"))
        assert ui.errors == []
        assert ui.dialogs == []
    finally:
        ui.page.close()


def test_hostile_names_show_as_text(browser, tensorboard):
    ui = Page(browser, tensorboard)
    try:
        button = ui.run_button(XSS_RUN)
        button.wait_for(timeout=30_000)
        assert XSS_RUN in button.inner_text()
        button.click()
        ui.frame.locator("#detloss-stack canvas").first.wait_for(timeout=30_000)
        script_name = "<script>alert(1)</script>"
        ui.frame.get_by_text(script_name, exact=True).first.wait_for(timeout=10_000)
        assert ui.frame.locator("img[src='x']").count() == 0
        assert ui.frame.locator("#detloss-stack script, .detloss-run script").count() == 0
        ui.page.wait_for_timeout(500)
        assert ui.dialogs == []
        assert ui.errors == []
    finally:
        ui.page.close()
