"""The HTTP API against a real `tensorboard` process, under both loaders.

Event files come from the real writers (torch, tensorboardX, detloss FileWriter, TF eager and
tf.function); every logged step, value, weight and total must come back exactly.
"""

import csv
import io
import json
import math
from urllib.parse import urlencode

import pytest

from conftest import LOADERS, start_tensorboard
from logdirs import XSS_RUN, json_equal
from tensorboard_plugin_detloss import wire

BASE = "/data/plugin/detloss"


@pytest.fixture(scope="module", params=LOADERS)
def server(request, written):
    logdir, expected = written
    tb = start_tensorboard(logdir, request.param, expected)
    yield tb, expected
    tb.stop()


def get_json(tb, path):
    status, content_type, body = tb.request(path)
    assert status == 200, (path, status, body)
    assert content_type.startswith("application/json")
    return json.loads(body)


def test_tab_is_listed_and_enabled_by_data(server):
    tb, _ = server
    listing = get_json(tb, "/data/plugins_listing")
    assert listing["detloss"]["tab_name"] == "Loss Breakdown"
    assert listing["detloss"]["enabled"] is True
    assert listing["detloss"]["loading_mechanism"] == {
        "type": "IFRAME", "module_path": "/data/plugin/detloss/index.js"
    }


def test_runs_lists_every_series(server):
    tb, expected = server
    runs = get_json(tb, BASE + "/runs")
    got = {(r["run"], r["name"], r["split"]): r for r in runs}
    assert set(got) == set(expected.points)
    for key, item in got.items():
        assert item["source"] == "detloss"
        assert item["components"] == expected.breakdown(key)["components"], key
    assert runs == sorted(runs, key=lambda r: (r["run"], r["name"], r["split"]))


@pytest.mark.parametrize(
    "run",
    ["torch_writer", "tbx_writer", "file_writer", "tf_eager", "tf_function", XSS_RUN, "big"],
)
def test_breakdown_round_trips_exactly(server, run):
    tb, expected = server
    keys = [k for k in expected.points if k[0] == run]
    assert keys
    for key in keys:
        body = get_json(tb, BASE + "/breakdown?" + urlencode(
            {"run": key[0], "split": key[2], "name": key[1]}))
        want = expected.breakdown(key)
        assert len(body["wall_times"]) == len(body["steps"])
        assert body["num_steps"] == len(want["steps"])
        body = {k: v for k, v in body.items() if k not in ("wall_times", "num_steps", "downsampled")}
        assert body.keys() == want.keys()
        for field in want:
            assert json_equal(body[field], want[field]), (key, field)


def test_schedule_and_component_added_mid_run(server):
    tb, _ = server
    body = get_json(tb, BASE + "/breakdown?run=torch_writer&split=train")
    assert body["components"] == ["box", "cls", "dfl", "l1"]
    assert body["values"]["l1"][:40] == [None] * 40
    assert body["values"]["l1"][40:] == [0.125] * 20
    assert body["weights"]["cls"][:3] == [0.5, 0.51, 0.52]
    val = get_json(tb, BASE + "/breakdown?run=torch_writer&split=val")
    assert val["steps"] == [9, 19, 29, 39, 49, 59]
    assert val["total"] is None


def test_big_series_keeps_every_step(server):
    tb, _ = server
    body = get_json(tb, BASE + "/breakdown?run=big&split=train")
    assert body["steps"] == list(range(100_000))


def test_name_defaults_to_loss(server):
    tb, _ = server
    body = get_json(tb, BASE + "/breakdown?run=file_writer&split=train")
    assert body["name"] == "loss"
    aux = get_json(tb, BASE + "/breakdown?run=file_writer&split=train&name=aux_loss")
    assert aux["components"] == ["aux_cls"]
    assert aux["weights"]["aux_cls"] == [0.5] * 20


def test_csv_has_the_same_numbers(server):
    tb, expected = server
    status, content_type, body = tb.request(BASE + "/breakdown?run=tf_function&split=train&format=csv")
    assert status == 200 and content_type.startswith("text/csv")
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert rows[0] == ["step", "wall_time", "box value", "box weight", "cls value",
                       "cls weight", "total"]
    want = expected.breakdown(("tf_function", "loss", "train"))
    assert [int(r[0]) for r in rows[1:]] == want["steps"]
    assert [float(r[2]) for r in rows[1:]] == want["values"]["box"]
    assert [float(r[6]) for r in rows[1:]] == want["total"]


def test_multirun_one_split_many_runs(server):
    tb, expected = server
    runs = ["torch_writer", "tbx_writer", "tf_eager", "file_writer"]
    status, _, body = tb.request(BASE + "/breakdown_multirun",
                                 data=[("runs", r) for r in runs] + [("split", "val")])
    assert status == 200
    body = json.loads(body)
    # file_writer logs no val split: it is left out, not an error.
    assert set(body) == {"torch_writer", "tbx_writer", "tf_eager"}
    for run, breakdown in body.items():
        want = expected.breakdown((run, "loss", "val"))
        assert breakdown["steps"] == want["steps"]
        assert json_equal(breakdown["values"], want["values"])


@pytest.mark.parametrize(
    "path, status, message",
    [
        ("/breakdown?run=nope&split=train", 404, "no detloss data for run 'nope'"),
        ("/breakdown?run=torch_writer&split=test", 404, "has no split 'test'"),
        ("/breakdown?run=torch_writer&split=train&name=aux", 404, "has no loss named 'aux'"),
        ("/breakdown?run=torch_writer", 400, "missing parameter 'split'"),
        ("/breakdown?split=train", 400, "missing parameter 'run'"),
        ("/breakdown?run=torch_writer&run=x&split=train", 400, "run given 2 times"),
        ("/breakdown?run=torch_writer&split=train&format=xml", 400, "format must be"),
        ("/breakdown?run=%ff%fe&split=train", 404, "no detloss data"),
        ("/breakdown_multirun", 405, "POST"),
        ("/static/..%2fplugin.py", 404, "no static file"),
        ("/nothing_here", 404, ""),
    ],
)
def test_bad_requests_get_4xx_naming_the_problem(server, path, status, message):
    tb, _ = server
    got_status, content_type, body = tb.request(BASE + path)
    assert got_status == status, body
    assert message in body.decode("utf-8", "replace")


def test_bad_multirun_requests(server):
    tb, _ = server
    cases = [
        ([("split", "train")], 400, "missing form field 'runs'"),
        ([("runs", "torch_writer")], 400, "missing parameter 'split'"),
        ([("runs", "torch_writer"), ("runs", "ghost"), ("split", "train")], 404, "'ghost'"),
    ]
    for data, status, message in cases:
        got_status, _, body = tb.request(BASE + "/breakdown_multirun", data=data)
        assert got_status == status, body
        assert message in body.decode()


def test_frontend_bundle_is_served(server):
    tb, _ = server
    status, content_type, body = tb.request(BASE + "/index.js")
    assert status == 200
    assert content_type.startswith("text/javascript")
    assert b"export" in body and b"render" in body


def test_max_points_downsamples_for_display(server):
    tb, _ = server
    body = get_json(tb, BASE + "/breakdown?run=big&split=train&max_points=1000")
    assert len(body["steps"]) <= 1000
    assert body["num_steps"] == 100_000
    assert body["steps"][0] == 0 and body["steps"][-1] == 99_999
    assert max(body["values"]["box"]) == 5.0 and min(body["values"]["box"]) == 0.5
    status, _, message = tb.request(BASE + "/breakdown?run=big&split=train&max_points=x")
    assert status == 400 and b"max_points must be an integer" in message


def _as_json(decoded):
    """A decoded binary breakdown as its JSON answer has it (non-finite numbers as strings)."""
    if isinstance(decoded, float) and not math.isfinite(decoded):
        return {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[repr(decoded)]
    if isinstance(decoded, dict):
        return {k: _as_json(v) for k, v in decoded.items()}
    if isinstance(decoded, list):
        return [_as_json(v) for v in decoded]
    return decoded


def test_binary_display_answers_are_the_json_answers_losslessly(server):
    """The tab's `format=binary` (wire.py) carries exactly the JSON display answer: every
    writer's runs (float32 losses as f4, float64 as f8, constant weights once, absent
    components masked), the hostile names, single and multi-run."""
    tb, expected = server
    runs = sorted({key[0] for key in expected.points})
    for split in ("train", "val"):
        form = [("runs", r) for r in runs] + [("split", split), ("max_points", "700")]
        status, _, text = tb.request(BASE + "/breakdown_multirun", data=form)
        assert status == 200
        status, content_type, data = tb.request(BASE + "/breakdown_multirun",
                                                data=form + [("format", "binary")])
        assert status == 200 and content_type == "application/octet-stream"
        want = json.loads(text)
        got = {b["run"]: _as_json(b) for b in wire.decode(data)}
        assert sorted(got) == sorted(want) and len(got) >= 3
        for run in want:
            assert got[run] == want[run], (run, split)
    key = {"run": "big", "split": "train", "max_points": "1000"}
    single = get_json(tb, BASE + "/breakdown?" + urlencode(key))
    status, _, data = tb.request(BASE + "/breakdown?" + urlencode(dict(key, format="binary")))
    assert status == 200 and [_as_json(b) for b in wire.decode(data)] == [single]
    assert len(data) < len(json.dumps(single)) / 2
    status, _, message = tb.request(BASE + "/breakdown?run=big&split=train&format=binary")
    assert status == 400 and b"give max_points" in message
    status, _, message = tb.request(BASE + "/breakdown_multirun", data=[
        ("runs", "big"), ("split", "train"), ("format", "binary")])
    assert status == 400 and b"give max_points" in message
    status, _, message = tb.request(BASE + "/breakdown_multirun", data=[
        ("runs", "big"), ("split", "train"), ("format", "csv"), ("max_points", "9")])
    assert status == 400 and b"format must be 'json' or 'binary'" in message


def test_warnings_route_reports_non_finite_values(server):
    tb, _ = server
    body = get_json(tb, BASE + "/warnings?run=file_writer")
    assert body["run"] == "file_writer" and body["name"] == "loss"
    [finding] = [w for w in body["warnings"] if w["kind"] == "non_finite"]
    assert finding["severity"] == "error"
    assert (finding["component"], finding["split"]) == ("obj", "train")
    assert (finding["start_step"], finding["end_step"]) == (10, 12)
    assert finding["evidence"]["count"] == 3 and finding["evidence"]["first_value"] == "NaN"
    assert "obj in train became NaN at step 10" in finding["message"]
    assert get_json(tb, BASE + "/warnings?run=file_writer&name=aux_loss")["name"] == "aux_loss"


def test_attribution_route_splits_the_change_exactly(server):
    tb, expected = server
    body = get_json(tb, BASE + "/attribution?run=torch_writer&split=train&from=5&to=50")
    want = expected.breakdown(("torch_writer", "loss", "train"))
    i, j = want["steps"].index(5), want["steps"].index(50)

    def summed(k):
        return sum(want["weights"][c][k] * want["values"][c][k] for c in want["components"]
                   if want["values"][c][k] is not None)

    assert body["from_step"] == 5 and body["to_step"] == 50
    assert abs(body["delta"] - (summed(j) - summed(i))) < 1e-12
    assert abs(sum(p["delta"] for p in body["parts"]) - body["delta"]) < 1e-12
    assert {p["component"] for p in body["parts"]} == {"box", "cls", "dfl", "l1"}
    assert body["logged_delta"] == want["total"][j] - want["total"][i]
    assert body["summary"].startswith("total ")


@pytest.mark.parametrize(
    "path, status, message",
    [
        ("/warnings?run=nope", 404, "no detloss data for run 'nope'"),
        ("/warnings", 400, "missing parameter 'run'"),
        ("/attribution?run=torch_writer&split=train&from=9&to=3", 400, "from must be less than to"),
        ("/attribution?run=torch_writer&split=train&from=a&to=3", 400, "from must be an integer"),
        ("/attribution?run=torch_writer&split=train&from=1000&to=2000", 404, "no two logged steps"),
    ],
)
def test_bad_diagnostics_requests(server, path, status, message):
    tb, _ = server
    got, _, body = tb.request(BASE + path)
    assert got == status and message in body.decode()
