"""Regenerates docs/screenshot.png: the tab on the demo logdir, in Debian's Chromium.

    python scripts/screenshot.py [RUN]      (default run: faster_rcnn_overfit)
"""

import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "tests"), os.path.join(ROOT, "examples")]

from demo_logdir import write_demo  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from tb_process import TensorBoard  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main():
    run = sys.argv[1] if len(sys.argv) > 1 else "faster_rcnn_overfit"
    with tempfile.TemporaryDirectory() as tmp:
        logdir = os.path.join(tmp, "demo_logs")
        write_demo(logdir)
        tb = TensorBoard(logdir, load_fast=True).wait_ready()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1050})
                page.goto(tb.url + "/#detloss")
                frame = page.frame_locator("iframe").first
                frame.locator(".detloss-run").filter(has_text=run).first.click()
                frame.locator(".detloss-component-chart canvas").first.wait_for()
                page.wait_for_timeout(800)
                out = os.path.join(ROOT, "docs", "screenshot.png")
                page.screenshot(path=out)
                browser.close()
                print("wrote", out)
        finally:
            tb.stop()


if __name__ == "__main__":
    main()
