"""Times the tab in Debian's Chromium on a large logdir (not a test: prints numbers).

    python frontend/bench/bench_tab.py --runs 32 [--components 10] [--steps 5000] [--repeat 3]

Writes RUNS runs × COMPONENTS components × STEPS train steps (val every 250 steps) once under
/tmp, starts TensorBoard (--load_fast=true), opens the tab with every run ticked for comparison,
and reads the Performance API marks the bundle sets (`detloss:render`, `detloss:first-chart`,
`detloss:stack-drawn`, `detloss:components-drawn`, `detloss:compare-drawn`), relative to the
start of the tab's iframe navigation (opening the tab) and to the page navigation. Then times
hover (synthetic mousemoves over the stacked chart; every chart follows the synced cursor) and
zoom (all charts re-scaled at once).
"""

import argparse
import json
import os
import statistics
import sys
import time
import urllib.parse

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import tensorboard_plugin_detloss as detloss  # noqa: E402
from tensorboard_plugin_detloss import event_file, metadata  # noqa: E402
from tb_process import TensorBoard  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def write_logdir(path, runs, components, steps):
    rng = np.random.default_rng(0)
    names = ["c%02d" % i for i in range(components)]
    t = np.arange(steps) / steps
    for r in range(runs):
        curves = {c: (0.2 + rng.random()) * np.exp(-3 * t) * (1 + 0.05 * rng.standard_normal(steps)) + 0.1
                  for c in names}
        weights = {c: float(1 + i % 3) for i, c in enumerate(names)}
        with detloss.summary.FileWriter(os.path.join(path, "run%02d" % r)) as w:
            for s in range(steps):
                detloss.summary.write({c: float(curves[c][s]) for c in names}, step=s,
                                      weights=weights, writer=w, walltime=1.7e9 + s)
                if s % 250 == 249:
                    detloss.summary.write({c: float(curves[c][s]) * 1.1 for c in names},
                                          step=s, split="val", weights=weights, writer=w,
                                          walltime=1.7e9 + s)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=32)
    ap.add_argument("--components", type=int, default=10)
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    # Named by the format too: a logdir an older version wrote is not reused (it would be read
    # without the newer format's help: this happened once, with no overviews).
    logdir = "/tmp/detloss-bench-%d-%d-%d-v%d-%d" % (
        a.runs, a.components, a.steps, metadata.PROTO_VERSION, event_file.BLOCK_ROWS)
    if not os.path.exists(os.path.join(logdir, "done")):
        os.makedirs(logdir, exist_ok=True)
        t = time.time()
        write_logdir(logdir, a.runs, a.components, a.steps)
        open(os.path.join(logdir, "done"), "w").close()
        print("wrote %s in %.0f s" % (logdir, time.time() - t))
    tb = TensorBoard(logdir, load_fast=True).wait_ready()
    runs = ["run%02d" % r for r in range(a.runs)]
    try:
        deadline = time.time() + 600
        while True:
            q = urllib.parse.urlencode({"run": runs[-1], "split": "train", "max_points": 2})
            status, _, body = tb.request("/data/plugin/detloss/breakdown?" + q)
            if status == 200 and json.loads(body)["num_steps"] == a.steps:
                break
            if time.time() > deadline:
                raise SystemExit("TensorBoard did not load the logdir")
            time.sleep(1)
        from playwright.sync_api import sync_playwright

        hash_params = "&run=run00&compare=" + ",".join(runs)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            loads = []
            for i in range(a.repeat + 1):  # the first load warms TensorBoard's caches (reported apart)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(tb.url + "/#detloss" + hash_params)
                frame = page.locator("iframe").first.element_handle(timeout=30_000).content_frame()
                frame.wait_for_function(
                    "() => performance.getEntriesByName('detloss:compare-drawn').length"
                    " && performance.getEntriesByName('detloss:components-drawn').length",
                    timeout=60_000)
                marks = frame.evaluate(
                    """() => Object.fromEntries(performance.getEntriesByType('mark')
                         .filter(m => m.name.startsWith('detloss:'))
                         .map(m => [m.name.slice(8), m.startTime]))""")
                offset = frame.evaluate("() => performance.timeOrigin") - page.evaluate(
                    "() => performance.timeOrigin")
                marks["iframe_start_after_page_start"] = offset
                res = frame.evaluate(
                    """() => performance.getEntriesByType('resource')
                         .filter(e => /runs|breakdown|warnings/.test(e.name))
                         .map(e => [e.name.split('/').pop().slice(0, 40), Math.round(e.startTime), Math.round(e.responseEnd), e.encodedBodySize])""")
                if i == a.repeat:
                    print("  requests (name, start ms, end ms, bytes):", res)
                if i:
                    loads.append(marks)
                else:  # the very first opening of the tab on a fresh TensorBoard
                    print("  first opening (cold, read-ahead racing the tab's requests): "
                          "first chart %.0f ms, stack %.0f ms, compare %.0f ms after the tab opened"
                          % (marks.get("first-chart", float("nan")),
                             marks.get("stack-drawn", float("nan")),
                             marks.get("compare-drawn", float("nan"))))
                if i < a.repeat:
                    page.close()
            print("runs=%d components=%d steps=%d (each run compared, %d series on the compare chart)"
                  % (a.runs, a.components, a.steps, a.runs))
            for key in ("render", "data-loaded", "first-frame", "first-chart", "stack-drawn", "components-drawn", "compare-drawn",
                        "iframe_start_after_page_start"):
                vals = [m[key] for m in loads if key in m]
                print("  %-30s median %7.1f ms  (runs: %s)" % (
                    key + (" (ms after tab opened)" if key != "iframe_start_after_page_start" else ""),
                    statistics.median(vals), ", ".join("%.0f" % v for v in vals)))
            n_charts = frame.evaluate("() => window.__detloss.charts().length")
            hover = frame.evaluate(
                """async () => {
                  const pos0 = window.__detloss.pos('stack', 0);
                  const fig = document.querySelector('[data-chart-id="stack"] .u-over');
                  fig.dispatchEvent(new MouseEvent('mouseenter', {bubbles: false}));
                  const r = fig.getBoundingClientRect();
                  const times = [];
                  for (let i = 0; i < 200; i++) {
                    const x = r.left + 1 + (i * 7) % (r.width - 2);
                    const t = performance.now();
                    fig.dispatchEvent(new MouseEvent('mousemove', {clientX: x, clientY: r.top + r.height / 2, bubbles: true}));
                    await new Promise(res => requestAnimationFrame(() => res()));
                    times.push(performance.now() - t);
                  }
                  times.sort((a, b) => a - b);
                  return {median: times[100], p95: times[190], max: times[199]};
                }""")
            # Time spent in the mousemove handlers (synchronous part), without the frame wait.
            hover_sync = frame.evaluate(
                """() => {
                  const fig = document.querySelector('[data-chart-id="stack"] .u-over');
                  const r = fig.getBoundingClientRect();
                  const times = [];
                  for (let i = 0; i < 200; i++) {
                    const x = r.left + 1 + (i * 7) % (r.width - 2);
                    const t = performance.now();
                    fig.dispatchEvent(new MouseEvent('mousemove', {clientX: x, clientY: r.top + r.height / 2, bubbles: true}));
                    times.push(performance.now() - t);
                  }
                  times.sort((a, b) => a - b);
                  return {median: times[100], p95: times[190], max: times[199]};
                }""")
            zoom = frame.evaluate(
                """async () => {
                  const times = [];
                  for (let i = 0; i < 10; i++) {
                    const t = performance.now();
                    window.__detloss.zoom(i % 2 ? null : [1000 + 100 * i, 3000 + 100 * i]);
                    await new Promise(res => setTimeout(res, 0));
                    times.push(performance.now() - t);
                  }
                  times.sort((a, b) => a - b);
                  return {median: times[5], max: times[9]};
                }""")
            print("  charts on the page: %d" % n_charts)
            print("  hover, handler only: median %.2f ms, p95 %.2f ms, max %.2f ms" % (
                hover_sync["median"], hover_sync["p95"], hover_sync["max"]))
            print("  hover, to next frame: median %.1f ms, p95 %.1f ms, max %.1f ms" % (
                hover["median"], hover["p95"], hover["max"]))
            print("  zoom (every chart re-scaled and redrawn): median %.1f ms, max %.1f ms" % (
                zoom["median"], zoom["max"]))
            browser.close()
    finally:
        tb.stop()


if __name__ == "__main__":
    main()
