"""The limits of issue 9 against a real TensorBoard (both loaders) and the tab in Chromium:
1,000 runs, 200 components, 1,000,000 steps in a run, names of 10,000 characters.

One logdir, written once per module by detloss's FileWriter. The server must answer every
route with bounded memory and say when it downsampled; diagnostics read every step. Times,
bytes and TensorBoard's RSS are measured and printed (`-s`), never asserted: the figures in
docs/RELIABILITY.md come from this module.
"""

import csv
import io
import json
import os
import time
import urllib.parse

import numpy as np
import pytest

import tensorboard_plugin_detloss as detloss
from conftest import LOADERS, tab_window
from tb_process import TensorBoard, rss_kib

BASE = "/data/plugin/detloss"
T0 = 1_767_225_600.0

SMALL_RUNS = 1000
SMALL_STEPS = 20
WIDE_COMPONENTS = 200
WIDE_STEPS = 5000
LONG_STEPS = 1_000_000
LONG_COMPONENTS = ["box", "cls", "dfl", "obj", "l1"]
LONG_WEIGHTS = {"box": 7.5, "cls": 0.5, "dfl": 1.5, "obj": 1.0, "l1": 2.0}
LONG_VAL_EVERY = 1000
NAN_STEP = 777_777  # one NaN in the long run: diagnostics must find it among 1M steps

# 10,000-character names, mostly ASCII (a name goes into URLs; percent-encoded non-ASCII
# triples, and TensorBoard's server refuses request lines over 64 KB).
LONG_NAME = ("loss·<b>&\"'名-" + "n" * 9_990)[:10_000]
LONG_COMPONENT = ("cls·<i>&名-" + "c" * 9_990)[:10_000]
# A run name is a path: one segment is at most 255 bytes and a whole path at most 4,095
# (Linux PATH_MAX), so the longest run name the loaders can open is ~4,000 characters.
DEEP_SEGMENTS = 15
DEEP_RUN = "/".join(("d%02d" % i) + "x" * 246 for i in range(DEEP_SEGMENTS))
UNREADABLE_RUN = "/".join(("u%02d" % i) + "y" * 247 for i in range(40))  # 10,039 chars


def small_run(i):
    return "r%04d" % i


def long_values(step):
    s = np.asarray(step, np.float64)
    return {
        "box": 0.5 + 1.0 / (1.0 + s / 1000.0),
        "cls": 2.0 - s / 1e6,
        "dfl": 0.75 + (s % 7) / 64.0,
        "obj": 0.25 + 0.125 * np.sin(s / 5000.0),
        "l1": np.full_like(s, 0.0625),
    }


def _mkdirs_deep(root, run):
    """Creates the nested directories of `run` under `root` (paths over PATH_MAX via fds)."""
    fd = os.open(root, os.O_RDONLY)
    try:
        for seg in run.split("/"):
            try:
                os.mkdir(seg, dir_fd=fd)
            except FileExistsError:
                pass
            nfd = os.open(seg, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        return fd
    except BaseException:
        os.close(fd)
        raise


def _write_in(fd, write):
    """Runs `write(".")` with the working directory at `fd` (for paths over PATH_MAX)."""
    cwd = os.getcwd()
    os.fchdir(fd)
    try:
        write(".")
    finally:
        os.chdir(cwd)
        os.close(fd)


def write_logdir(logdir):
    t = time.perf_counter()
    for i in range(SMALL_RUNS):
        with detloss.summary.FileWriter(os.path.join(logdir, small_run(i))) as w:
            for step in range(SMALL_STEPS):
                detloss.summary.write({"box": 1.0 / (step + 1 + i), "cls": 0.5 + i / 1e4},
                                      step=step, writer=w, walltime=T0 + step)
                if i % 4 == 0 and step % 10 == 9:
                    detloss.summary.write({"box": 2.0 / (step + 1), "cls": 0.75}, step=step,
                                          split="val", writer=w, walltime=T0 + step)
    names = ["c%03d" % i for i in range(WIDE_COMPONENTS)]
    weights = {c: 1.0 + (i % 3) for i, c in enumerate(names)}
    with detloss.summary.FileWriter(os.path.join(logdir, "wide")) as w:
        for step in range(WIDE_STEPS):
            comps = {c: 1.0 / (1 + step / 100.0) + i / 1000.0 for i, c in enumerate(names)}
            detloss.summary.write(comps, step=step, weights=weights, writer=w, walltime=T0 + step)
            if step % 250 == 249:
                detloss.summary.write({c: v * 1.1 for c, v in comps.items()}, step=step,
                                      split="val", weights=weights, writer=w,
                                      walltime=T0 + step)
    steps = np.arange(LONG_STEPS)
    cols = long_values(steps)
    cols["obj"][NAN_STEP] = np.nan
    rows = np.stack([cols[c] for c in LONG_COMPONENTS], axis=1).tolist()
    totals = sum(LONG_WEIGHTS[c] * cols[c] for c in LONG_COMPONENTS).tolist()
    with detloss.summary.FileWriter(os.path.join(logdir, "long")) as w:
        for step in range(LONG_STEPS):
            detloss.summary.write(dict(zip(LONG_COMPONENTS, rows[step])), step=step,
                                  weights=LONG_WEIGHTS, total=totals[step], writer=w,
                                  walltime=T0 + step * 0.01)
            if step % LONG_VAL_EVERY == LONG_VAL_EVERY - 1:
                detloss.summary.write({c: v * 1.25 for c, v in zip(LONG_COMPONENTS, rows[step])},
                                      step=step, split="val", weights=LONG_WEIGHTS, writer=w,
                                      walltime=T0 + step * 0.01)
    with detloss.summary.FileWriter(os.path.join(logdir, "long_names")) as w:
        for step in range(50):
            detloss.summary.write({LONG_COMPONENT: 1.0 / (step + 1), "box": 0.5}, step=step,
                                  name=LONG_NAME, writer=w, walltime=T0 + step)

    def deep(path):
        with detloss.summary.FileWriter(path) as w:
            for step in range(30):
                detloss.summary.write({LONG_COMPONENT: 0.25 + step / 100.0, "box": 0.5},
                                      step=step, writer=w, walltime=T0 + step)

    _write_in(_mkdirs_deep(logdir, DEEP_RUN), deep)
    _write_in(_mkdirs_deep(logdir, UNREADABLE_RUN), deep)
    return time.perf_counter() - t


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("limits") / "logs"
    d.mkdir()
    seconds = write_logdir(str(d))
    print("\n[limits] wrote the logdir in %.1f s" % seconds)
    return str(d)


def q(**params):
    return urllib.parse.urlencode(params)


class Server:
    def __init__(self, tb):
        self.tb = tb
        self.figures = []

    def timed(self, label, path, data=None, timeout=300):
        t = time.perf_counter()
        status, content_type, body = self.tb.request(path, data=data, timeout=timeout)
        seconds = time.perf_counter() - t
        self.figures.append((label, status, seconds, len(body)))
        print("[limits] load_fast=%s %-44s %d %8.3f s %12s bytes" % (
            self.tb.load_fast, label, status, seconds, format(len(body), ",")))
        return status, content_type, body

    def json(self, label, path, data=None):
        status, content_type, body = self.timed(label, path, data)
        assert status == 200, (label, status, body[:500])
        assert content_type.startswith("application/json"), content_type
        return json.loads(body)

    def rss_mb(self):
        return rss_kib(self.tb.process.pid) / 1024.0


@pytest.fixture(scope="module", params=LOADERS)
def server(request, logdir):
    t = time.perf_counter()
    tb = TensorBoard(logdir, request.param).wait_ready()
    deadline = time.time() + 600
    try:
        while True:
            status, _, body = tb.request(BASE + "/runs", timeout=120)
            items = json.loads(body) if status == 200 else []
            runs = {i["run"] for i in items}
            # Every run and split listed (the multiplexer loads runs in any order, a run's
            # files one after another), and the longest series complete.
            if ({small_run(i) for i in range(SMALL_RUNS)} | {"wide", "long", "long_names",
                                                              DEEP_RUN} <= runs
                    and sum(i["run"] == "wide" for i in items) == 2):
                status, _, body = tb.request(
                    BASE + "/breakdown?" + q(run="long", split="train", max_points=2), timeout=300)
                if status == 200 and json.loads(body)["num_steps"] == LONG_STEPS:
                    break
            if time.time() > deadline:
                raise AssertionError("TensorBoard did not load the logdir:\n" + tb.log_text()[-3000:])
            time.sleep(1)
    except BaseException:
        tb.stop()
        raise
    print("\n[limits] load_fast=%s: TensorBoard loaded everything in %.1f s, RSS %.1f MB" % (
        request.param, time.perf_counter() - t, rss_kib(tb.process.pid) / 1024.0))
    yield Server(tb)
    tb.stop()


def test_runs_lists_every_run(server):
    runs = server.json("runs", BASE + "/runs")
    names = {i["run"] for i in runs}
    assert {small_run(i) for i in range(SMALL_RUNS)} <= names
    assert {"wide", "long", "long_names", DEEP_RUN} <= names
    assert len({(i["run"], i["name"], i["split"]) for i in runs}) == len(runs)
    wide = [i for i in runs if i["run"] == "wide"]
    assert [i["split"] for i in wide] == ["train", "val"]
    assert wide[0]["components"] == ["c%03d" % i for i in range(WIDE_COMPONENTS)]
    print("[limits] runs: %d items, %d runs" % (len(runs), len(names)))


def test_display_path_is_bounded_and_says_it_downsampled(server):
    for run, split, steps in [("long", "train", LONG_STEPS), ("long", "val", LONG_STEPS // 1000),
                              ("wide", "train", WIDE_STEPS), ("wide", "val", WIDE_STEPS // 250)]:
        for max_points in (2000, 4000):
            body = server.json("breakdown %s/%s max_points=%d" % (run, split, max_points),
                               BASE + "/breakdown?" + q(run=run, split=split,
                                                        max_points=max_points))
            assert body["num_steps"] == steps
            assert len(body["steps"]) <= max_points
            assert body["downsampled"] is (steps > max_points)
            if steps > max_points:
                assert len(body["steps"]) < steps
                assert body["steps"][0] == 0 or split == "val"
            for c in body["components"]:
                assert len(body["values"][c]) == len(body["steps"])
    body = server.json("breakdown long/train max_points=2000 (again)",
                       BASE + "/breakdown?" + q(run="long", split="train", max_points=2000))
    # The display keeps extremes: the NaN of `obj` is among the points drawn.
    i = body["steps"].index(NAN_STEP)
    assert body["values"]["obj"][i] == "NaN"


def _get_gzip(server, label, path):
    """(status, compressed bytes, body) of a GET asking for gzip, as a browser does."""
    import gzip
    import urllib.request

    req = urllib.request.Request(server.tb.url + path, headers={"Accept-Encoding": "gzip"})
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=300) as r:
        assert r.headers.get("Content-Encoding") == "gzip"
        raw = r.read()
    seconds = time.perf_counter() - t
    print("[limits] load_fast=%s %-44s %d %8.3f s %12s bytes gzip" % (
        server.tb.load_fast, label, r.status, seconds, format(len(raw), ",")))
    return r.status, raw, gzip.decompress(raw)


def test_full_data_is_streamed_exactly(server):
    """Without max_points every step comes back, streamed in chunks (JSON and CSV)."""
    path = BASE + "/breakdown?" + q(run="long", split="train")
    status, content_type, raw = server.timed("breakdown long/train full JSON", path)
    assert status == 200 and content_type.startswith("application/json")
    body = json.loads(raw)
    del raw
    assert body["num_steps"] == LONG_STEPS and body["downsampled"] is False
    assert body["steps"] == list(range(LONG_STEPS))
    want = long_values(np.arange(LONG_STEPS))
    for c in LONG_COMPONENTS:
        got = body["values"][c]
        assert got[NAN_STEP] == ("NaN" if c == "obj" else float(want[c][NAN_STEP]))
        if c == "obj":
            got[NAN_STEP] = float(want[c][NAN_STEP])
        assert got == want[c].tolist(), c
        assert body["weights"][c] == [LONG_WEIGHTS[c]] * LONG_STEPS
    assert body["total"][NAN_STEP] == "NaN" and len(body["total"]) == LONG_STEPS
    del body
    status, raw, text = _get_gzip(server, "breakdown long/train full JSON", path)
    assert status == 200 and json.loads(text)["steps"][-1] == LONG_STEPS - 1
    del raw, text

    status, content_type, raw = server.timed("breakdown long/train full CSV",
                                             path + "&format=csv")
    assert status == 200 and content_type.startswith("text/csv")
    rows = raw.decode().splitlines()
    assert len(rows) == LONG_STEPS + 1
    assert rows[0].split(",")[:4] == ["step", "wall_time", "box value", "box weight"]
    row = next(csv.reader([rows[NAN_STEP + 1]]))
    assert int(row[0]) == NAN_STEP and row[8] == "nan"
    del rows, raw

    for fmt in ("json", "csv"):
        status, _, raw = server.timed("breakdown wide/train full %s" % fmt.upper(), BASE +
                                      "/breakdown?" + q(run="wide", split="train", format=fmt))
        assert status == 200
        if fmt == "json":
            body = json.loads(raw)
            assert len(body["components"]) == WIDE_COMPONENTS
            assert all(len(body["values"][c]) == WIDE_STEPS for c in body["components"])
        else:
            rows = list(csv.reader(io.StringIO(raw.decode())))
            assert len(rows) == WIDE_STEPS + 1 and len(rows[0]) == 2 + 2 * WIDE_COMPONENTS + 1


def test_diagnostics_read_every_step(server):
    body = server.json("warnings long", BASE + "/warnings?" + q(run="long"))
    found = [w for w in body["warnings"] if w["kind"] == "non_finite"]
    # The NaN of obj at one step of 1,000,000 (and so of the logged total) is found.
    assert sorted((w["component"] or "", w["split"], w["start_step"]) for w in found) == [
        ("", "train", NAN_STEP), ("obj", "train", NAN_STEP)], body["warnings"]
    body = server.json("warnings long (cached findings)", BASE + "/warnings?" + q(run="long"))
    body = server.json("warnings wide", BASE + "/warnings?" + q(run="wide"))
    body = server.json("attribution long 0..999,999", BASE + "/attribution?" + q(
        run="long", split="train", **{"from": 0, "to": LONG_STEPS - 1}))
    assert body["from_step"] == 0 and body["to_step"] == LONG_STEPS - 1
    assert {p["component"] for p in body["parts"]} == set(LONG_COMPONENTS)


def test_multirun_of_every_run(server):
    runs = sorted({i["run"] for i in server.json("runs", BASE + "/runs")})
    assert len(runs) == SMALL_RUNS + 4
    form = [("runs", r) for r in runs] + [("split", "train")]
    body = server.json("breakdown_multirun %d runs max_points=2000" % len(runs),
                       BASE + "/breakdown_multirun", data=form + [("max_points", "2000")])
    # Without name, each run's default loss (long_names: its only one, of 10,000 characters).
    assert set(body) == set(runs) and body["long_names"]["name"] == LONG_NAME
    assert all(len(b["steps"]) <= 2000 for b in body.values())
    assert body["long"]["downsampled"] is True and body["long"]["num_steps"] == LONG_STEPS
    assert body[small_run(7)]["downsampled"] is False
    assert body[small_run(7)]["steps"] == list(range(SMALL_STEPS))
    del body
    body = server.json("breakdown_multirun %d runs val" % len(runs),
                       BASE + "/breakdown_multirun",
                       data=[("runs", r) for r in runs] + [("split", "val"), ("max_points", "2000")])
    assert len(body) == SMALL_RUNS // 4 + 2
    del body
    status, _, raw = server.timed("breakdown_multirun %d runs full" % len(runs),
                                  BASE + "/breakdown_multirun", data=form)
    assert status == 200
    body = json.loads(raw)
    del raw
    assert body["long"]["steps"] == list(range(LONG_STEPS))
    assert body[DEEP_RUN]["components"] == [LONG_COMPONENT, "box"]


def test_long_names_round_trip_through_every_route(server):
    runs = server.json("runs", BASE + "/runs")
    [item] = [i for i in runs if i["run"] == "long_names"]
    assert item["name"] == LONG_NAME and item["components"] == [LONG_COMPONENT, "box"]
    [deep] = [i for i in runs if i["run"] == DEEP_RUN]
    assert len(DEEP_RUN) == len(deep["run"]) >= 3_700
    params = dict(run="long_names", split="train", name=LONG_NAME)
    print("[limits] URL of a breakdown of the 10,000-character loss name: %d bytes"
          % len(BASE + "/breakdown?" + q(**params)))
    for label, run, name in [("long_names", "long_names", LONG_NAME),
                             ("deep run", DEEP_RUN, "loss")]:
        body = server.json("breakdown %s" % label,
                           BASE + "/breakdown?" + q(run=run, split="train", name=name))
        assert (body["run"], body["name"]) == (run, name)
        assert body["components"] == [LONG_COMPONENT, "box"]
        status, _, raw = server.timed("breakdown %s CSV" % label, BASE + "/breakdown?" + q(
            run=run, split="train", name=name, format="csv"))
        assert status == 200
        header = next(csv.reader(io.StringIO(raw.decode())))
        assert header[2] == LONG_COMPONENT + " value"
        body = server.json("warnings %s" % label, BASE + "/warnings?" + q(run=run, name=name))
        assert (body["run"], body["name"]) == (run, name)
        body = server.json("attribution %s" % label, BASE + "/attribution?" + q(
            run=run, split="train", name=name, **{"from": 0, "to": 20}))
        assert (body["run"], body["name"]) == (run, name)
        assert LONG_COMPONENT in {p["component"] for p in body["parts"]}
        body = server.json("breakdown_multirun %s" % label, BASE + "/breakdown_multirun",
                           data=[("runs", run), ("split", "train"), ("name", name)])
        assert list(body) == [run] and body[run]["name"] == name
    # Unknown long names are 404s naming them, never 5xx.
    status, _, raw = server.timed("breakdown unknown 10,000-char loss", BASE + "/breakdown?" + q(
        run="long_names", split="train", name=LONG_NAME[:-1] + "?"))
    assert status == 404 and "has no loss named" in raw.decode()
    # A name whose percent-encoding passes 64 KB (10,000 CJK characters: 90 KB) cannot be put
    # in a URL: TensorBoard's HTTP server answers 414 before the plugin (docs/RELIABILITY.md).
    status, _, raw = server.timed("breakdown 10,000 CJK chars (90 KB URL)", BASE + "/breakdown?"
                                  + q(run="long_names", split="train", name="名" * 10_000))
    assert status == 414
    status, _, raw = server.timed("breakdown 10,039-char run (over PATH_MAX)",
                                  BASE + "/breakdown?" + q(run=UNREADABLE_RUN, split="train"))
    assert status == 404 and UNREADABLE_RUN in raw.decode()


# RSS may grow by at most this from the first half of a group of repeated requests to the
# second: a server that kept (or built in memory) each full answer, 120-160 MB, would fail it
# at once. The halves (not the start) are compared: the first requests grow the allocator's
# arenas (one per server thread) by up to 400 MB, measured, which later requests reuse.
RSS_GROWTH_LIMIT_MB = 100


def test_memory_is_bounded_over_repeated_requests(server):
    runs = sorted({i["run"] for i in server.json("runs", BASE + "/runs")})
    display = [
        ("breakdown long/train max_points=2000",
         BASE + "/breakdown?" + q(run="long", split="train", max_points=2000), None),
        ("breakdown wide/train max_points=2000",
         BASE + "/breakdown?" + q(run="wide", split="train", max_points=2000), None),
        ("warnings long", BASE + "/warnings?" + q(run="long"), None),
        ("attribution long", BASE + "/attribution?" + q(
            run="long", split="train", **{"from": 0, "to": 500_000}), None),
    ]
    multirun = ("breakdown_multirun %d runs max_points=2000" % len(runs),
                BASE + "/breakdown_multirun",
                [("runs", r) for r in runs] + [("split", "train"), ("max_points", "2000")])
    full = [
        ("breakdown long/train full JSON", BASE + "/breakdown?" + q(run="long", split="train"),
         None),
        ("breakdown long/train full CSV", BASE + "/breakdown?" + q(
            run="long", split="train", format="csv"), None),
    ]

    def round_of(requests, repeats):
        t = time.perf_counter()
        sent = 0
        for _ in range(repeats):
            for label, path, data in requests:
                status, _, body = server.tb.request(path, data=data, timeout=300)
                assert status == 200, (label, body[:300])
                sent += len(body)
        return time.perf_counter() - t, sent

    for label, path, data in display + [multirun] + full:  # warm-up: one of each
        server.timed(label + " (warm-up)", path, data)
    start = server.rss_mb()
    growth = []
    for name, requests, repeats in [("display + diagnostics", display, 50),
                                    ("multirun of every run", [multirun], 20),
                                    ("full data (JSON + CSV of 1M steps)", full, 2)]:
        rss = [server.rss_mb()]
        for half in (1, 2):
            seconds, sent = round_of(requests, repeats // 2)
            rss.append(server.rss_mb())
            print("[limits] load_fast=%s %-36s %4d requests %6.1f s %14s bytes  RSS %.1f -> "
                  "%.1f MB (%+.1f)" % (server.tb.load_fast, "%s, half %d" % (name, half),
                                       repeats // 2 * len(requests), seconds, format(sent, ","),
                                       rss[-2], rss[-1], rss[-1] - rss[-2]))
        growth.append((name, rss[2] - rss[1]))
    print("[limits] load_fast=%s RSS after warm-up -> after all repeats: %.1f -> %.1f MB" % (
        server.tb.load_fast, start, server.rss_mb()))
    assert all(g < RSS_GROWTH_LIMIT_MB for _, g in growth), growth


# -- the tab in Chromium ------------------------------------------------------------------------

_CLICK_AND_WAIT = """async ([run, selector, count, text]) => {
  const t0 = performance.now();
  const button = Array.from(document.querySelectorAll('.detloss-run'))
    .find(b => b.getAttribute('data-run') === run);
  button.click();
  const done = () => document.querySelector('#detloss-title')?.textContent === run &&
    document.querySelectorAll(selector).length >= count &&
    (!text || (document.querySelector('#detloss-stack-caption')?.textContent ?? '').includes(text));
  while (!done()) {
    if (performance.now() - t0 > 120000) throw new Error('not drawn: ' + run);
    await new Promise(r => requestAnimationFrame(r));
  }
  const drawn = performance.now() - t0;
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  return {drawn, settled: performance.now() - t0};
}"""

_LAYOUT = """() => {
  const box = s => { const all = Array.from(document.querySelectorAll(s)).filter(e => e.offsetParent);
                     if (!all.length) return null;
                     const rs = all.map(e => e.getBoundingClientRect());
                     return {n: all.length, w: Math.max(...rs.map(r => r.width)),
                             h: Math.max(...rs.map(r => r.height))}; };
  const el = document.scrollingElement || document.documentElement;
  return {pageWidth: el.scrollWidth, viewWidth: el.clientWidth,
          title: box('#detloss-title'), subtitle: box('#detloss-subtitle'),
          runName: box('.detloss-run-name'), componentName: box('.detloss-component-name'),
          legendItem: box('.detloss-legend-item'), whatIfName: box('.detloss-whatif-name'),
          select: box('select.detloss-input'),
          rightmost: Math.max(...Array.from(document.querySelectorAll('.detloss *'))
                              .filter(e => e.offsetParent)
                              .map(e => e.getBoundingClientRect().right)),
          widest: Array.from(document.querySelectorAll('.detloss *')).filter(e => e.offsetParent)
                  .filter(e => e.getBoundingClientRect().right > el.clientWidth + 1).slice(0, 3)
                  .map(e => e.tagName + '.' + e.className + ' in ' + e.parentElement.className)};
}"""


def _tab(browser, tb):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("dialog", lambda d: (errors.append("dialog: " + d.message), d.dismiss()))
    return page, errors


def test_tab_at_the_limits(browser, server):
    tb, lf = server.tb, server.tb.load_fast
    page, errors = _tab(browser, tb)
    try:
        t = time.perf_counter()
        page.goto(tb.url + "/#detloss")
        page.wait_for_selector("iframe", timeout=60_000)
        frame = page.frame_locator("iframe").first
        frame.locator("#detloss-run-count", has_text="%d runs" % (SMALL_RUNS + 4)).wait_for(
            timeout=60_000)
        frame.locator("#detloss-stack canvas").first.wait_for(timeout=60_000)
        opened = time.perf_counter() - t
        js = tab_window(page)
        assert frame.locator(".detloss-run").count() == SMALL_RUNS + 4
        marks = js.evaluate("() => Object.fromEntries(performance.getEntriesByType('mark')"
                            ".map(m => [m.name, Math.round(m.startTime)]))")
        print("\n[limits] load_fast=%s tab: %d runs listed and the first run drawn in %.2f s "
              "(marks, ms from the iframe's start: %s)" % (lf, SMALL_RUNS + 4, opened, marks))

        # The filter: typed into, the list narrows at once.
        took = js.evaluate("""() => { const i = document.querySelector('#detloss-filter');
            const t0 = performance.now(); i.value = 'r09';
            i.dispatchEvent(new Event('input', {bubbles: true}));
            return performance.now() - t0; }""")
        assert frame.locator("#detloss-run-count").inner_text() == "100 of %d runs" % (
            SMALL_RUNS + 4)
        assert frame.locator(".detloss-run-item:not([hidden])").count() == 100
        took_clear = js.evaluate("""() => { const i = document.querySelector('#detloss-filter');
            const t0 = performance.now(); i.value = '';
            i.dispatchEvent(new Event('input', {bubbles: true}));
            return performance.now() - t0; }""")
        print("[limits] load_fast=%s tab: filter of %d runs %.1f ms, cleared %.1f ms" % (
            lf, SMALL_RUNS + 4, took, took_clear))

        # The 1M-step run: downsampled, and the caption says how many steps of how many.
        times = js.evaluate(_CLICK_AND_WAIT, ["long", "#detloss-stack canvas", 1,
                                              "1,000,000 steps"])
        caption = frame.locator("#detloss-stack-caption").inner_text()
        # "(train, 1,000,000 steps, 477 drawn)"
        assert caption.startswith("(train, 1,000,000 steps, ") and " drawn" in caption, caption
        shown = int(caption.split(", ")[2].split(" drawn")[0].replace(",", ""))
        assert 2 <= shown <= 4000, caption
        print("[limits] load_fast=%s tab: long (1,000,000 steps) drawn in %.0f ms, settled %.0f "
              "ms; caption %r" % (lf, times["drawn"], times["settled"], caption))

        # 200 components: every small multiple is there; count what was drawn.
        times = js.evaluate(_CLICK_AND_WAIT, ["wide", ".detloss-component-chart", WIDE_COMPONENTS,
                                              "5,000 steps"])
        cells = frame.locator(".detloss-component-chart")
        assert cells.count() == WIDE_COMPONENTS
        canvases = frame.locator(".detloss-component-chart canvas").count()
        print("[limits] load_fast=%s tab: wide (200 components x 5,000 steps) drawn in %.0f ms, "
              "settled %.0f ms; %d component canvases on the page" % (
                  lf, times["drawn"], times["settled"], canvases))
        cells.nth(WIDE_COMPONENTS - 1).scroll_into_view_if_needed()
        frame.locator('.detloss-component-chart[data-component="c199"] canvas').first.wait_for(
            timeout=30_000)

        # 10,000-character names: the layout holds (no horizontal scrolling, short headings).
        for run in ("long_names", DEEP_RUN):
            js.evaluate(_CLICK_AND_WAIT, [run, ".detloss-component-chart canvas", 1, ""])
            # The warnings (which name the component) arrive after the charts.
            frame.locator("#detloss-warnings-caption", has_text="(").wait_for(timeout=60_000)
            js.evaluate("() => new Promise(r => requestAnimationFrame(() => "
                        "requestAnimationFrame(r)))")
            layout = js.evaluate(_LAYOUT)
            print("[limits] load_fast=%s tab: layout with %s: %s" % (
                lf, run[:12] + "…", json.dumps(layout)))
            assert layout["pageWidth"] <= layout["viewWidth"] + 1, layout
            assert layout["rightmost"] <= layout["viewWidth"] + 1, layout
            for part in ("title", "subtitle", "runName", "componentName", "legendItem",
                         "whatIfName"):
                # names.ts cuts a name to three lines (≈ 73 px here), the full name in title.
                assert layout[part] is not None and layout[part]["h"] <= 80, (part, layout)
            assert frame.locator("#detloss-title .detloss-name").get_attribute("title") == run
        page.screenshot(path=os.path.join(_artifacts(), "limits-long-names-%s.png" % (
            "fast" if lf else "mux")))
        assert errors == []
    finally:
        page.close()


def _artifacts():
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "test-artifacts")
    os.makedirs(path, exist_ok=True)
    return path
