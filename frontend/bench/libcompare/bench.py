"""uPlot vs Apache ECharts: draw and hover time in Chromium (see docs/DESIGN.md).

    cp -r frontend/bench/libcompare /tmp/libcompare && cd /tmp/libcompare
    npm install --no-audit --no-fund && node build.mjs && python bench.py
"""
import functools, http.server, os, statistics, threading
HERE = os.path.dirname(os.path.abspath(__file__))
from playwright.sync_api import sync_playwright
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
class Q(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Q, directory=HERE))
threading.Thread(target=srv.serve_forever, daemon=True).start()
url = "http://127.0.0.1:%d/index.html" % srv.server_address[1]
with sync_playwright() as p:
    b = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
    for lib in ("uplot", "echarts"):
        for n in (1100, 5000):
            sync, frame, hov, parse = [], [], [], []
            for rep in range(6):
                page = b.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(url)
                r = page.evaluate("""async ([lib, n]) => {
                    const t = performance.now();
                    const m = await import('./dist/' + lib + '.js');
                    const tImport = performance.now() - t;
                    const host = document.getElementById('host');
                    const {charts, t0} = m.draw(n, host);
                    const tSync = performance.now() - t0;
                    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
                    const tFrame = performance.now() - t0;
                    const h = m.hover(charts);
                    return [tImport, tSync, tFrame, h];
                }""", [lib, n])
                page.close()
                if rep:  # first run warms the HTTP cache
                    parse.append(r[0]); sync.append(r[1]); frame.append(r[2]); hov.append(r[3])
            print("%-8s %5d pts x 10 comps, 11 charts: import %.1f ms | draw (sync) %.1f ms | to 2nd frame %.1f ms | hover handler %.2f ms   (medians of 5)" % (
                lib, n, statistics.median(parse), statistics.median(sync), statistics.median(frame), statistics.median(hov)))
    b.close()
srv.shutdown()
