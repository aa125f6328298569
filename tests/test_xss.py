"""Hostile names in every view of the tab and in every export (issue 9, XSS).

A corpus of payloads (HTML, script, event handlers, javascript:/data: URLs, SVG, template
syntax, entities, CSS, bidi and invisible characters, spreadsheet formulas, 10,000-character
strings, JavaScript property names) is written as run, loss, split and component names — by
detloss's FileWriter, and as framework scalar tags (torch's SummaryWriter, read by the
importer, one run named by a `detloss_profile.json`). Playwright drives Debian's Chromium
against a real TensorBoard (both loaders, one TensorBoard and one page per loader) through
every view and export. Every payload that could execute sets `top.__xss` / `window.__xss` or
calls alert(): the checks prove nothing ran (no dialog, no flag, no element of a dangerous kind
ever added to the tab's document, no console error) and that each name is shown as the exact
text the tab promises (`shown()`: the name itself, with format and control characters made
visible as ⟨U+XXXX⟩).

`PYTHONPATH=. python -m pytest -q -s tests/test_xss.py` prints the corpus figures.
"""

import csv
import io
import json
import os
import re
import time
import unicodedata
import urllib.parse
import xml.etree.ElementTree as ET

import pytest

import tensorboard_plugin_detloss as detloss
from conftest import LOADERS, settle, tab_window
from tb_process import TensorBoard

# -- the corpus ---------------------------------------------------------------------------------

LONG = 10_000
PAYLOADS = [
    # <script> variants
    "<script>top.__xss=1</script>",
    "<SCRIPT>alert('x1')</SCRIPT>",
    "<script src=data:text/javascript,top.__xss=1></script>",
    "</title><script>alert('x2')</script>",
    "</script><script>top.__xss=1</script>",
    "<scr<script>ipt>alert('x3')</scr</script>ipt>",
    # images, event handlers
    "<img src=x onerror=alert('x4')>",
    '<img src="x" onerror="top.__xss=1">',
    "<body onload=alert('x5')>",
    "<details open ontoggle=top.__xss=1>",
    "<input autofocus onfocus=top.__xss=1>",
    "<video><source onerror=alert('x6')></video>",
    # SVG
    "<svg onload=alert('x7')>",
    "<svg><script>top.__xss=1</script></svg>",
    "<svg><animate onbegin=top.__xss=1 attributeName=x dur=1s>",
    "<![CDATA[<script>top.__xss=1</script>]]>",
    # frames, objects
    '<iframe srcdoc="<script>top.__xss=1</script>"></iframe>',
    "<iframe src=javascript:top.__xss=1>",
    '<object data="javascript:top.__xss=1"></object>',
    '<embed src="data:text/html,<script>top.__xss=1</script>">',
    # attribute breaking
    '"><script>alert(\'x8\')</script>',
    "'><img src=x onerror=top.__xss=1>",
    '" onmouseover="top.__xss=1" x="',
    "' onfocus='top.__xss=1' autofocus='",
    "`><img src=x onerror=top.__xss=1>",
    # URLs
    "javascript:top.__xss=1",
    "JaVaScRiPt:alert('x9')",
    "data:text/html,<script>top.__xss=1</script>",
    '<a href="javascript:top.__xss=1">click</a>',
    # template syntax
    "{{constructor.constructor('top.__xss=1')()}}",
    "${top.__xss=1}",
    "#{7*7} <%= 7*7 %> {{7*7}}",
    # entities must stay entities
    "&lt;script&gt;alert('x10')&lt;/script&gt;",
    "&amp; &quot; &#60; &#x3C; &nbsp;",
    # CSS
    "<style>*{display:none!important}</style>",
    '<div style="position:fixed;inset:0;background:red">x</div>',
    "expression(alert('x11')) url(javascript:top.__xss=1)",
    # mutation XSS
    "<math><mtext><table><mglyph><style><img src=x onerror=top.__xss=1>",
    "<noscript><p title=\"</noscript><img src=x onerror=top.__xss=1>\">",
    # bidi, invisible, combining, emoji, controls
    "invoice\u202Egnp.exe",
    "\u2067rtl \u05e9\u05dc\u05d5\u05dd\u2069 lri \u2066x\u2069 rlo \u202Ey\u202C",
    "\u05d4\u05e4\u05e1\u05d3 \u0627\u0644\u062e\u0633\u0627\u0631\u0629",
    "box\u200bloss",
    "a\u200db\ufeffc\u2060d\u00ade",
    "Z\u0338\u0322\u031ba\u0334l\u0337g\u0335o\u0336",
    "\U0001F525loss \U0001F468\u200d\U0001F469\u200d\U0001F467 \U0001F44D\U0001F3FD",
    "tab\there\x07bell\x1b[31mred\x7f",
    "line1\nline2\r\nline3\u2028ls\u2029ps",
    # spreadsheet formulas
    '=HYPERLINK("http://x.invalid/?q="&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-1+2",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+2",
    "\r=1+2",
    '=1+2";=3+4,"=5',
    # JavaScript property names
    "__proto__",
    "constructor",
    "toString",
    "hasOwnProperty",
    # long
    ("<img src=x onerror=top.__xss=1>" + "W" * LONG)[:LONG],
    ("\u202E" + "\u05d0" * 40 + "<svg onload=alert('x12')>") * 1 + "L" * (LONG - 66),
]
assert len(set(PAYLOADS)) == len(PAYLOADS)
assert all(len(p) == LONG for p in PAYLOADS if len(p) > 1000)

# Code points shown as ⟨U+XXXX⟩ (the tab's names.ts): controls, format characters, line and
# paragraph separators; a zero-width joiner between two emoji stays (it joins them).
_EMOJI_LEFT = ("So", "Sk")


def shown(name):
    """The text the tab shows for `name` (frontend/src/names.ts, same rule)."""
    out = []
    for i, ch in enumerate(name):
        cat = unicodedata.category(ch)
        if ch == "\u200d" and 0 < i < len(name) - 1:
            prev = name[i - 1]
            if (unicodedata.category(prev) in _EMOJI_LEFT or prev == "\ufe0f") and \
                    unicodedata.category(name[i + 1]) == "So":
                out.append(ch)
                continue
        if cat in ("Cc", "Cf", "Zl", "Zp"):
            out.append("\u27e8U+%04X\u27e9" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


def path_safe(p):
    """Usable as a run directory below the logdir (a relative path of real directories)."""
    parts = p.split("/")
    return (p and not p.startswith("/") and all(parts) and "." not in parts and ".." not in parts
            and all(len(x.encode()) <= 255 for x in parts) and len(p) < 1000)


# -- the logdir ---------------------------------------------------------------------------------

T0 = 1_767_225_600.0
STEPS = 120
VAL_EVERY = 5
# Runs named by a payload (each also a component of that run, so the comparison shows it).
NAME_RUNS = [p for p in PAYLOADS if path_safe(p)]
HEAVY = [
    'heavy-1 "><svg onload=alert(\'h1\')>',
    "heavy-2 <img src=x onerror=top.__xss=1> \u202Eevil",
    "heavy-3 =HYPERLINK(\"x\") \u200b",
]
# The heavy runs share the components out between them; heavy-1 also gets the warnings.
ZERO = "<img src=x onerror=alert('zero')>"
RISING = "<svg><script>alert('rising')</script></svg>"
NANCOMP = "\u202Enan<script>top.__xss=1</script>"
HEAVY_LOSS = ["<iframe srcdoc=\"<script>alert('loss')</script>\">", '=cmd|" /C calc"!A0',
              PAYLOADS[-1]]
HEAVY_SPLIT = ["<svg onload=alert('split')>", "\u202Elav", "+split\u200b"]
# Each heavy run has 22-25 components: a third of the payloads, box, cls and the warning ones.
PER_HEAVY = [PAYLOADS[i::3] for i in range(3)]
# The longest run name Linux lets TensorBoard open: 255-byte path parts, paths < 4096 bytes.
LONG_RUN_PARTS = 18
IMPORTED_RUN = "imported \"'><img src=x onerror=alert('imp')>"
IMPORTED_TAGS = ["<script>alert('tag')</script>", "=HYPERLINK(\"http://x.invalid\")",
                 "javascript:top.__xss=1", "\u202Etag\u200b", ("<b>" + "T" * LONG)[:LONG - 5]]
PROFILED_RUN = "profiled <svg onload=alert('prof')>"
PROFILE_COMPONENTS = {"<img src=x onerror=alert('pa')>": "objective_a",
                      "-2+3 \u202Eprof": "objective_b"}
FIGURES = {"payloads": len(PAYLOADS)}


def long_run_name(logdir):
    budget = 4000 - len(os.path.abspath(logdir)) - 80
    part = "<svg onload=alert('long')>" + "R" * 300
    parts = []
    while len("/".join(parts + [part[:200]])) < budget and len(parts) < LONG_RUN_PARTS:
        parts.append(part[:200])
    return "/".join(parts)


def write_logs(logdir):
    """Returns {(run, name, split): components} of what was written."""
    written = {}

    # One run per path-safe payload: the payload and "box" as components.
    for i, run in enumerate(NAME_RUNS):
        with detloss.summary.FileWriter(os.path.join(logdir, run)) as w:
            for step in range(6):
                detloss.summary.write({run: 0.5 + 0.1 * (i % 5), "box": 1.0 / (step + 1)},
                                      step=step, writer=w, walltime=T0 + step)
        written[(run, "loss", "train")] = [run, "box"]

    # The heavy runs: every payload as a component, two loss names, hostile splits, warnings.
    for h, run in enumerate(HEAVY):
        comps = list(PER_HEAVY[h]) + ["box", "cls"]
        if h == 0:
            comps += [ZERO, RISING]
        if h == 1:
            comps += [NANCOMP]
        with detloss.summary.FileWriter(os.path.join(logdir, run)) as w:
            for step in range(STEPS):
                vals = {c: 0.2 + 0.05 * (k % 7) + 1.0 / (1 + step / 20.0) for k, c in enumerate(comps)}
                if h == 0:
                    vals[ZERO] = 0.0
                if h == 1:
                    vals[NANCOMP] = float("nan") if step >= 60 else 0.5
                weights = {c: 1.0 + (k % 3) for k, c in enumerate(comps)}
                detloss.summary.write(vals, step=step, writer=w, walltime=T0 + 10 * step,
                                      weights=weights)
                detloss.summary.write({c: vals[c] * 0.5 for c in comps[:6]}, step=step,
                                      name=HEAVY_LOSS[h], writer=w, walltime=T0 + 10 * step)
                if step % VAL_EVERY == VAL_EVERY - 1:
                    v = {c: 0.3 + 0.05 * (k % 7) + 1.0 / (1 + step / 20.0)
                         for k, c in enumerate(comps) if c != NANCOMP}
                    if h == 0:
                        # Falls until step 40, then rises steadily: overfitting.
                        v[RISING] = 1.0 - step / 80.0 if step < 40 else 0.5 + (step - 40) / 40.0
                        v[ZERO] = 0.0
                    split = "val" if h == 0 else HEAVY_SPLIT[h]
                    detloss.summary.write(v, step=step, split=split, writer=w,
                                          walltime=T0 + 10 * step + 5)
                    detloss.summary.write({c: vals[c] for c in comps[:3]}, step=step,
                                          split=HEAVY_SPLIT[0] if h == 0 else "test",
                                          writer=w, walltime=T0 + 10 * step + 6)
        written[(run, "loss", "train")] = comps
        written[(run, HEAVY_LOSS[h], "train")] = comps[:6]
        written[(run, "loss", "val" if h == 0 else HEAVY_SPLIT[h])] = [
            c for c in comps if c != NANCOMP]
        written[(run, "loss", HEAVY_SPLIT[0] if h == 0 else "test")] = comps[:3]

    # A run name as long as the OS allows, with a 10,000-character loss, split and component.
    long_run = long_run_name(logdir)
    long_comp = ("<svg onload=alert('lc')>" + "C" * LONG)[:LONG]
    long_split = ("<img src=x onerror=alert('ls')>" + "S" * LONG)[:LONG]
    long_loss = ("=HYPERLINK(\"x\")" + "N" * LONG)[:LONG]
    with detloss.summary.FileWriter(os.path.join(logdir, long_run)) as w:
        for step in range(10):
            detloss.summary.write({long_comp: 1.0, "box": 0.5}, step=step, writer=w,
                                  walltime=T0 + step)
            detloss.summary.write({long_comp: 1.0, "box": 0.5}, step=step, split=long_split,
                                  writer=w, walltime=T0 + step)
            detloss.summary.write({long_comp: 2.0, "cls": 0.5}, step=step, name=long_loss,
                                  writer=w, walltime=T0 + step)
    written[(long_run, "loss", "train")] = [long_comp, "box"]
    written[(long_run, "loss", long_split)] = [long_comp, "box"]
    written[(long_run, long_loss, "train")] = [long_comp, "cls"]

    # Framework scalars: TF Object Detection API tags (Loss/<anything>) with hostile names.
    from torch.utils.tensorboard import SummaryWriter

    w = SummaryWriter(os.path.join(logdir, IMPORTED_RUN, "train"))
    for step in range(20):
        total = 0.0
        for k, tag in enumerate(IMPORTED_TAGS):
            v = 0.25 * (k + 1) + 1.0 / (1 + step)
            total += v
            w.add_scalar("Loss/" + tag, v, step, walltime=T0 + step)
        w.add_scalar("Loss/total_loss", total, step, walltime=T0 + step)
    w.close()
    written[(IMPORTED_RUN, "loss", "train")] = sorted(IMPORTED_TAGS)  # the importer sorts

    # A user profile (detloss_profile.json) naming components with hostile names.
    w = SummaryWriter(os.path.join(logdir, PROFILED_RUN))
    for step in range(20):
        for k, tag in enumerate(PROFILE_COMPONENTS.values()):
            w.add_scalar(tag, 0.5 * (k + 1) + 1.0 / (1 + step), step, walltime=T0 + step)
    w.close()
    with open(os.path.join(logdir, "detloss_profile.json"), "w", encoding="utf-8") as f:
        json.dump({"version": 1, "profiles": [{
            "name": "xss_profile", "title": "<script>alert('title')</script>",
            "components": PROFILE_COMPONENTS, "runs": "profiled*",
            "notes": ["<img src=x onerror=alert('note')>"]}]}, f)
    written[(PROFILED_RUN, "loss", "train")] = list(PROFILE_COMPONENTS)
    return written


def placements(written):
    """How many times a corpus payload (or a long/hostile name) is used as a name."""
    names = set()
    n = 0
    for (run, name, split), comps in written.items():
        for s in (run, name, split, *comps):
            if s not in ("loss", "train", "val", "test", "box", "cls"):
                n += 1
                names.add(s)
    return n, len(names)


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("xss") / "logs"
    d.mkdir()
    written = write_logs(str(d))
    FIGURES["placements"], FIGURES["distinct names"] = placements(written)
    FIGURES["series"] = len(written)
    FIGURES["runs"] = len({k[0] for k in written})
    return str(d), written


@pytest.fixture(scope="module", params=LOADERS)
def tensorboard(request, corpus):
    logdir, written = corpus
    tb = TensorBoard(logdir, request.param).wait_ready()
    deadline = time.time() + 180
    want = set(written)
    while True:
        status, _, body = tb.request("/data/plugin/detloss/runs")
        have = {(i["run"], i["name"], i["split"]) for i in json.loads(body)} if status == 200 else set()
        if want <= have:
            q = urllib.parse.urlencode({"run": HEAVY[2], "split": "train", "max_points": 2})
            status, _, body = tb.request("/data/plugin/detloss/breakdown?" + q)
            if status == 200 and json.loads(body)["num_steps"] == STEPS:
                break
        if time.time() > deadline:
            tb.stop()
            raise AssertionError("TensorBoard did not load the corpus; missing %s\n%s" % (
                sorted(want - have, key=repr)[:5], tb.log_text()[-3000:]))
        time.sleep(0.5)
    tb.figures = {"views": set(), "texts": 0, "exports": 0, "loader": request.param}
    yield tb
    f = tb.figures
    print("\n[xss] load_fast=%s: %d payloads, %d placements (%d distinct names, %d series, %d runs,"
          " longest run name %s characters); %d views, %d name texts compared, %d exports checked;"
          " nothing executed; downloads clicked twice: %d\n[xss] views: %s"
          % (f["loader"], FIGURES["payloads"], FIGURES["placements"], FIGURES["distinct names"],
             FIGURES["series"], FIGURES["runs"], FIGURES.get("longest run name"), len(f["views"]),
             f["texts"], f["exports"], f.get("download retries", 0),
             ", ".join(sorted(f["views"]))))
    tb.stop()


# Installed in the tab's iframe on every load: records any element of a kind the tab never
# creates from data (the app's own <style>/<script> are there before it runs).
WATCH = """() => {
  window.__added = [];
  const bad = new Set(['SCRIPT','IMG','IFRAME','SVG','OBJECT','EMBED','STYLE','LINK','META',
                       'BASE','FORM','VIDEO','AUDIO','SOURCE','MATH','A','FRAME','TEMPLATE']);
  new MutationObserver((ms) => { for (const m of ms) for (const n of m.addedNodes) {
    const all = n.nodeType === 1 ? [n, ...n.querySelectorAll('*')] : [];
    for (const e of all) if (bad.has(e.tagName.toUpperCase()) &&
        !(e.tagName === 'A' && e.classList.contains('detloss-download')) &&
        !(e.tagName === 'A' && e.style.display === 'none' && e.href.startsWith('blob:')))
      window.__added.push(e.outerHTML.slice(0, 120));
    if (m.type === 'attributes' && /^on/i.test(m.attributeName)) window.__added.push('on*: ' + m.attributeName);
  } }).observe(document, {childList: true, subtree: true});
  return true;
}"""


class Tab:
    def __init__(self, browser, tb):
        self.tb = tb
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                           accept_downloads=True)
        self.page = self.context.new_page()
        self.dialogs, self.errors = [], []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.open()

    def open(self, hash_params=""):
        if hash_params is not None:
            self.page.goto(self.tb.url + "/#detloss" + hash_params)
        self.page.wait_for_selector("iframe", timeout=30_000)
        self.frame = self.page.frame_locator("iframe").first
        # Attached, not visible: a name injected as a <style> could hide the page (the checks
        # below then say why).
        self.frame.locator("#detloss-stack canvas").first.wait_for(state="attached", timeout=30_000)
        self.js.evaluate(WATCH)
        self.settle()

    @property
    def js(self):
        return tab_window(self.page)

    def settle(self):
        settle(self.page)

    def texts(self, selector):
        return self.js.evaluate("s => Array.from(document.querySelectorAll(s), e => e.textContent)",
                                selector)

    def element(self, selector, attr, value):
        h = self.js.evaluate_handle(
            "([s, a, v]) => Array.from(document.querySelectorAll(s)).find(e => e.getAttribute(a) === v)",
            [selector, attr, value])
        el = h.as_element()
        assert el is not None, (selector, attr, value[:80])
        return el

    def select_run(self, run, name="loss"):
        self.element(".detloss-run", "data-run", run).click()
        self.js.wait_for_function("r => window.__detloss.state().run === r", arg=run)
        self.js.evaluate("""n => { const s = document.querySelector('#detloss-name');
            if (window.__detloss.state().name !== n) { s.value = n; s.dispatchEvent(new Event('change')); } }""", name)
        try:
            self.js.wait_for_function(
                """([run, name]) => { const s = window.__detloss.state();
                    return s.run === run && s.name === name &&
                      document.querySelector('#detloss-stack canvas') &&
                      document.querySelector('#detloss-status').textContent === ''; }""",
                arg=[run, name], timeout=30_000)
        except Exception:
            raise AssertionError("run %r, loss %r not shown: %s" % (run[:80], name[:80], self.js.evaluate(
                """() => [window.__detloss.state().run.slice(0, 80), String(window.__detloss.state().name).slice(0, 80),
                          document.querySelector('#detloss-status').textContent,
                          document.querySelector('#detloss-error').textContent.slice(0, 300)]""")))
        self.settle()
        self.settle()

    def state(self):
        # As a JSON string: Playwright's own serialisation can drop a "__proto__" key.
        return json.loads(self.js.evaluate("() => JSON.stringify(window.__detloss.state())"))

    def hover(self, chart_id, x):
        fig = self.frame.locator('[data-chart-id="%s"]' % chart_id.replace("\\", "\\\\").replace('"', '\\"'))
        fig.scroll_into_view_if_needed()
        pos = self.js.evaluate("([id, x]) => window.__detloss.pos(id, x)", [chart_id, x])
        box = self.page.locator("iframe").first.bounding_box()
        self.page.mouse.move(box["x"] + pos["x"] - 20, box["y"] + pos["y"])
        self.page.mouse.move(box["x"] + pos["x"], box["y"] + pos["y"])
        tip = fig.locator(".detloss-tooltip")
        tip.wait_for(state="visible", timeout=5_000)
        labels = tip.evaluate("t => Array.from(t.querySelectorAll('tbody th'), e => e.textContent)")
        self.page.mouse.move(1, 1)
        return labels

    def download(self, locator):
        # Headless Chromium now and then starts no download for a click on an <a download>
        # in the tab's iframe after a dozen downloads in a row (≈ 1 run in 2 here; never with
        # Playwright's network events enabled, and the server answers the same URL with 200):
        # one more click after 10 s, counted in the figures.
        for attempt in range(2):
            try:
                with self.page.expect_download(timeout=10_000 if attempt == 0 else 30_000) as d:
                    locator.click()
                break
            except Exception:
                if attempt == 1:
                    raise AssertionError("no download; error box: %r; console: %r" % (
                        self.js.evaluate(
                            "() => document.querySelector('#detloss-error').textContent"),
                        self.errors))
                self.tb.figures["download retries"] = self.tb.figures.get(
                    "download retries", 0) + 1
        with open(d.value.path(), "rb") as f:
            return d.value.suggested_filename, f.read()

    def assert_nothing_ran(self):
        assert self.dialogs == [], self.dialogs
        assert self.errors == [], self.errors
        assert self.page.evaluate("() => window.__xss") is None
        assert self.js.evaluate("() => window.__xss") is None
        assert self.js.evaluate("() => window.__added") == []
        # Also the document as it stands: no element of those kinds from data.
        assert self.js.evaluate("""() => document.querySelectorAll(
            '#detloss-app script, #detloss-app img, #detloss-app iframe, #detloss-app svg,'
            + '#detloss-app object, #detloss-app embed, #detloss-app style, #detloss-app math,'
            + '#detloss-app [onerror], #detloss-app [onload], #detloss-app [onmouseover],'
            + '#detloss-app [onfocus], #detloss-app [srcdoc]').length""") == 0
        assert self.page.locator("iframe").count() == 1


@pytest.fixture(scope="module")
def tab(browser, tensorboard):
    t = Tab(browser, tensorboard)
    yield t
    t.context.close()


ARTIFACTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                         "test-artifacts")


def screenshot(tab, name):
    os.makedirs(ARTIFACTS, exist_ok=True)
    tab.page.screenshot(path=os.path.join(ARTIFACTS, "%s-%s.png" % (
        name, "fast" if tab.tb.load_fast else "mux")))


def seen(tab, view, n=1):
    tab.tb.figures["views"].add(view)
    tab.tb.figures["texts"] += n


def layout_ok(tab):
    """No horizontal overflow; no name box taller than a few lines."""
    over = tab.js.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert over <= 0, "the page scrolls sideways by %dpx" % over
    tall = tab.js.evaluate("""() => Array.from(document.querySelectorAll('.detloss-name'))
        .filter(e => e.offsetParent !== null && e.getBoundingClientRect().height > 80)
        .map(e => e.textContent.slice(0, 60))""")
    assert tall == [], tall


# -- server -------------------------------------------------------------------------------------


def test_routes_never_answer_html_and_keep_names(tensorboard, corpus):
    _, written = corpus
    status, ctype, body = tensorboard.request("/data/plugin/detloss/runs")
    assert status == 200 and ctype.startswith("application/json")
    got = {(i["run"], i["name"], i["split"]): i["components"] for i in json.loads(body)}
    for key, comps in written.items():
        assert got[key] == comps, key
    for p in PAYLOADS[:40]:
        for route in ("breakdown", "warnings", "attribution"):
            q = urllib.parse.urlencode({"run": p, "split": p, "name": p, "from": 0, "to": 1})
            status, ctype, body = tensorboard.request("/data/plugin/detloss/%s?%s" % (route, q))
            assert status in (400, 404)
            assert "html" not in ctype and ctype.startswith("text/plain"), ctype
    status, ctype, body = tensorboard.request("/data/plugin/detloss/breakdown_multirun",
                                              data=[("runs", "unknown " + p) for p in PAYLOADS[:5]] + [("split", "train")])
    assert status == 404 and ctype.startswith("text/plain")
    status, ctype, body = tensorboard.request("/data/plugin/detloss/breakdown_multirun",
                                              data=[("runs", p) for p in NAME_RUNS] + [("split", "train")])
    assert status == 200 and ctype.startswith("application/json")
    assert sorted(json.loads(body)) == sorted(NAME_RUNS)


def _check_csv(text, key, comps):
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    want = ["step", "wall_time"]
    for c in comps:
        want += [_quoted("%s value" % c), _quoted("%s weight" % c)]
    want.append("total")
    assert header == want, key
    for row in rows:
        for cell in row:
            assert not spreadsheet_formula(cell), (key, cell[:80])


NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-?(inf|nan)$")


def spreadsheet_formula(cell):
    """Would a spreadsheet evaluate this cell? (starts with = + - @ tab CR and is not a number)"""
    return cell[:1] in ("=", "+", "-", "@", "\t", "\r") and not NUMBER.match(cell)


def _quoted(s):
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s


def test_server_csv_and_json_exports(tensorboard, corpus):
    _, written = corpus
    for key, comps in written.items():
        run, name, split = key
        for fmt in ("csv", "json"):
            q = urllib.parse.urlencode({"run": run, "name": name, "split": split, "format": fmt})
            status, ctype, body = tensorboard.request("/data/plugin/detloss/breakdown?" + q)
            assert status == 200, (key, body[:200])
            assert "html" not in ctype
            if fmt == "csv":
                assert ctype.startswith("text/csv")
                _check_csv(body.decode("utf-8"), key, comps)
            else:
                j = json.loads(body)
                assert (j["run"], j["name"], j["split"]) == key
                assert j["components"] == comps
                assert sorted(j["values"]) == sorted(comps)
            tensorboard.figures["exports"] += 1


# -- the tab ------------------------------------------------------------------------------------


def test_run_list_and_filter(tab, corpus):
    _, written = corpus
    tab.page.wait_for_timeout(500)  # an onerror/onload/ontoggle payload would have fired
    tab.assert_nothing_ran()
    runs = sorted({k[0] for k in written})
    items = tab.js.evaluate("""() => Array.from(document.querySelectorAll('.detloss-run'), b => ({
        run: b.getAttribute('data-run'), title: b.getAttribute('title'),
        name: b.querySelector('.detloss-run-name').textContent,
        meta: b.querySelector('.detloss-run-meta').textContent}))""")
    assert sorted(i["run"] for i in items) == runs
    for i in items:
        assert i["name"] == shown(i["run"])
        assert i["title"] == shown(i["run"])
        keys = sorted(k for k in written if k[0] == i["run"])
        names = sorted({k[1] for k in keys})
        splits = list(dict.fromkeys(k[2] for k in keys))
        assert i["meta"] == ("%d losses · " % len(names) if len(names) > 1 else "") + ", ".join(
            shown(s) for s in splits), i["run"][:80]
    seen(tab, "run list", 3 * len(items))
    # Every name is bidi-isolated: right-to-left text in it cannot reorder what is around it.
    assert tab.js.evaluate("""() => Array.from(document.querySelectorAll('.detloss-name'))
        .filter(e => getComputedStyle(e).unicodeBidi !== 'isolate').length""") == 0
    layout_ok(tab)
    # The filter: a payload typed in the box keeps the runs that contain it.
    box = tab.frame.locator("#detloss-filter")
    for p in ["<script>", "onerror=", "\u202E", "=HYPERLINK", "__proto__", '"><'] :
        box.fill(p)
        tab.settle()
        visible = tab.js.evaluate("""() => Array.from(document.querySelectorAll('.detloss-run-item'))
            .filter(li => !li.hidden).map(li => li.getAttribute('data-run'))""")
        assert sorted(visible) == sorted(r for r in runs if p.lower() in r.lower()), p
        assert box.input_value() == p
        seen(tab, "run filter", len(visible))
    box.fill("")
    tab.settle()
    tab.assert_nothing_ran()


def _check_selected_views(tab, run, name, written):
    key_splits = sorted(s for (r, n, s) in written if r == run and n == name)
    comps = []
    for s in key_splits:
        for c in written[(run, name, s)]:
            if c not in comps:
                comps.append(c)
    # Title, subtitle.
    assert tab.texts("#detloss-title .detloss-name") == [shown(run)]
    sub = tab.js.evaluate("() => document.querySelector('#detloss-subtitle').textContent")
    assert shown(name) in sub
    seen(tab, "title and subtitle", 2)
    # Loss-name picker and split picker: option text shown, value raw.
    names = sorted({n for (r, n, s) in written if r == run})
    if len(names) > 1:
        opts = tab.js.evaluate("() => Array.from(document.querySelectorAll('#detloss-name option'), o => [o.value, o.textContent, o.title])")
        assert sorted(o[0] for o in opts) == names
        for value, text, title in opts:
            assert title == shown(value)
            assert text == shown(value) or (text.endswith("…") and shown(value).startswith(text[:-1]))
        seen(tab, "loss-name picker", len(opts))
    opts = tab.js.evaluate("() => Array.from(document.querySelectorAll('#detloss-split option'), o => [o.value, o.textContent, o.title])")
    assert sorted(o[0] for o in opts) == key_splits
    for value, text, title in opts:
        assert title == shown(value)
        assert text == shown(value) or (text.endswith("…") and shown(value).startswith(text[:-1]))
    seen(tab, "split picker", len(opts))
    # Legend of the stacked chart.
    stack_split = tab.js.evaluate("() => document.querySelector('#detloss-split').value")
    legend = tab.js.evaluate("""() => Array.from(document.querySelectorAll('#detloss-legend .detloss-legend-item'),
        b => [b.getAttribute('data-component'), b.textContent, b.querySelector('.detloss-name').getAttribute('title')])""")
    assert [l[0] for l in legend] == comps
    for c, text, title in legend:
        assert text == shown(c) and title == shown(c)
    seen(tab, "stack legend", len(legend))
    # Per-component charts.
    charts = tab.js.evaluate("""() => Array.from(document.querySelectorAll('.detloss-component-chart'),
        d => [d.getAttribute('data-component'), d.querySelector('.detloss-component-name').textContent])""")
    assert [c[0] for c in charts] == comps
    for c, text in charts:
        assert text == shown(c)
    seen(tab, "component charts", len(charts))
    # What-if rows.
    rows = tab.js.evaluate("""() => Array.from(document.querySelectorAll('.detloss-whatif-row'),
        d => [d.getAttribute('data-component'), d.querySelector('.detloss-whatif-name').textContent,
              d.querySelector('.detloss-whatif-value').value])""")
    assert [r[0] for r in rows] == written[(run, name, stack_split)]
    for c, text, value in rows:
        assert text == shown(c)
        assert re.match(r"^\d+(\.\d+)?$", value), (c, value)
    seen(tab, "what-if rows", len(rows))
    # Stacked chart tooltip: a row per shown component.
    labels = tab.hover("stack", 5)
    stacked = written[(run, name, stack_split)]
    assert labels[:len(stacked)] == [shown(c) for c in stacked]
    seen(tab, "stack tooltip", len(stacked))
    # A component chart's tooltip names the splits.
    first = comps[0]
    labels = tab.hover("component:" + first, 4)
    assert labels, first
    for lab in labels:
        assert lab in [shown(s) for s in key_splits]
    seen(tab, "component tooltip", len(labels))
    layout_ok(tab)
    tab.assert_nothing_ran()


def test_heavy_runs_every_view(tab, corpus):
    _, written = corpus
    for h, run in enumerate(HEAVY):
        for name in ("loss", HEAVY_LOSS[h]):
            tab.select_run(run, name)
            _check_selected_views(tab, run, name, written)
    # Every other split of the stacked chart (hostile split names) as the stacked split.
    tab.select_run(HEAVY[1], "loss")
    tab.js.evaluate("""s => { const e = document.querySelector('#detloss-split'); e.value = s;
        e.dispatchEvent(new Event('change')); }""", HEAVY_SPLIT[1])
    tab.js.wait_for_function("s => document.querySelector('#detloss-stack-caption').textContent.includes(s)",
                             arg=shown(HEAVY_SPLIT[1]))
    seen(tab, "stack caption", 1)
    screenshot(tab, "xss-heavy")
    tab.assert_nothing_ran()


def test_long_names(tab, corpus):
    _, written = corpus
    long_run = next(r for (r, n, s) in written if len(r) > 1000)
    assert len(long_run) > 2000
    FIGURES["longest run name"] = len(long_run)
    for name in sorted({n for (r, n, s) in written if r == long_run}):
        tab.select_run(long_run, name)
        _check_selected_views(tab, long_run, name, written)
    # Long names are cut with an ellipsis on screen and kept whole in the title attribute.
    cut = tab.js.evaluate("""() => Array.from(document.querySelectorAll('.detloss-name'))
        .filter(e => e.offsetParent !== null && e.textContent.length >= 10000)
        .map(e => [getComputedStyle(e).textOverflow, e.getAttribute('title').length, e.textContent.length])""")
    assert cut and all(c[0] == "ellipsis" and c[1] == c[2] for c in cut), cut
    seen(tab, "long names", len(cut))
    screenshot(tab, "xss-long-names")
    for (r, n, s), comps in written.items():
        if r == IMPORTED_RUN or r == PROFILED_RUN:
            tab.select_run(r, n)
            _check_selected_views(tab, r, n, written)
            seen(tab, "imported runs", len(comps))


def test_warnings_and_explanation(tab, corpus):
    _, written = corpus
    tab.select_run(HEAVY[0])
    tab.js.wait_for_function("() => document.querySelector('.detloss-warning') !== null", timeout=30_000)
    warnings = tab.js.evaluate("""() => Array.from(document.querySelectorAll('.detloss-warning'), b => ({
        kind: b.getAttribute('data-kind'), component: b.getAttribute('data-component'),
        message: b.querySelector('.detloss-warning-message').textContent,
        where: b.querySelector('.detloss-warning-where').textContent}))""")
    q = urllib.parse.urlencode({"run": HEAVY[0]})
    status, _, body = tab.tb.request("/data/plugin/detloss/warnings?" + q)
    served = json.loads(body)
    served = served["warnings"] if isinstance(served, dict) else served
    assert len(warnings) == len(served)
    kinds = {(w["kind"], w["component"]) for w in warnings}
    assert ("zero", ZERO) in kinds, kinds
    assert ("overfitting", RISING) in kinds, kinds
    for w in warnings:
        if w["component"]:
            assert w["where"].startswith(shown(w["component"]) + " · ")
    by_msg = {w["message"] for w in warnings}
    for s in served:
        assert shown(s["message"]) in by_msg
    seen(tab, "warnings panel", 2 * len(warnings))
    # Clicking a warning focuses its chart and marks the range (the mark's title is the message).
    tab.element(".detloss-warning", "data-component", ZERO).click()
    tab.settle()
    title = tab.js.evaluate("""c => Array.from(document.querySelectorAll('.detloss-component-chart'))
        .find(d => d.getAttribute('data-component') === c).querySelector('.detloss-range-focus').getAttribute('title')""", ZERO)
    assert shown(ZERO) in title or ZERO in title
    seen(tab, "warning range", 1)
    # The explanation of the visible range: one waterfall row per component.
    tab.frame.locator("#detloss-explain").click()
    tab.frame.locator(".detloss-attribution-head").wait_for()
    names = tab.texts(".detloss-waterfall-name")
    assert sorted(names) == sorted(shown(c) for c in written[(HEAVY[0], "loss", "train")])
    seen(tab, "attribution", len(names))
    # The run with a NaN component: a non-finite error naming it.
    tab.select_run(HEAVY[1])
    tab.js.wait_for_function("""c => Array.from(document.querySelectorAll('.detloss-warning'))
        .some(b => b.getAttribute('data-component') === c)""", arg=NANCOMP, timeout=30_000)
    where = tab.js.evaluate("""c => Array.from(document.querySelectorAll('.detloss-warning'))
        .find(b => b.getAttribute('data-component') === c).querySelector('.detloss-warning-where').textContent""", NANCOMP)
    assert where.startswith(shown(NANCOMP) + " · ")
    seen(tab, "warnings panel", 1)
    layout_ok(tab)
    tab.assert_nothing_ran()


def test_compare_every_run(tab, corpus):
    _, written = corpus
    runs = sorted({k[0] for k in written})
    tab.select_run(HEAVY[0])
    tab.js.evaluate("""() => { for (const c of document.querySelectorAll('.detloss-compare-toggle'))
        if (!c.checked) c.click(); }""")
    tab.js.wait_for_function(
        "n => document.querySelectorAll('#detloss-compare-legend .detloss-legend-item').length === n",
        arg=len([r for r in runs if (r, "loss", "train") in written]), timeout=60_000)
    tab.settle()
    legend = tab.js.evaluate("""() => Array.from(document.querySelectorAll('#detloss-compare-legend .detloss-legend-item'),
        e => [e.getAttribute('data-run'), e.textContent])""")
    for run, text in legend:
        assert text == shown(run)
    seen(tab, "compare legend", len(legend))
    opts = tab.js.evaluate("() => Array.from(document.querySelectorAll('#detloss-compare-component option'), o => [o.value, o.textContent])")
    for value, text in opts:
        assert text == shown(value) or (text.endswith("…") and shown(value).startswith(text[:-1]))
    seen(tab, "compare component picker", len(opts))
    # The component every run has ("box" is in most): its tooltip lists the runs.
    tab.js.evaluate("""() => { const s = document.querySelector('#detloss-compare-component'); s.value = 'box';
        s.dispatchEvent(new Event('change')); }""")
    tab.settle()
    labels = tab.hover("compare", 3)
    with_box = {r for (r, n, s), c in written.items() if n == "loss" and s == "train" and "box" in c}
    assert {shown(r) for r in with_box} <= set(labels) <= {shown(r) for r, _ in legend}
    assert len(labels) == len(set(labels))
    seen(tab, "compare tooltip", len(labels))
    hint = tab.js.evaluate("() => document.querySelector('#detloss-compare-hint').textContent")
    assert "box" in hint
    layout_ok(tab)
    tab.assert_nothing_ran()


def test_url_state_round_trip(tab, corpus):
    _, written = corpus
    run = HEAVY[1]
    tab.select_run(run)
    comps = written[(run, "loss", "train")]
    hidden = [c for c in comps if c in ("__proto__", "<svg onload=alert('x7')>", "\u202Eevil")] or comps[:1]
    weighted = [c for c in comps if c in ("constructor", "toString", "hasOwnProperty", "__proto__")]
    weighted += [comps[2]]
    for c in hidden:
        tab.element("#detloss-legend .detloss-legend-item", "data-component", c).click()
        tab.settle()
    for k, c in enumerate(weighted):
        el = tab.element(".detloss-whatif-row", "data-component", c)
        box = el.query_selector(".detloss-whatif-value")
        box.fill(str(3 + k))
        box.dispatch_event("change")
        tab.settle()
    compared = [HEAVY[0], NAME_RUNS[0], NAME_RUNS[5]]
    for r in compared:
        tab.element(".detloss-compare-toggle", "data-run", r).click()
    tab.page.wait_for_timeout(300)
    state = tab.state()
    tab.page.reload()
    tab.open(None)
    tab.js.wait_for_function("r => window.__detloss.state().run === r && document.querySelector('#detloss-whatif-rows').children.length > 0",
                             arg=run, timeout=30_000)
    tab.settle()
    after = tab.state()
    assert after["run"] == run
    assert sorted(after["hidden"]) == sorted(hidden) == sorted(state["hidden"])
    assert after["weights"] == state["weights"] == {c: 3 + k for k, c in enumerate(weighted)}
    assert sorted(after["compare"]) == sorted(state["compare"])
    for c in hidden:
        assert tab.element("#detloss-legend .detloss-legend-item", "data-component", c).get_attribute("aria-pressed") == "false"
    for k, c in enumerate(weighted):
        el = tab.element(".detloss-whatif-row", "data-component", c)
        assert el.query_selector(".detloss-whatif-value").input_value() == str(3 + k)
    assert tab.texts("#detloss-title .detloss-name") == [shown(run)]
    seen(tab, "URL hash round trip", len(hidden) + len(weighted) + len(compared))
    tab.assert_nothing_ran()


def test_error_messages_quoting_names(tab, corpus):
    """A server message quoting a hostile name (here, a 404 naming the run) is shown as text."""
    run = NAME_RUNS[1]
    message = "no detloss data for run %r\u202E <img src=x onerror=top.__xss=1>" % run
    tab.page.route("**/data/plugin/detloss/breakdown?*", lambda route: route.fulfill(
        status=404, content_type="text/plain", body=message.encode("utf-8")))
    try:
        tab.element(".detloss-run", "data-run", run).click()
        tab.js.wait_for_function("() => !document.querySelector('#detloss-error').hidden", timeout=30_000)
        text = tab.js.evaluate("() => document.querySelector('#detloss-error').textContent")
        assert text == "Could not load %s: 404 Not Found: %s" % (shown(run), shown(message))
        seen(tab, "error box", 1)
    finally:
        tab.page.unroute("**/data/plugin/detloss/breakdown?*")
    tab.errors[:] = [e for e in tab.errors if "404" not in e]
    tab.select_run(HEAVY[0])
    tab.assert_nothing_ran()


def _check_svg(svg_bytes, must_contain):
    text = svg_bytes.decode("utf-8")
    root = ET.fromstring(text)  # well-formed XML
    tags = {el.tag.split("}")[-1] for el in root.iter()}
    assert tags <= {"svg", "title", "rect", "text", "g", "defs", "clipPath", "path", "line", "circle"}, tags
    for el in root.iter():
        for k, v in el.attrib.items():
            assert not k.lower().startswith("on"), k
            assert "javascript:" not in v.lower() and "data:" not in v.lower(), (k, v[:80])
    strings = [el.text or "" for el in root.iter() if el.tag.split("}")[-1] in ("text", "title")]
    for s in must_contain:
        # As on screen; the chart's key cuts a name at 200 characters, its title at 400.
        want = shown(s) if len(shown(s)) <= 200 else shown(s)[:199] + "\u2026"
        assert any(want in t or (len(t) == 400 and t.endswith("\u2026") and want.startswith(t[:20]))
                   for t in strings), s[:80]
    return strings


def test_exports_from_the_tab(tab, corpus):
    _, written = corpus
    tab.page.goto("about:blank")
    tab.open("")  # a fresh view: nothing hidden, nothing compared
    for h, run in enumerate(HEAVY):
        tab.select_run(run)
        # CSV / JSON download links (every logged step, from the server).
        for link in tab.frame.locator(".detloss-download").all():
            fmt = link.get_attribute("data-format")
            split = link.get_attribute("data-split")
            name, data = tab.download(link)
            assert re.match(r"^[\w.-]+$", name), name
            key = (run, "loss", split)
            if fmt == "csv":
                _check_csv(data.decode("utf-8"), key, written[key])
            else:
                j = json.loads(data)
                assert (j["run"], j["name"], j["split"]) == key and j["components"] == written[key]
            tab.tb.figures["exports"] += 1
        # SVG of the stack (title: run; key: every component) and of one component chart.
        stack_comps = written[(run, "loss", "train")]
        _, svg = tab.download(tab.frame.locator('.detloss-svg[data-chart="stack"]'))
        _check_svg(svg, [run] + stack_comps)
        c = stack_comps[h]
        el = tab.element(".detloss-svg", "data-chart", "component:" + c)
        _, svg = tab.download(el)
        _check_svg(svg, [run, c])
        tab.tb.figures["exports"] += 2
        if h == 0:  # a PNG holds no text: once is enough
            _, png = tab.download(tab.frame.locator('.detloss-png[data-chart="stack"]'))
            assert png[:8] == b"\x89PNG\r\n\x1a\n"
            tab.tb.figures["exports"] += 1
    # The comparison chart of every run.
    tab.js.evaluate("""() => { for (const c of document.querySelectorAll('.detloss-compare-toggle'))
        if (!c.checked) c.click(); }""")
    tab.js.wait_for_function("() => document.querySelectorAll('#detloss-compare-legend .detloss-legend-item').length > 40",
                             timeout=60_000)
    tab.settle()
    runs = tab.js.evaluate("() => Array.from(document.querySelectorAll('#detloss-compare-legend .detloss-legend-item'), e => e.getAttribute('data-run'))")
    _, svg = tab.download(tab.frame.locator('.detloss-svg[data-chart="compare"]'))
    _check_svg(svg, runs)
    tab.tb.figures["exports"] += 1
    seen(tab, "exports", len(runs))
    tab.assert_nothing_ran()
