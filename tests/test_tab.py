"""The Loss Breakdown tab as a user sees it: Playwright drives Debian's /usr/bin/chromium against
a real TensorBoard (both loaders, one TensorBoard per loader for this module) on logs this
module writes itself. Assertions are on visible text where possible; `window.__detloss` is a
test-only hook of the bundle (where a step is drawn, what a chart holds).
"""

import json
import math
import os
import re
import urllib.parse

import pytest

import tensorboard_plugin_detloss as detloss
from conftest import LOADERS, settle, tab_window
from tb_process import TensorBoard

ARTIFACTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                         "test-artifacts")

XSS_RUN = "<img src=x onerror=alert(1)>"
XSS_COMPONENT = "<script>alert(1)</script>"
T0 = 1_767_225_600.0
WEIGHTS = {"box": 7.5, "cls": 0.5, "dfl": 1.5}
ALPHA_STEPS = 200
ALPHA_VAL = list(range(19, ALPHA_STEPS, 20))
LONG_STEPS = 3000


# Every (run, loss name, split) write_logs writes.
LISTED = {("alpha", "loss", "train"), ("alpha", "loss", "val"), ("beta", "loss", "train"),
          ("beta", "loss", "val"), (XSS_RUN, "loss", "train"), (XSS_RUN, "loss", "val"),
          ("long", "loss", "train"), ("two_losses", "loss", "train"),
          ("two_losses", "aux_loss", "train")}


def alpha_train(step):
    return {"box": 0.125 + 1.0 / (8 + step), "cls": 2.0 - step / 160.0, "dfl": 0.75 + (step % 4) / 16.0}


def alpha_val(step):
    return {"box": 0.25 + 1.0 / (8 + step), "cls": 2.5 - step / 400.0, "dfl": 1.0}


def write_logs(logdir):
    """Four runs: alpha (weights, logged total, val every 20 steps, 10 s a step), beta (no
    total, a component stuck at zero), the hostile names, and a run with two loss names."""
    with detloss.summary.FileWriter(os.path.join(logdir, "alpha")) as w:
        for step in range(ALPHA_STEPS):
            comps = alpha_train(step)
            total = sum(WEIGHTS[c] * v for c, v in comps.items())
            detloss.summary.write(comps, step=step, weights=WEIGHTS, total=total, writer=w,
                                  walltime=T0 + 10 * step)
            if step in ALPHA_VAL:
                detloss.summary.write(alpha_val(step), step=step, split="val", weights=WEIGHTS,
                                      writer=w, walltime=T0 + 10 * step + 5)
    with detloss.summary.FileWriter(os.path.join(logdir, "beta")) as w:
        for step in range(150):
            comps = {"box": 0.5 + 0.5 * math.exp(-step / 30.0), "cls": 1.5 - step / 300.0,
                     "obj": 0.0}
            detloss.summary.write(comps, step=step, writer=w, walltime=T0 + 4 * step)
            if step % 50 == 49:
                detloss.summary.write({"box": 0.8, "cls": 1.25, "obj": 0.0}, step=step,
                                      split="val", writer=w, walltime=T0 + 4 * step + 1)
    with detloss.summary.FileWriter(os.path.join(logdir, XSS_RUN)) as w:
        for step in range(20):
            detloss.summary.write({XSS_COMPONENT: 0.5, "box": 1.0 / (step + 1)}, step=step,
                                  writer=w, walltime=T0 + step)
            if step % 10 == 9:
                detloss.summary.write({XSS_COMPONENT: 0.75, "box": 0.5}, step=step,
                                      split="val", writer=w, walltime=T0 + step)
    with detloss.summary.FileWriter(os.path.join(logdir, "long")) as w:
        for step in range(LONG_STEPS):
            detloss.summary.write({"box": 1.0 + (step % 7) / 8.0, "cls": 0.5}, step=step,
                                  writer=w, walltime=T0 + step)
    with detloss.summary.FileWriter(os.path.join(logdir, "two_losses")) as w:
        for step in range(30):
            detloss.summary.write({"ce": 1.0 - step / 60.0, "giou": 0.5}, step=step, writer=w,
                                  walltime=T0 + step)
            detloss.summary.write({"aux_ce": 0.25}, step=step, name="aux_loss", writer=w,
                                  walltime=T0 + step)


def js_number(v):
    """The tab's formatNumber: 4 significant digits, JS-style (12, not 12.0)."""
    if v is None:
        return "—"
    if v == 0:
        return "0"
    if abs(v) >= 1e5 or abs(v) < 1e-3:
        raise AssertionError("pick test data in [1e-3, 1e5)")
    f = float("%.4g" % v)
    return str(int(f)) if f.is_integer() else repr(f)


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("tab") / "logs"
    d.mkdir()
    write_logs(str(d))
    return str(d)


@pytest.fixture(scope="module", params=LOADERS)
def tensorboard(request, logdir):
    tb = TensorBoard(logdir, request.param).wait_ready()
    import time

    deadline = time.time() + 120
    while True:
        status, _, body = tb.request("/data/plugin/detloss/runs")
        listed = {(i["run"], i["name"], i["split"]) for i in json.loads(body)} if status == 200 else set()
        # Every series listed (a run's file may be half loaded), the longest one complete.
        if LISTED <= listed:
            q = urllib.parse.urlencode({"run": "long", "split": "train", "max_points": 2})
            status, _, body = tb.request("/data/plugin/detloss/breakdown?" + q)
            if status == 200 and json.loads(body)["num_steps"] == LONG_STEPS:
                break
        if time.time() > deadline:
            tb.stop()
            raise AssertionError("TensorBoard did not load the logs:\n" + tb.log_text()[-3000:])
        time.sleep(0.5)
    yield tb
    tb.stop()


class Tab:
    """The tab in a fresh page, recording dialogs, console errors and page errors."""

    def __init__(self, browser, tb, hash_params=""):
        self.tb = tb
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                           accept_downloads=True)
        self.page = self.context.new_page()
        self.dialogs, self.errors = [], []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.open(hash_params)

    def open(self, hash_params=""):
        self.page.goto(self.tb.url + "/#detloss" + hash_params)
        self.page.wait_for_selector("iframe", timeout=30_000)
        self.frame = self.page.frame_locator("iframe").first
        self.frame.locator("#detloss-stack canvas").first.wait_for(timeout=30_000)
        self.settle()

    @property
    def js(self):
        return tab_window(self.page)

    def settle(self):
        settle(self.page)

    def select_run(self, run):
        self.frame.locator(".detloss-run").filter(has_text=run).first.click()
        self.frame.locator("#detloss-title", has_text=run).wait_for(timeout=30_000)
        self.frame.locator("#detloss-stack canvas").first.wait_for(timeout=30_000)
        self.settle()

    def chart(self, chart_id):
        return self.js.evaluate("id => window.__detloss.chart(id)", chart_id)

    def state(self):
        return self.js.evaluate("() => window.__detloss.state()")

    def top_of_stack(self):
        return float(self.frame.locator("#detloss-stack").get_attribute("data-top-of-stack"))

    def hover(self, chart_id, x, step=None):
        """Moves the mouse to where `x` is drawn on a chart; returns the tooltip's text rows.
        uPlot puts the cursor on whole pixels: on a narrow chart a step can be a pixel and a
        half wide, so the mouse is nudged until the tooltip names the wanted step."""
        step = x if step is None else step
        fig = self.frame.locator('[data-chart-id="%s"]' % chart_id)
        fig.scroll_into_view_if_needed()
        pos = self.js.evaluate("([id, x]) => window.__detloss.pos(id, x)", [chart_id, x])
        box = self.page.locator("iframe").first.bounding_box()
        tip = fig.locator(".detloss-tooltip")
        self.page.mouse.move(box["x"] + pos["x"] - 30, box["y"] + pos["y"])
        for dx in (0, 0.5, -0.5, 1, -1, 1.5, -1.5):
            self.page.mouse.move(box["x"] + pos["x"] + dx, box["y"] + pos["y"])
            tip.wait_for(state="visible", timeout=5_000)
            title, rows = self.tooltip(tip)
            if re.match(r"step %s( |$)" % format(step, ","), title):
                break
        return title, rows

    @staticmethod
    def tooltip(tip):
        title = tip.locator(".detloss-tooltip-title").inner_text()
        rows = {}
        for tr in tip.locator("tbody tr").all():
            label = tr.locator("th").inner_text().strip()
            rows[label] = [td.inner_text().strip() for td in tr.locator("td").all()]
        return title, rows

    def set_number(self, selector, value):
        el = self.frame.locator(selector)
        el.fill(str(value))
        el.dispatch_event("change")
        self.settle()

    def screenshot(self, name):
        os.makedirs(ARTIFACTS, exist_ok=True)
        self.page.screenshot(path=os.path.join(ARTIFACTS, name), full_page=False)

    def close(self):
        self.context.close()

    def assert_clean(self):
        assert self.errors == []
        assert self.dialogs == []


@pytest.fixture
def tab(browser, tensorboard):
    t = Tab(browser, tensorboard)
    yield t
    t.close()


def loader_name(tb):
    return "fast" if tb.load_fast else "mux"


def test_stack_legend_and_tooltip_equal_the_data(tab):
    tab.select_run("alpha")
    legend = tab.frame.locator("#detloss-legend .detloss-legend-item")
    assert legend.all_inner_texts() == ["box", "cls", "dfl"]
    assert tab.frame.locator("#detloss-stack-caption").inner_text() == "(train, 200 steps)"
    title, rows = tab.hover("stack", 100)
    assert title.startswith("step 100 ·")
    comps = alpha_train(100)
    contrib = {c: WEIGHTS[c] * v for c, v in comps.items()}
    total = sum(contrib.values())
    for c, v in comps.items():
        value, weight, product, share = rows[c]
        assert value == js_number(v)
        assert weight == js_number(WEIGHTS[c])
        assert product == js_number(contrib[c])
        assert abs(float(share.rstrip("%")) - 100 * contrib[c] / total) < 0.051
    assert rows["Σ weight × value"][2] == js_number(total)
    assert rows["total (logged)"][2] == js_number(total)
    tab.screenshot("tab-stack-tooltip-%s.png" % loader_name(tab.tb))
    tab.assert_clean()


def test_share_toggle_puts_the_top_of_the_stack_at_one(tab):
    tab.select_run("alpha")
    assert tab.top_of_stack() > 2
    tab.frame.locator("#detloss-share").check()
    tab.settle()
    assert tab.top_of_stack() == pytest.approx(1.0, abs=1e-12)
    tops = [v for v in tab.js.evaluate("() => window.__detloss.top()") if v is not None]
    assert len(tops) == ALPHA_STEPS
    assert all(abs(v - 1.0) < 1e-12 for v in tops)
    _, rows = tab.hover("stack", 50)
    assert rows["top of stack (share)"][2] == "1"
    tab.assert_clean()


def test_val_markers_sit_at_val_steps_and_show_val_values(tab):
    tab.select_run("alpha")
    charts = tab.frame.locator(".detloss-component-chart")
    assert [charts.nth(i).get_attribute("data-component") for i in range(charts.count())] == [
        "box", "cls", "dfl"]
    chart = tab.chart("component:cls")
    val = next(s for s in chart["series"] if s["label"] == "val")
    marked = [x for x, v in zip(chart["x"], val["data"]) if v != "absent"]
    assert marked == ALPHA_VAL
    title, rows = tab.hover("component:cls", 59)
    assert title.startswith("step 59 ·")
    assert rows["val"][0] == js_number(alpha_val(59)["cls"])
    assert rows["train"][0] == js_number(alpha_train(59)["cls"])
    _, rows = tab.hover("component:cls", 60)
    assert rows["val"][0] == "—"
    tab.assert_clean()


def test_every_control_changes_the_view(tab):
    tab.select_run("alpha")
    last = alpha_train(ALPHA_STEPS - 1)
    # Smoothing: 0 draws the raw values; TensorBoard's default 0.6 does not.
    assert tab.frame.locator("#detloss-smoothing-value").input_value() == "0.6"
    smoothed_top = tab.top_of_stack()
    tab.set_number("#detloss-smoothing-value", 0)
    raw_top = tab.top_of_stack()
    assert raw_top == pytest.approx(sum(WEIGHTS[c] * v for c, v in last.items()), rel=1e-12)
    assert smoothed_top != pytest.approx(raw_top, rel=1e-6)
    train = next(s for s in tab.chart("component:box")["series"] if s["label"] == "train")
    assert train["data"][:3] == [alpha_train(s)["box"] for s in range(3)]

    # X axis: relative and wall time.
    tab.frame.locator("#detloss-xaxis").select_option("relative")
    tab.settle()
    x = tab.chart("stack")["x"]
    assert x[:3] == [0, 10, 20]
    tab.frame.locator("#detloss-xaxis").select_option("wall")
    tab.settle()
    assert tab.chart("stack")["x"][0] == T0
    tab.frame.locator("#detloss-xaxis").select_option("step")
    tab.settle()
    assert tab.chart("stack")["x"][:3] == [0, 1, 2]

    # Log scale on the component charts.
    assert tab.chart("component:box")["log"] is False
    tab.frame.locator("#detloss-log").check()
    tab.settle()
    assert tab.chart("component:box")["log"] is True
    tab.frame.locator("#detloss-log").uncheck()

    # Hide a component from the legend: out of the stack and its chart hidden.
    tab.frame.locator('#detloss-legend [data-component="cls"]').click()
    tab.settle()
    assert tab.frame.locator('#detloss-legend [data-component="cls"]').get_attribute(
        "aria-pressed") == "false"
    assert "cls" not in [s["label"] for s in tab.chart("stack")["series"]]
    assert tab.frame.locator('.detloss-component-chart[data-component="cls"]').is_hidden()
    assert tab.top_of_stack() == pytest.approx(
        WEIGHTS["box"] * last["box"] + WEIGHTS["dfl"] * last["dfl"], rel=1e-12)
    tab.frame.locator('#detloss-legend [data-component="cls"]').click()
    tab.settle()
    assert tab.top_of_stack() == pytest.approx(raw_top, rel=1e-12)

    # What-if weight: box at 0 takes box out of the top of the stack.
    tab.set_number('.detloss-whatif-row[data-component="box"] .detloss-whatif-value', 0)
    assert tab.top_of_stack() == pytest.approx(
        WEIGHTS["cls"] * last["cls"] + WEIGHTS["dfl"] * last["dfl"], rel=1e-12)
    assert "what-if weights" in tab.frame.locator("#detloss-stack-caption").inner_text()
    _, rows = tab.hover("stack", 10)
    assert rows["box"][1] == "0"
    assert rows["total (logged)"][2] == js_number(
        sum(WEIGHTS[c] * v for c, v in alpha_train(10).items()))
    tab.frame.locator("#detloss-whatif-reset").click()
    tab.settle()
    assert tab.top_of_stack() == pytest.approx(raw_top, rel=1e-12)

    # Zoom by dragging across the stack, synced to every chart; reset.
    fig = tab.frame.locator('[data-chart-id="stack"]')
    fig.scroll_into_view_if_needed()
    box = tab.page.locator("iframe").first.bounding_box()
    a = tab.js.evaluate("() => window.__detloss.pos('stack', 50)")
    b = tab.js.evaluate("() => window.__detloss.pos('stack', 150)")
    tab.page.mouse.move(box["x"] + a["x"], box["y"] + a["y"])
    tab.page.mouse.down()
    tab.page.mouse.move(box["x"] + (a["x"] + b["x"]) / 2, box["y"] + a["y"])
    tab.page.mouse.move(box["x"] + b["x"], box["y"] + b["y"])
    tab.page.mouse.up()
    tab.settle()
    lo, hi = tab.state()["zoom"]
    assert 45 < lo < 55 and 145 < hi < 155
    assert tab.chart("component:dfl")["visible"] == pytest.approx([lo, hi])
    tab.frame.locator("#detloss-reset-zoom").click()
    tab.settle()
    assert tab.state()["zoom"] is None
    assert tab.chart("component:dfl")["visible"][1] >= ALPHA_STEPS - 1

    # Split of the stacked chart.
    tab.frame.locator("#detloss-split").select_option("val")
    tab.frame.locator("#detloss-stack-caption", has_text="val").wait_for()
    tab.settle()
    assert tab.chart("stack")["x"] == ALPHA_VAL

    # Auto-reload toggle.
    tab.frame.locator("#detloss-auto").uncheck()
    assert tab.state()["auto"] is False
    tab.assert_clean()


def test_compare_runs_on_one_chart(tab):
    tab.select_run("alpha")
    assert "Tick runs" in tab.frame.locator("#detloss-compare-hint").inner_text()
    for run in ("alpha", "beta"):
        tab.frame.locator('.detloss-compare-toggle[data-run="%s"]' % run).check()
    legend = tab.frame.locator("#detloss-compare-legend .detloss-legend-item")
    legend.nth(1).wait_for()
    assert legend.all_inner_texts() == ["alpha", "beta"]
    tab.set_number("#detloss-smoothing-value", 0)
    tab.frame.locator("#detloss-compare-component").select_option("cls")
    tab.settle()
    _, rows = tab.hover("compare", 100)
    assert rows["alpha"][0] == js_number(alpha_train(100)["cls"])
    assert rows["beta"][0] == js_number(1.5 - 100 / 300.0)
    tab.frame.locator("#detloss-compare-metric").select_option("contribution")
    tab.settle()
    _, rows = tab.hover("compare", 100)
    assert rows["alpha"][0] == js_number(WEIGHTS["cls"] * alpha_train(100)["cls"])
    tab.screenshot("tab-compare-%s.png" % loader_name(tab.tb))
    tab.assert_clean()


def test_exports_download_the_right_content(tab):
    tab.select_run("alpha")
    for fmt in ("csv", "json"):
        link = tab.frame.locator('.detloss-download[data-format="%s"][data-split="train"]' % fmt)
        with tab.page.expect_download() as d:
            link.click()
        download = d.value
        assert download.suggested_filename == "alpha-loss-train.%s" % fmt
        with open(download.path(), "rb") as f:
            got = f.read()
        q = urllib.parse.urlencode({"run": "alpha", "split": "train", "name": "loss",
                                    "format": fmt})
        status, _, want = tab.tb.request("/data/plugin/detloss/breakdown?" + q)
        assert status == 200 and got == want
        if fmt == "json":
            assert json.loads(got)["num_steps"] == ALPHA_STEPS == len(json.loads(got)["steps"])
    with tab.page.expect_download() as d:
        tab.frame.locator('.detloss-png[data-chart="stack"]').click()
    with open(d.value.path(), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with tab.page.expect_download() as d:
        tab.frame.locator('.detloss-svg[data-chart="component:box"]').click()
    with open(d.value.path(), encoding="utf-8") as f:
        svg = f.read()
    assert svg.startswith("<svg") and "<path" in svg and "<circle" in svg
    assert "<image" not in svg and "data:" not in svg
    assert ">train</text>" in svg and ">val</text>" in svg
    assert re.search(r'<path d="M[^"]+Z" fill="rgba\(', svg), "the train-vs-val gap band"
    tab.assert_clean()


def test_url_state_round_trips_through_a_reload(tab):
    tab.select_run("beta")
    tab.set_number("#detloss-smoothing-value", 0.25)
    tab.frame.locator("#detloss-share").check()
    tab.frame.locator("#detloss-xaxis").select_option("relative")
    tab.frame.locator('#detloss-legend [data-component="obj"]').click()
    tab.set_number('.detloss-whatif-row[data-component="cls"] .detloss-whatif-value', 2)
    tab.frame.locator('.detloss-compare-toggle[data-run="alpha"]').check()
    tab.page.wait_for_function("() => location.hash.includes('compare=alpha')")
    url = tab.page.url
    assert "#detloss&run=beta" in url and "smoothing=0.25" in url and "w.cls=2" in url
    tab.page.reload()
    tab.frame = tab.page.frame_locator("iframe").first
    tab.frame.locator("#detloss-title", has_text="beta").wait_for(timeout=30_000)
    tab.frame.locator("#detloss-stack canvas").first.wait_for(timeout=30_000)
    tab.settle()
    assert tab.frame.locator("#detloss-smoothing-value").input_value() == "0.25"
    assert tab.frame.locator("#detloss-share").is_checked()
    assert tab.frame.locator("#detloss-xaxis").input_value() == "relative"
    assert tab.frame.locator('#detloss-legend [data-component="obj"]').get_attribute(
        "aria-pressed") == "false"
    assert tab.frame.locator(
        '.detloss-whatif-row[data-component="cls"] .detloss-whatif-value').input_value() == "2"
    assert tab.frame.locator('.detloss-compare-toggle[data-run="alpha"]').is_checked()
    assert tab.frame.locator(".detloss-run[aria-pressed=true]").inner_text().startswith("beta")
    assert tab.top_of_stack() == pytest.approx(1.0)
    tab.assert_clean()


def test_hostile_names_display_as_text(tab):
    button = tab.frame.locator(".detloss-run").filter(has_text=XSS_RUN).first
    assert XSS_RUN in button.inner_text()
    button.click()
    tab.frame.locator("#detloss-title", has_text=XSS_RUN).wait_for(timeout=30_000)
    tab.settle()
    assert tab.frame.locator("#detloss-legend").get_by_text(XSS_COMPONENT, exact=True).count() == 1
    assert tab.frame.locator(
        '.detloss-component-chart[data-component="%s"]' % XSS_COMPONENT.replace('"', '\\"')
    ).get_by_text(XSS_COMPONENT, exact=True).count() == 1
    _, rows = tab.hover("stack", 5)
    assert XSS_COMPONENT in rows
    with tab.page.expect_download() as d:
        tab.frame.locator('.detloss-svg[data-chart="stack"]').click()
    with open(d.value.path(), encoding="utf-8") as f:
        svg = f.read()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg and "<script" not in svg
    assert "&lt;img src=x onerror=alert(1)&gt;" in svg and "<img" not in svg
    assert tab.frame.locator("img").count() == 0
    assert tab.frame.locator("#detloss-app script").count() == 0
    assert XSS_RUN in urllib.parse.unquote(tab.page.url)
    tab.page.wait_for_timeout(300)
    tab.assert_clean()


def test_warnings_panel_and_attribution(tab):
    tab.select_run("beta")
    items = tab.frame.locator(".detloss-warning")
    empty = tab.frame.locator(".detloss-warnings-empty")
    tab.page.wait_for_function(
        "() => { const d = document.querySelector('iframe').contentDocument;"
        " return d.querySelector('.detloss-warning') ||"
        " (d.querySelector('.detloss-warnings-empty') &&"
        "  !/Loading/.test(d.querySelector('.detloss-warnings-empty').textContent)); }")
    assert items.count() > 0, empty.all_inner_texts()
    zero = items.filter(has_text="obj").first
    assert zero.locator(".detloss-badge").inner_text().lower() in ("info", "warning", "error")
    zero.click()
    tab.settle()
    target = tab.frame.locator('.detloss-component-chart[data-component="obj"]')
    assert target.locator(".detloss-range-focus").count() == 1

    # What moved the total between steps 20 and 120 (zoomed), against the route.
    tab.select_run("alpha")
    tab.set_number("#detloss-smoothing-value", 0)
    explain = tab.frame.locator("#detloss-explain")
    assert explain.is_enabled()
    explain.click()
    head = tab.frame.locator(".detloss-attribution-head")
    head.wait_for()
    q = urllib.parse.urlencode({"run": "alpha", "split": "train", "name": "loss", "from": 0,
                                "to": ALPHA_STEPS - 1})
    status, _, body = tab.tb.request("/data/plugin/detloss/attribution?" + q)
    assert status == 200
    want = json.loads(body)
    assert "from step 0 to 199" in head.inner_text()
    names = tab.frame.locator(".detloss-waterfall-name").all_inner_texts()
    assert names == [p["component"] for p in want["parts"]]
    deltas = tab.frame.locator(".detloss-waterfall-delta").all_inner_texts()
    for shown, part in zip(deltas, want["parts"]):
        assert float(shown.replace("−", "-")) == pytest.approx(part["delta"], rel=1e-3)
    assert tab.frame.locator('[data-chart-id="stack"] .detloss-range-explained').count() == 1
    tab.screenshot("tab-attribution-%s.png" % loader_name(tab.tb))
    tab.assert_clean()


def test_theme_follows_tensorboard_and_controls_are_labelled(tab):
    app = tab.frame.locator("#detloss-app")
    assert "detloss-dark" not in app.get_attribute("class")
    tab.page.evaluate("() => document.body.classList.add('dark-mode')")
    tab.page.wait_for_function(
        "() => document.querySelector('iframe').contentDocument"
        ".querySelector('#detloss-app').classList.contains('detloss-dark')")
    tab.settle()
    tab.screenshot("tab-dark-%s.png" % loader_name(tab.tb))
    tab.page.evaluate("() => document.body.classList.remove('dark-mode')")
    tab.page.wait_for_function(
        "() => !document.querySelector('iframe').contentDocument"
        ".querySelector('#detloss-app').classList.contains('detloss-dark')")
    unlabelled = tab.js.evaluate(
        """() => Array.from(document.querySelectorAll('button, input, select, a[href]'))
             .filter(el => !el.closest('[hidden]'))
             .filter(el => !(el.getAttribute('aria-label') || el.textContent.trim() ||
                             (el.labels && el.labels.length && el.labels[0].textContent.trim())))
             .map(el => el.outerHTML.slice(0, 80))""")
    assert unlabelled == []
    # Keyboard: the chart takes focus and End moves the cursor to the last step.
    tab.frame.locator('[data-chart-id="stack"]').focus()
    tab.page.keyboard.press("End")
    tip = tab.frame.locator('[data-chart-id="stack"] .detloss-tooltip')
    tip.wait_for(state="visible")
    assert Tab.tooltip(tip)[0].startswith("step ")
    tab.assert_clean()


def test_loss_name_picker_and_auto_reload_redraws_on_new_steps(tab, logdir):
    tab.select_run("two_losses")
    select = tab.frame.locator("#detloss-name")
    assert select.locator("option").all_inner_texts() == ["aux_loss", "loss"]
    assert tab.frame.locator("#detloss-legend .detloss-legend-item").all_inner_texts() == [
        "ce", "giou"]
    select.select_option("aux_loss")
    tab.frame.locator("#detloss-legend .detloss-legend-item", has_text="aux_ce").wait_for()
    # New steps logged while the tab is open: a poll picks them up and redraws.
    caption = tab.frame.locator("#detloss-stack-caption")
    before = caption.inner_text()
    steps = int(re.search(r"\(train, (\d+) steps", before).group(1))
    with detloss.summary.FileWriter(os.path.join(logdir, "two_losses")) as w:
        for step in range(1000 + steps, 1010 + steps):
            detloss.summary.write({"aux_ce": 0.25}, step=step, name="aux_loss", writer=w,
                                  walltime=T0 + step)
    for _ in range(120):
        tab.js.evaluate("() => window.__detloss.check()")
        tab.settle()
        if caption.inner_text() != before:
            break
        tab.page.wait_for_timeout(500)
    assert caption.inner_text().startswith("(train, %d steps" % (steps + 10))
    tab.assert_clean()


def test_zooming_in_fetches_every_step_of_the_range(tab):
    tab.select_run("long")
    caption = tab.frame.locator("#detloss-stack-caption")
    drawn = re.match(r"\(train, 3,000 steps, ([\d,]+) drawn\)", caption.inner_text())
    assert drawn, caption.inner_text()
    assert int(drawn.group(1).replace(",", "")) < LONG_STEPS
    tab.js.evaluate("() => window.__detloss.zoom([1000, 1100])")
    tab.frame.locator("#detloss-stack-caption", has_text=re.compile(r"^\(train, 3,000 steps\)$")).wait_for()
    tab.settle()
    x = tab.chart("stack")["x"]
    assert [s for s in x if 1000 <= s <= 1100] == list(range(1000, 1101))
    assert tab.chart("stack")["visible"] == [1000, 1100]
    title, rows = tab.hover("stack", 1050)
    assert rows["box"][0] == js_number(1.0 + (1050 % 7) / 8.0)
    tab.assert_clean()


def test_empty_state_shows_how_to_log(tab):
    tab.page.route("**/data/plugin/detloss/runs", lambda route: route.fulfill(
        status=200, content_type="application/json", body="[]"))
    tab.page.reload()
    tab.frame = tab.page.frame_locator("iframe").first
    empty = tab.frame.locator("#detloss-empty")
    empty.wait_for(timeout=30_000)
    assert "No loss breakdown logged yet" in empty.inner_text()
    assert "detloss.summary.write(" in tab.frame.locator("#detloss-example-pytorch").inner_text()
    assert "detloss.summary.write(" in tab.frame.locator("#detloss-example-tf").inner_text()
    assert "detloss import LOGDIR" in tab.frame.locator("#detloss-empty-import").inner_text()
    assert tab.frame.locator("#detloss-view").is_hidden()
    tab.assert_clean()


def test_without_diagnostics_routes_the_panel_says_so(tab):
    for route in ("warnings", "attribution"):
        tab.page.route("**/data/plugin/detloss/%s?*" % route, lambda r: r.fulfill(
            status=404, content_type="text/plain", body="Not found"))
    tab.page.reload()
    tab.frame = tab.page.frame_locator("iframe").first
    tab.frame.locator("#detloss-stack canvas").first.wait_for(timeout=30_000)
    tab.select_run("alpha")
    empty = tab.frame.locator(".detloss-warnings-empty")
    empty.filter(has_text="not available").wait_for()
    assert tab.frame.locator("#detloss-explain").is_disabled()
    assert tab.frame.locator(".detloss-warning").count() == 0
    assert [e for e in tab.errors if "404" not in e] == []
    assert tab.dialogs == []
