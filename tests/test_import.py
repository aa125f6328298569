"""Logs that detector frameworks already write, served as breakdowns (docs/IMPORT.md).

One logdir holds a run per profile, written with the framework's own writer and step pattern
(torch SummaryWriter; tf.summary and the real Keras callback in a subprocess), negative runs
that must not match, odd files, and a detloss_profile.json. One real TensorBoard per loader
serves it; every imported step and value must come back exactly.
"""

import json
import math
import time
from urllib.parse import urlencode

import pytest

import import_logdirs
from conftest import LOADERS
from logdirs import json_equal
from tb_process import TensorBoard

BASE = "/data/plugin/detloss"


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("imports") / "logdir"
    logdir.mkdir()
    exp = import_logdirs.Imported()
    for write in import_logdirs.ALL_TORCH:
        write(str(logdir), exp)
    import_logdirs.write_tf_runs(str(logdir), exp)
    return str(logdir), exp


def _get(tb, path):
    status, content_type, body = tb.request(path, timeout=120)
    assert status == 200, (path, status, body[:2000])
    assert content_type.startswith("application/json")
    return json.loads(body)


def _query(key, **extra):
    return urlencode(dict({"run": key[0], "split": key[1]}, **extra))


@pytest.fixture(scope="module", params=LOADERS)
def server(request, logs):
    logdir, exp = logs
    tb = TensorBoard(logdir, request.param).wait_ready()
    deadline = time.time() + 240
    want = set(exp.series)
    while True:
        status, _, body = tb.request(BASE + "/runs", timeout=120)
        have = {(r["run"], r["split"]) for r in json.loads(body)} if status == 200 else set()
        complete = not (want - have) and all(
            len(_get(tb, BASE + "/breakdown?" + _query(k))["steps"])
            >= len(exp.breakdown(k)["steps"])
            for k in want
        )
        if complete:
            break
        if time.time() > deadline:
            tb.stop()
            raise AssertionError("TensorBoard (load_fast=%s) did not load the imports; missing "
                                 "%s\n%s" % (request.param, sorted(want - have),
                                             tb.log_text()[-3000:]))
        time.sleep(1)
    yield tb, exp
    tb.stop()


def test_every_profile_is_listed_with_its_source(server):
    tb, exp = server
    runs = _get(tb, BASE + "/runs")
    got = {(r["run"], r["split"]): r for r in runs if r["source"] != "detloss"}
    assert set(got) == set(exp.series)
    for key, item in got.items():
        want = exp.series[key]
        assert item["name"] == "loss"
        assert item["source"] == want["source"], key
        assert item["components"] == want["components"], key
        assert item["notes"] and all(isinstance(n, str) for n in item["notes"])
    assert runs == sorted(runs, key=lambda r: (r["run"], r["name"], r["split"]))


@pytest.mark.parametrize("key", sorted(import_logdirs.expected_keys()), ids=str)
def test_breakdown_round_trips_exactly(server, key):
    tb, exp = server
    body = _get(tb, BASE + "/breakdown?" + _query(key))
    want = exp.breakdown(key)
    assert body["num_steps"] == len(want["steps"])
    assert len(body["wall_times"]) == len(body["steps"])
    for field in want:
        assert json_equal(body[field], want[field]), (key, field, body[field], want[field])


def test_multirun_mixes_imported_and_native_runs(server):
    tb, exp = server
    runs = ["yolov5_exp", "detect/train", "tfod_ssd", "native_wins"]
    status, _, body = tb.request(BASE + "/breakdown_multirun",
                                 data=[("runs", r) for r in runs] + [("split", "train")])
    assert status == 200, body
    body = json.loads(body)
    assert set(body) == set(runs)
    for run in runs[:3]:
        want = exp.breakdown((run, "train"))
        assert body[run]["steps"] == want["steps"]
        assert json_equal(body[run]["values"], want["values"])
    assert body["native_wins"]["components"] == ["box", "cls"]


def test_native_data_wins_over_an_import_of_the_same_run(server):
    tb, _ = server
    items = [r for r in _get(tb, BASE + "/runs") if r["run"] == "native_wins"]
    assert [(r["split"], r["source"], r["components"]) for r in items] == [
        ("train", "detloss", ["box", "cls"])]


def test_no_false_matches(server):
    tb, exp = server
    listed = {r["run"] for r in _get(tb, BASE + "/runs")}
    assert not listed & set(exp.negative_runs)


def test_sibling_directories_form_one_run(server):
    tb, _ = server
    runs = _get(tb, BASE + "/runs")
    splits = {}
    for r in runs:
        splits.setdefault(r["run"], []).append(r["split"])
    assert splits["tfod_frcnn"] == ["train", "val"]  # tfod_frcnn/train + tfod_frcnn/eval
    assert splits["keras_det"] == ["train", "val"]  # keras_det/train + keras_det/validation
    assert "detect/train" in splits  # an Ultralytics run named "train" keeps its name
    note = [r for r in runs if r["run"] == "keras_det" and r["split"] == "val"][0]["notes"]
    assert any("keras_det/validation" in n for n in note)


def test_notes_say_how_the_logs_were_read(server):
    tb, _ = server
    runs = {(r["run"], r["split"]): r for r in _get(tb, BASE + "/runs")}
    assert any("last value" in n for n in runs[("detect/train", "train")]["notes"])
    assert any("median" in n for n in runs[("d2_faster_rcnn", "train")]["notes"])
    assert any("unweighted" in n for n in runs[("keras_det", "train")]["notes"])
    assert any("divided by the gains" in n for n in runs[("raw_yolo8", "train")]["notes"])


def test_metrics_are_context_not_components(server):
    tb, _ = server
    runs = {(r["run"], r["split"]): r for r in _get(tb, BASE + "/runs")}
    yolo = runs[("detect/train", "val")]
    assert "metrics/mAP50(B)" in yolo["metrics"] and "lr/pg0" in yolo["metrics"]
    assert not any("mAP" in c or "lr" in c for c in yolo["components"])
    mmdet = runs[("mmdet2_cascade", "val")]
    assert "val/bbox_mAP_s" in mmdet["metrics"]
    assert "train/s0.acc" in runs[("mmdet2_cascade", "train")]["metrics"]
    tfod = runs[("tfod_ssd", "val")]
    assert "DetectionBoxes_Precision/mAP (small)" in tfod["metrics"]
    assert runs[("custom_detr", "train")]["metrics"] == ["AP"]


def test_repeated_terms_are_grouped_under_their_base(server):
    tb, _ = server
    runs = {(r["run"], r["split"]): r for r in _get(tb, BASE + "/runs")}
    groups = runs[("rtdetrv2_r18", "train")]["groups"]
    assert groups["loss_vfl"] == ["loss_vfl", "loss_vfl_aux_0", "loss_vfl_aux_1",
                                  "loss_vfl_dn_0", "loss_vfl_dn_1", "loss_vfl_enc_0"]
    cascade = runs[("mmdet2_cascade", "train")]["groups"]
    assert cascade == {"loss_bbox": ["s0.loss_bbox", "s1.loss_bbox"],
                       "loss_cls": ["s0.loss_cls", "s1.loss_cls"]}
    assert "groups" not in runs[("yolov5_exp", "train")]


def test_logged_total_is_kept_when_it_is_not_the_sum(server):
    tb, exp = server
    body = _get(tb, BASE + "/breakdown?run=d2_faster_rcnn&split=train")
    i = body["steps"].index(19)
    summed = sum(body["values"][c][i] for c in body["components"])
    assert body["total"][i] == exp.series[("d2_faster_rcnn", "train")]["totals"][19]
    assert not math.isclose(body["total"][i], summed, abs_tol=1e-6)


def test_restart_keeps_the_later_writes(server):
    tb, exp = server
    body = _get(tb, BASE + "/breakdown?run=d2_faster_rcnn&split=train")
    assert body["steps"] == list(range(19, 200, 20))
    first = import_logdirs.f32(0.3 * 100.0 / (59 + 100.0))
    assert body["values"]["loss_rpn_cls"][2] == import_logdirs.f32(
        0.3 * 100.0 / (59 + 100.0) + 0.001) != first


def test_plugin_is_enabled_by_imported_data(server):
    tb, _ = server
    listing = _get(tb, "/data/plugins_listing")
    assert listing["detloss"]["enabled"] is True


def test_profiles_route_reports_the_override_file(server):
    tb, _ = server
    body = _get(tb, BASE + "/profiles")
    assert body["config_loaded"] is True and body["config_error"] is None
    assert body["config_path"].endswith("detloss_profile.json")
    names = [p["name"] for p in body["profiles"]]
    assert names[:2] == ["my_detector", "yolov8_raw"]
    assert "ultralytics_yolov8" in names and "generic" in names


def test_csv_of_an_imported_run(server):
    tb, exp = server
    status, content_type, body = tb.request(BASE + "/breakdown?run=yolox_s&split=train&format=csv")
    assert status == 200 and content_type.startswith("text/csv")
    header = body.decode().splitlines()[0]
    assert header.startswith("step,wall_time,iou_loss value,iou_loss weight")
    assert header.endswith(",total")
