"""`detloss import`: Ultralytics' results.csv and MMEngine's scalars.json (TensorBoard logging
off, both frameworks' default) become the scalars those frameworks write when it is on, and
the tab shows the runs.

The CSVs here follow the files Ultralytics 8.4 (`BaseTrainer.save_metrics`: `epoch,time,…`,
`%.6g`) and YOLOv5 (`%20s`-padded names, 0-based epochs) write; the test of the real
Ultralytics training in test_integrations.py imports the CSV of a real run too. One real
TensorBoard per loader serves the imported logdir.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from urllib.parse import urlencode

import numpy as np
import pytest

from conftest import LOADERS
from tb_process import TensorBoard
from test_integrations import EXAMPLES, read_all
from tensorboard_plugin_detloss import cli, log_import

BASE = "/data/plugin/detloss"

V8_HEADER = ("epoch,time,train/box_loss,train/cls_loss,train/dfl_loss,metrics/precision(B),"
             "metrics/recall(B),metrics/mAP50(B),metrics/mAP50-95(B),val/box_loss,val/cls_loss,"
             "val/dfl_loss,lr/pg0,lr/pg1,lr/pg2")
V8_ROWS = [
    "1,35.2,1.2,3.4,1.1,0.1,0.2,0.05,0.02,1.3,3.1,1.2,0.0007,0.0007,0.0007",
    "2,70.1,1.1,2.9,1.05,0.2,0.3,0.1,0.05,1.25,2.8,1.15,0.0013,0.0013,0.0013",
    "3,105.9,1.00018,2.5,1,0.3,0.35,0.2,0.1,1.2,nan,1.1,0.0019,0.0019,0.0019",
]
V5_NAMES = ["epoch", "train/box_loss", "train/obj_loss", "train/cls_loss", "metrics/precision",
            "metrics/recall", "metrics/mAP_0.5", "metrics/mAP_0.5:0.95", "val/box_loss",
            "val/obj_loss", "val/cls_loss", "x/lr0", "x/lr1", "x/lr2"]
V5_ROWS = [[0, 0.10865, 0.073245, 0.045633, 0.0011957, 0.15066, 0.0012339, 0.00027645,
            0.093034, 0.046219, 0.034108, 0.07003, 0.0033298, 0.0033298],
           [1, 0.083722, 0.073815, 0.036981, 0.0030123, 0.28811, 0.004332, 0.00098563,
            0.080587, 0.047007, 0.029453, 0.04003, 0.0066002, 0.0066002]]


def write_v8(path, rows=V8_ROWS, tail=""):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join([V8_HEADER] + rows) + "\n" + tail)


def write_v5(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:  # yolov5 train.py: ('%20s,' * n % keys).rstrip(',') etc.
        f.write(("%20s," * len(V5_NAMES) % tuple(V5_NAMES)).rstrip(",") + "\n")
        for row in V5_ROWS:
            f.write(("%20.5g," * len(row) % tuple(row)).rstrip(",") + "\n")


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    logdir = str(tmp_path_factory.mktemp("csv") / "runs")
    write_v8(os.path.join(logdir, "detect", "train", "results.csv"))
    write_v5(os.path.join(logdir, "yolov5", "exp", "results.csv"))
    assert cli.main(["import", logdir]) == cli.EXIT_CLEAN
    return logdir


@pytest.fixture(scope="module", params=LOADERS)
def server(request, imported):
    tb = TensorBoard(imported, request.param).wait_ready()
    deadline = time.time() + 120
    while True:
        status, _, body = tb.request(BASE + "/runs", timeout=60)
        have = {(r["run"], r["split"]) for r in json.loads(body)} if status == 200 else set()
        if len(have) == 4:
            break
        if time.time() > deadline:
            tb.stop()
            raise AssertionError("runs listed: %s\n%s" % (sorted(have), tb.log_text()[-3000:]))
        time.sleep(0.5)
    yield tb
    tb.stop()


def _get(tb, path):
    status, _, body = tb.request(path, timeout=60)
    assert status == 200, (path, status, body[:500])
    return json.loads(body)


def test_imported_runs_are_listed_under_their_ultralytics_profile(server):
    runs = _get(server, BASE + "/runs")
    got = {(r["run"], r["split"]): (r["source"], r["components"]) for r in runs}
    assert got == {
        ("detect/train", "train"): ("ultralytics_yolov8", ["box_loss", "cls_loss", "dfl_loss"]),
        ("detect/train", "val"): ("ultralytics_yolov8", ["box_loss", "cls_loss", "dfl_loss"]),
        ("yolov5/exp", "train"): ("ultralytics_yolov5", ["box_loss", "obj_loss", "cls_loss"]),
        ("yolov5/exp", "val"): ("ultralytics_yolov5", ["box_loss", "obj_loss", "cls_loss"]),
    }


def test_every_value_comes_back_at_its_epoch(server, imported):
    b = _get(server, BASE + "/breakdown?" + urlencode({"run": "detect/train", "split": "val"}))
    assert b["steps"] == [1, 2, 3]
    assert b["values"]["box_loss"] == pytest.approx([1.3, 1.25, 1.2], rel=1e-7)
    # NaN is data (a diverging loss): kept, as JSON's "NaN" (docs/API.md).
    assert b["values"]["cls_loss"][:2] == pytest.approx([3.1, 2.8], rel=1e-7)
    assert b["values"]["cls_loss"][2] == "NaN"
    train = _get(server, BASE + "/breakdown?" + urlencode({"run": "detect/train",
                                                           "split": "train"}))
    assert train["values"]["box_loss"] == pytest.approx([1.2, 1.1, 1.00018], rel=1e-7)
    # Wall times: the last row at the CSV's modification time, the others `time` apart.
    walls = train["wall_times"]
    mtime = os.stat(os.path.join(imported, "detect", "train", "results.csv")).st_mtime
    assert walls[2] == pytest.approx(mtime, abs=1e-6)
    assert walls[2] - walls[0] == pytest.approx(105.9 - 35.2, abs=1e-3)
    v5 = _get(server, BASE + "/breakdown?" + urlencode({"run": "yolov5/exp", "split": "train"}))
    assert v5["steps"] == [0, 1]  # YOLOv5's epochs are 0-based, as its TensorBoard steps
    assert v5["values"]["obj_loss"] == pytest.approx([0.073245, 0.073815], rel=1e-6)


def test_reimport_is_a_no_op_until_the_csv_grows(tmp_path, capsys):
    csv_path = str(tmp_path / "train" / "results.csv")
    write_v8(csv_path, V8_ROWS[:2])
    assert cli.main(["import", str(tmp_path)]) == cli.EXIT_CLEAN
    first = [f for f in os.listdir(tmp_path / "train") if "tfevents" in f]
    assert cli.main(["import", str(tmp_path)]) == cli.EXIT_CLEAN
    assert "up to date" in capsys.readouterr().out
    assert [f for f in os.listdir(tmp_path / "train") if "tfevents" in f] == first
    # Training goes on: one more epoch, a later modification time.
    write_v8(csv_path, V8_ROWS)
    os.utime(csv_path, (time.time() + 5, time.time() + 5))
    assert cli.main(["import", csv_path]) == cli.EXIT_CLEAN
    # Named as a file, the run's directory is what to open.
    assert "open it: tensorboard --logdir %s\n" % (tmp_path / "train") in capsys.readouterr().out
    now = [f for f in os.listdir(tmp_path / "train") if "tfevents" in f]
    assert len(now) == 1 and now != first  # the earlier import replaced, never both
    assert not [f for f in os.listdir(tmp_path / "train") if "partial" in f]


def test_bad_files_are_named_and_the_rest_imported(tmp_path, capsys):
    write_v8(str(tmp_path / "good" / "results.csv"), tail="4,140.2,0.9,2.2")  # being written
    bad_cell = V8_ROWS[1].replace("2.9", "n/a")
    write_v8(str(tmp_path / "odd" / "results.csv"), [V8_ROWS[0], bad_cell])
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "results.csv").write_text("name,score\na,1\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "results.csv").write_text("")
    (tmp_path / "huge").mkdir()  # one field over the csv module's 131,072-character limit
    (tmp_path / "huge" / "results.csv").write_text(
        'epoch,train/box_loss\n1,"%s"\n' % ("9" * 200_000))
    (tmp_path / "binary").mkdir()
    (tmp_path / "binary" / "results.csv").write_bytes(b"epoch,\xff\xfe\x00loss\n")
    assert cli.main(["import", str(tmp_path)]) == cli.EXIT_FINDINGS
    out, err = capsys.readouterr()
    assert "good/results.csv: imported: Ultralytics log, 3 step(s)" in out
    assert "line 5 has 4 fields, the header 15: left out" in out
    assert "odd/results.csv: imported: Ultralytics log, 2 step(s)" in out
    assert "line 3: train/cls_loss = 'n/a' is not a number: left out" in out
    assert "other/results.csv: not imported:" in err and "no 'epoch' column" in err
    assert "empty/results.csv: not imported:" in err and "is empty" in err
    assert "binary/results.csv: not imported:" in err and "can't decode" in err
    assert "huge/results.csv: not imported:" in err and "cannot be read as CSV" in err
    # Nothing written for the files that could not be imported.
    assert not [f for f in os.listdir(tmp_path / "other") if "tfevents" in f]
    tags, rows, _ = log_import.read_results_csv(str(tmp_path / "odd" / "results.csv"))
    assert "train/cls_loss" not in rows[1][2] and rows[1][2]["train/box_loss"] == 1.1


def test_every_line_of_a_long_training_is_read_back(tmp_path):
    """MMDetection's 12-epoch schedule on COCO logs every 50 of ~88,000 iterations: ~1,760
    lines, all read back (a multiplexer left at its defaults keeps 500 points per tag)."""
    vis = tmp_path / "20260101_000000" / "vis_data"
    vis.mkdir(parents=True)
    (vis / "scalars.json").write_text("".join(
        json.dumps({"loss": 3 / i, "loss_cls": 1 / i, "loss_bbox": 2 / i, "step": 50 * i}) + "\n"
        for i in range(1, 1761)))
    assert cli.main(["import", str(tmp_path)]) == cli.EXIT_CLEAN
    b = read_all(str(tmp_path))[("20260101_000000/vis_data", "loss", "train")]
    assert b.steps.tolist() == list(range(50, 50 * 1761, 50))
    np.testing.assert_allclose(b.values["loss_bbox"], 2 / np.arange(1, 1761), rtol=1e-6)


def test_wall_times_follow_time_across_a_resume():
    rows = [(1, 30.0, {}), (2, 60.0, {}), (3, 5.0, {}), (4, 40.0, {})]  # resumed after epoch 2
    walls = [wall for _, wall, _ in log_import._place_in_time(rows, 1000.0)]
    assert walls == [1000.0 - 70, 1000.0 - 40, 1000.0 - 35, 1000.0]
    rows[1] = (2, float("nan"), {})
    assert [w for _, w, _ in log_import._place_in_time(rows, 1000.0)] == [1000.0] * 4


def test_check_before_import_says_to_import(tmp_path, capsys):
    write_v8(str(tmp_path / "train" / "results.csv"))
    assert cli.main(["check", str(tmp_path)]) == cli.EXIT_UNUSABLE
    err = capsys.readouterr().err
    assert "1 framework log(s) that are not TensorBoard files" in err
    assert "`detloss import %s`" % tmp_path in err
    assert cli.main(["import", str(tmp_path)]) == cli.EXIT_CLEAN
    # Imported, the run is checked: val cls_loss is NaN at epoch 3 in these rows.
    assert cli.main(["check", str(tmp_path)]) == cli.EXIT_FINDINGS
    out = capsys.readouterr().out
    assert "train (loss; train, val):" in out
    assert "ERROR   non_finite     cls_loss [val] steps 3–3" in out


def test_missing_paths_and_nothing_found_exit_2(tmp_path, capsys):
    assert cli.main(["import", str(tmp_path / "nope")]) == cli.EXIT_UNUSABLE
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["import", str(tmp_path)]) == cli.EXIT_UNUSABLE
    assert "no results.csv or scalars.json under" in capsys.readouterr().err


def test_runs_with_tensorboard_logs_are_left_as_they_are(tmp_path, capsys):
    csv_path = str(tmp_path / "train" / "results.csv")
    write_v8(csv_path)
    foreign = tmp_path / "train" / "events.out.tfevents.1700000000.host.1.0"
    foreign.write_bytes(b"")
    assert cli.main(["import", str(tmp_path)]) == cli.EXIT_CLEAN
    assert "skipped: the directory already has TensorBoard event files" in capsys.readouterr().out
    assert sorted(os.listdir(tmp_path / "train")) == sorted(["results.csv", foreign.name])
    assert cli.main(["import", "--force", str(tmp_path)]) == cli.EXIT_CLEAN
    assert len([f for f in os.listdir(tmp_path / "train") if "tfevents" in f]) == 2


def test_mmengine_scalars_json_reads_like_its_tensorboard_backend(tmp_path):
    """A real MMEngine training (examples/mmengine_tiny.py: MMDetection's loss names) with
    both LocalVisBackend and TensorboardVisBackend: its scalars.json alone, imported, gives
    exactly the breakdown that its TensorBoard file gives."""
    work = tmp_path / "with_tensorboard"
    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, "mmengine_tiny.py"), str(work),
                           "--tensorboard"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [vis_data] = [os.path.join(root) for root, _, files in os.walk(work)
                  if "scalars.json" in files]
    relative = os.path.relpath(vis_data, work)
    json_only = tmp_path / "json_only"
    os.makedirs(json_only / relative)
    shutil.copy(os.path.join(vis_data, "scalars.json"), json_only / relative / "scalars.json")
    assert cli.main(["import", str(json_only)]) == cli.EXIT_CLEAN
    theirs, ours = read_all(str(work)), read_all(str(json_only))
    run = relative.replace(os.sep, "/")
    assert set(theirs) == set(ours) == {(run, "loss", "train")}
    a, b = theirs[(run, "loss", "train")], ours[(run, "loss", "train")]
    assert b.components == a.components == ["loss_rpn_cls", "loss_rpn_bbox", "loss_cls",
                                             "loss_bbox"]
    assert b.steps.tolist() == a.steps.tolist() == list(range(5, 45, 5))  # every 5 iterations
    for c in a.components:
        np.testing.assert_array_equal(b.values[c], a.values[c])
    np.testing.assert_array_equal(b.total, a.total)  # MMDetection's logged `loss`


def test_scalars_json_lines_that_cannot_be_read_are_named(tmp_path, capsys):
    vis = tmp_path / "20260101_000000" / "vis_data"
    vis.mkdir(parents=True)
    (vis / "scalars.json").write_text(
        '{"loss": 2.5, "loss_cls": 1.5, "loss_bbox": 1.0, "lr": 0.01, "step": 50}\n'
        '{"loss": 2.0, "loss_cls": 1.2, "loss_bbox": NaN, "mode": "train", "step": 100}\n'
        '[1, 2]\n'
        '{"loss": 1.9, "step": -3}\n'
        '{"loss": 1.8, "loss_cls": 1.0, "loss_b')  # a line still being written
    assert cli.main(["import", str(tmp_path)]) == cli.EXIT_CLEAN
    out = capsys.readouterr().out
    assert "imported: MMEngine / MMDetection log, 2 step(s), 4 tag(s)" in out
    assert "mode is not a number (line 2)" in out
    assert "line 3 is not a JSON object" in out
    assert "line 4: step -3 is not a whole number >= 0" in out
    assert "line 5 is not JSON (a line still being written?)" in out
    b = read_all(str(tmp_path))[("20260101_000000/vis_data", "loss", "train")]
    assert b.steps.tolist() == [50, 100]
    assert b.values["loss_cls"].tolist() == [1.5, pytest.approx(1.2)]
    assert np.isnan(b.values["loss_bbox"][1])  # NaN is data
    (tmp_path / "empty.json").write_text("")
    os.rename(tmp_path / "empty.json", tmp_path / "scalars.json")
    assert cli.main(["import", str(tmp_path / "scalars.json")]) == cli.EXIT_FINDINGS
    assert "is empty" in capsys.readouterr().err
