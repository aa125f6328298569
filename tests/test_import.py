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


# -- in process: matching rules, the override file, the flag -----------------------------------

import argparse  # noqa: E402
import os  # noqa: E402

from tensorboard.backend import application  # noqa: E402
from tensorboard.backend.event_processing import data_provider as mux_provider  # noqa: E402
from tensorboard.backend.event_processing import plugin_event_multiplexer as mux  # noqa: E402
from tensorboard.plugins import base_plugin  # noqa: E402
from werkzeug import test as werkzeug_test  # noqa: E402

from tensorboard_plugin_detloss import importers, plugin  # noqa: E402


@pytest.mark.parametrize("run, want", [
    ("exp/train", ("exp", "train")), ("exp/validation", ("exp", "val")),
    ("exp/eval", ("exp", "val")), ("m/eval_coco", ("m", "val_coco")), ("train", (".", "train")),
    ("detect/train2", ("detect/train2", None)), ("trainer", ("trainer", None)),
])
def test_split_directories(run, want):
    assert importers.split_of_dir(run) == want


def _matches(tags_by_run, config=None):
    m = importers.Importer(config).match(tags_by_run)
    return {run: (x.profile.name, {s: x.components(s) for s in x.columns}) for run, x in m.items()}


def test_each_profile_claims_its_own_logs_only():
    logs = {
        "v5": ["train/box_loss", "train/obj_loss", "train/cls_loss", "x/lr0"],
        "v8": ["train/box_loss", "train/cls_loss", "train/dfl_loss", "lr/pg0"],
        "rtdetr_u": ["train/giou_loss", "train/cls_loss", "train/l1_loss"],
        "yolox": ["train/iou_loss", "train/conf_loss", "train/cls_loss", "train/l1_loss",
                  "train/total_loss", "val/COCOAP50"],
        "d2": ["loss_cls", "loss_box_reg", "total_loss", "lr", "fast_rcnn/cls_accuracy"],
        "mm3": ["loss", "loss_cls", "loss_bbox", "acc", "lr", "coco/bbox_mAP"],
        "tfod/train": ["Loss/classification_loss", "Loss/localization_loss",
                       "Loss/total_loss", "learning_rate"],
        "rtdetr": ["Loss/total", "Loss/loss_vfl", "Loss/loss_bbox", "Lr/pg_0"],
        "k/train": ["epoch_loss", "epoch_box_loss", "epoch_cls_loss", "epoch_learning_rate"],
        "tv": ["train/loss_classifier", "train/loss_box_reg", "train/loss"],
        "gen": ["loss_a/train", "loss_b/train", "Loss/train"],
    }
    got = _matches(logs)
    assert {r: p for r, (p, _) in got.items()} == {
        "v5": "ultralytics_yolov5", "v8": "ultralytics_yolov8", "rtdetr_u": "ultralytics_rtdetr",
        "yolox": "yolox", "d2": "detectron2", "mm3": "mmdetection", "tfod": "tf_object_detection",
        "rtdetr": "rtdetr", "k": "keras", "tv": "torchvision", "gen": "generic",
    }
    assert got["mm3"][1] == {"train": ["loss_cls", "loss_bbox"]}  # acc is a metric
    assert got["k"][1] == {"train": ["box_loss", "cls_loss"]}


@pytest.mark.parametrize("tags", [
    ["epoch_loss", "epoch_accuracy", "epoch_learning_rate"],  # Keras classifier
    ["train/loss", "val/loss", "train/acc", "metrics/accuracy_top1"],  # classifiers
    ["metrics/mAP50(B)", "metrics/precision(B)", "lr/pg0", "val/COCOAP50"],  # metrics only
    ["train/box_loss", "lr/pg0"],  # one component is not a breakdown
    ["loss_G", "loss_D"],  # unmarked tags are never guessed at
    ["train/loss_scale", "train/loss", "train/grad_norm"],
    ["total_loss", "lr"],
])
def test_no_false_matches_in_process(tags):
    assert _matches({"run": tags, "run/validation": tags}) == {}


def _write_scalars(path, tags, steps=3):
    from tensorboard.compat.proto import summary_pb2
    from tensorboard_plugin_detloss.event_file import FileWriter

    with FileWriter(path) as w:
        for step in range(steps):
            w.add_summary(summary_pb2.Summary(value=[
                summary_pb2.Summary.Value(tag=t, simple_value=float(step + i))
                for i, t in enumerate(tags)]), step=step, walltime=1.0e9 + step)


def _plugin(logdir, scalars=0, **flags):
    multiplexer = mux.EventMultiplexer(tensor_size_guidance={"detloss": 0, "scalars": scalars})
    multiplexer.AddRunsFromDirectory(logdir)
    multiplexer.Reload()
    context = base_plugin.TBContext(
        logdir=logdir,
        flags=argparse.Namespace(logdir=logdir, samples_per_plugin={"scalars": scalars},
                                 **flags),
        data_provider=mux_provider.MultiplexerDataProvider(multiplexer, logdir),
    )
    return plugin.DetlossLoader().load(context)


def _client(p):
    return werkzeug_test.Client(application.TensorBoardWSGI([p]))


def test_tab_is_enabled_only_by_logs_a_profile_recognises(tmp_path):
    logdir = str(tmp_path)
    _write_scalars(os.path.join(logdir, "clf/train"), ["epoch_loss", "epoch_accuracy"])
    _write_scalars(os.path.join(logdir, "clf/validation"), ["epoch_loss", "epoch_accuracy"])
    assert _plugin(logdir).is_active() is False
    _write_scalars(os.path.join(logdir, "v8"), ["train/box_loss", "train/cls_loss",
                                                "train/dfl_loss"])
    assert _plugin(logdir).is_active() is True


@pytest.mark.parametrize("text, message", [
    ("{", "not valid JSON"),
    ("[]", "top level must be an object"),
    ('{"profile": []}', "unknown key(s) profile"),
    ('{"version": 2}', "version must be 1"),
    ('{"disable": ["yolo"]}', "no built-in profile 'yolo'"),
    ('{"runs": {"a": "mystery"}}', "no profile 'mystery'"),
    ('{"profiles": [{"name": "x"}]}', "profiles[0].components must be an object"),
    ('{"profiles": [{"name": "x", "components": {"a": "t"}, "splits": {"train": "t"}}]}',
     "must contain {} once"),
    ('{"profiles": [{"name": "x", "components": {"a": "t"}, "weights": {"b": 1}}]}',
     "weights names unknown component(s) b"),
    ('{"profiles": [{"name": "x", "components": {"a": "t"}, "weights": {"a": "1"}}]}',
     "weights['a'] must be a number"),
    ('{"profiles": [{"name": "x", "extends": "nope"}]}', "extends: no built-in profile"),
    ('{"profiles": [{"name": "x", "extends": "keras", "components": {"a": "t"}}]}',
     "'extends' takes"),
])
def test_invalid_config_names_the_problem(text, message):
    with pytest.raises(importers.ConfigError) as e:
        importers.parse_config(text)
    assert message in str(e.value)


def test_invalid_config_file_is_reported_and_hides_nothing(tmp_path):
    logdir = str(tmp_path)
    _write_scalars(os.path.join(logdir, "v8"), ["train/box_loss", "train/cls_loss",
                                                "train/dfl_loss"])
    with open(os.path.join(logdir, importers.CONFIG_FILENAME), "w") as f:
        f.write('{"profiles": [{"name": "x", "components": {"a": "t"}, "splits": 3}]}')
    client = _client(_plugin(logdir))
    runs = client.get("/data/plugin/detloss/runs")
    assert runs.status_code == 200
    (item,) = json.loads(runs.get_data())
    assert item["source"] == "ultralytics_yolov8"
    assert any("ignored" in n and "splits must be an object" in n for n in item["notes"])
    profiles = json.loads(client.get("/data/plugin/detloss/profiles").get_data())
    assert profiles["config_loaded"] is False
    assert "splits must be an object" in profiles["config_error"]
    body = client.get("/data/plugin/detloss/breakdown?run=v8&split=train")
    assert body.status_code == 200
    assert json.loads(body.get_data())["values"]["dfl_loss"] == [2.0, 3.0, 4.0]


def test_flag_names_the_config_file(tmp_path):
    parser = argparse.ArgumentParser()
    plugin.DetlossLoader().define_flags(parser)
    assert parser.parse_args([]).detloss_profile == ""
    logdir = str(tmp_path / "logs")
    _write_scalars(os.path.join(logdir, "mine"), ["a", "b", "c"])
    config = tmp_path / "elsewhere.json"
    config.write_text(json.dumps({"profiles": [{"name": "abc", "components": {"x": "a", "y": "b"},
                                                "total": "c"}]}))
    client = _client(_plugin(logdir, detloss_profile=str(config)))
    (item,) = json.loads(client.get("/data/plugin/detloss/runs").get_data())
    assert (item["run"], item["source"], item["components"]) == ("mine", "abc", ["x", "y"])
    body = json.loads(client.get("/data/plugin/detloss/breakdown?run=mine&split=train").get_data())
    assert body["values"] == {"x": [0.0, 1.0, 2.0], "y": [1.0, 2.0, 3.0]}
    assert body["total"] == [2.0, 3.0, 4.0]


def test_a_sampled_import_says_so(tmp_path):
    logdir = str(tmp_path)
    _write_scalars(os.path.join(logdir, "v8"), ["train/box_loss", "train/cls_loss",
                                                "train/dfl_loss"], steps=50)
    client = _client(_plugin(logdir, scalars=10))
    body = json.loads(client.get("/data/plugin/detloss/breakdown?run=v8&split=train").get_data())
    assert len(body["steps"]) == 10
    assert any("kept only 10 points" in n for n in body["notes"])
    client = _client(_plugin(logdir, scalars=0))
    body = json.loads(client.get("/data/plugin/detloss/breakdown?run=v8&split=train").get_data())
    assert len(body["steps"]) == 50 and "notes" not in body


def test_detloss_check_reads_imported_runs(logs):
    from tensorboard_plugin_detloss import cli

    logdir, exp = logs
    report = cli.check(logdir)
    checked = {(r["run"], tuple(r["splits"])) for r in report["runs"]}
    for run in {k[0] for k in exp.series}:
        splits = tuple(sorted(s for r, s in exp.series if r == run))
        assert (run, splits) in checked
    assert not {r["run"] for r in report["runs"]} & set(exp.negative_runs)
