"""Shared fixtures: one logdir written by every real writer, and real TensorBoard processes."""

import json
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import logdirs  # noqa: E402
from tb_process import TensorBoard  # noqa: E402

LOADERS = [pytest.param(False, id="load_fast=false"), pytest.param(True, id="load_fast=true")]

# Debian's Chromium, never a downloaded browser; flags for a root, offline, headless machine.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def tab_window(page):
    """The Loss Breakdown tab's iframe as a Playwright Frame (to evaluate in the tab's window)."""
    return page.locator("iframe").first.element_handle().content_frame()


def settle(page):
    """Waits for the tab's pending redraws (it redraws on the next animation frame)."""
    tab_window(page).evaluate(
        "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium for one test module (Playwright for Python)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is not installed at %s (apt-get install chromium)" % CHROMIUM)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def written(tmp_path_factory):
    """(logdir, Expected): every writer's runs, written once per test session."""
    logdir = tmp_path_factory.mktemp("logs") / "logdir"
    logdir.mkdir()
    expected = logdirs.Expected()
    logdirs.write_torch_run(str(logdir), expected)
    logdirs.write_tensorboardx_run(str(logdir), expected)
    logdirs.write_filewriter_run(str(logdir), expected)
    logdirs.write_xss_run(str(logdir), expected)
    logdirs.write_tf_runs(str(logdir), expected)
    logdirs.write_big_run(str(logdir), expected)
    return str(logdir), expected


def start_tensorboard(logdir, load_fast, expected):
    """A TensorBoard on `logdir` that has loaded every expected point (or a clear failure)."""
    tb = TensorBoard(logdir, load_fast).wait_ready()
    deadline = time.time() + 240
    want = {key: len(points) for key, points in expected.points.items()}
    while True:
        status, _, body = tb.request("/data/plugin/detloss/runs")
        have = {}
        if status == 200:
            for item in json.loads(body):
                have[(item["run"], item["name"], item["split"])] = item
        missing = [k for k in want if k not in have]
        if not missing:
            # The runs are listed; wait until the longest series is complete too.
            longest = max(want, key=want.get)
            status, _, body = tb.request(
                "/data/plugin/detloss/breakdown?" + _query(longest), timeout=120
            )
            if status == 200 and len(json.loads(body)["steps"]) >= want[longest]:
                return tb
        if time.time() > deadline:
            tb.stop()
            raise AssertionError(
                "TensorBoard (load_fast=%s) did not load all data; missing %s\n%s"
                % (load_fast, missing, tb.log_text()[-3000:])
            )
        time.sleep(1)


def _query(key):
    from urllib.parse import urlencode

    return urlencode({"run": key[0], "name": key[1], "split": key[2]})


def in_process(logdir, wrap=None):
    """(multiplexer, data provider, plugin, werkzeug client): the plugin served in-process over
    a multiplexer that has loaded every detloss point of `logdir`; the provider wrapped by
    `wrap` (e.g. to count its calls) when given. `multiplexer.Reload()` picks up new data."""
    from tensorboard.backend import application
    from tensorboard.backend.event_processing import data_provider as mux_provider
    from tensorboard.backend.event_processing import plugin_event_multiplexer as mux
    from tensorboard.plugins import base_plugin
    from werkzeug import test as werkzeug_test

    from tensorboard_plugin_detloss import metadata, plugin

    multiplexer = mux.EventMultiplexer(tensor_size_guidance={metadata.PLUGIN_NAME: 0})
    multiplexer.AddRunsFromDirectory(logdir)
    multiplexer.Reload()
    provider = mux_provider.MultiplexerDataProvider(multiplexer, logdir)
    if wrap is not None:
        provider = wrap(provider)
    loaded = plugin.DetlossLoader().load(base_plugin.TBContext(logdir=logdir,
                                                               data_provider=provider))
    return multiplexer, provider, loaded, werkzeug_test.Client(
        application.TensorBoardWSGI([loaded]))
