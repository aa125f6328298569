"""`detloss import`: Ultralytics' `results.csv` as the TensorBoard scalars Ultralytics would
have written.

Ultralytics (YOLOv8 / YOLO11 / RT-DETR) logs to TensorBoard only when its `tensorboard`
setting is on, and it is off by default; every run still writes `results.csv` in its
`save_dir`, one row per epoch, with the same names as its TensorBoard tags (`train/box_loss`,
`val/cls_loss`, `metrics/mAP50(B)`, `lr/pg0`) and the step TensorBoard would get (`epoch`:
`trainer.epoch + 1`). YOLOv5 writes the same file with padded names and 0-based epochs, also
its TensorBoard step. So each row becomes one scalar event per column at step `epoch`, in an
event file beside the CSV, and the importer's Ultralytics profiles do the rest: the tab (and
TensorBoard's Scalars tab) then show the run as if its TensorBoard logging had been on.

The event file is named after the CSV's modification time: importing an unchanged CSV again
writes nothing, and a CSV that grew (a training still running) replaces the previous import.
"""

import csv
import os
import socket

from tensorboard.compat.proto import event_pb2, summary_pb2

from tensorboard_plugin_detloss.event_file import _frame

FILENAME = "results.csv"
SUFFIX = ".detloss-import"
_NOT_LOGGED = {"epoch", "time"}  # columns Ultralytics writes to the CSV but not to TensorBoard


class CsvError(ValueError):
    """A CSV that cannot be imported; the message names the file and the problem."""


class Result:
    """What importing one CSV did: `status` is "imported", "up to date" or "skipped"."""

    def __init__(self, csv_path, status, detail, event_file=None, epochs=0, tags=()):
        self.csv_path = csv_path
        self.status = status
        self.detail = detail
        self.event_file = event_file
        self.epochs = epochs
        self.tags = tuple(tags)


def find(paths):
    """The `results.csv` files named by `paths` (files, or directories searched recursively),
    sorted; a FileNotFoundError names a path that does not exist."""
    found = []
    for path in paths:
        if os.path.isfile(path):
            found.append(path)
        elif os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs.sort()
                if FILENAME in files:
                    found.append(os.path.join(root, FILENAME))
        else:
            raise FileNotFoundError("%s does not exist" % path)
    return sorted(dict.fromkeys(found))


def read(path):
    """(tags, rows, notes) of a results.csv: `rows` [(epoch, seconds or None, {tag: value})]
    in file order, `notes` the lines and cells left out (a line still being written, a cell
    that is not a number). A CsvError if the file is not a results.csv."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        lines = list(csv.reader(f))
    if not lines or not any(cell.strip() for cell in lines[0]):
        raise CsvError("%s is empty" % path)
    header = [cell.strip() for cell in lines[0]]
    if "epoch" not in header:
        raise CsvError("%s has no 'epoch' column: not an Ultralytics results.csv (its "
                           "first line: %.120r)" % (path, ",".join(lines[0])))
    tags = list(dict.fromkeys(h for h in header if h and h not in _NOT_LOGGED))
    if not any("loss" in t for t in tags):
        raise CsvError("%s has no loss column (columns: %s)" % (path, ", ".join(header)))
    at = {h: i for i, h in enumerate(header)}
    rows, notes = [], []
    for number, cells in enumerate(lines[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            notes.append("line %d has %d fields, the header %d: left out" % (
                number, len(cells), len(header)))
            continue
        epoch = _number(cells[at["epoch"]])
        if epoch is None or epoch < 0 or epoch != int(epoch) or epoch >= 2**63:
            notes.append("line %d: epoch %r is not a whole number >= 0: line left out" % (
                number, cells[at["epoch"]].strip()))
            continue
        values = {}
        for tag in tags:
            value = _number(cells[at[tag]])
            if value is None:
                if cells[at[tag]].strip():
                    notes.append("line %d: %s = %r is not a number: left out" % (
                        number, tag, cells[at[tag]].strip()))
                continue
            values[tag] = value
        seconds = _number(cells[at["time"]]) if "time" in at else None
        rows.append((int(epoch), seconds, values))
    return tags, rows, notes


def _number(text):
    try:
        return float(text.strip())
    except ValueError:
        return None


def event_file_name(csv_path):
    """The name of the import of `csv_path` as it is now: its modification time (to the
    nanosecond) and size are in it."""
    st = os.stat(csv_path)
    return "events.out.tfevents.%010d.%s.%09d.%d%s" % (
        st.st_mtime_ns // 10**9, socket.gethostname(), st.st_mtime_ns % 10**9, st.st_size, SUFFIX)


def import_csv(csv_path, force=False):
    """Writes the scalar events of one results.csv beside it (a `Result`); a CsvError or
    OSError if it cannot. Nothing is written when the CSV is unreadable, and an earlier import
    is only removed once the new one is complete."""
    run_dir = os.path.dirname(os.path.abspath(csv_path))
    imports = sorted(f for f in os.listdir(run_dir) if "tfevents" in f and f.endswith(SUFFIX))
    others = sorted(f for f in os.listdir(run_dir) if "tfevents" in f and not f.endswith(SUFFIX))
    if others and not force:
        return Result(csv_path, "skipped", "the directory already has TensorBoard event files "
                      "(%s): TensorBoard reads those as they are; --force imports the CSV beside "
                      "them" % ", ".join(others[:3] + ["…"] * (len(others) > 3)))
    name = event_file_name(csv_path)
    if name in imports:
        return Result(csv_path, "up to date", "unchanged since it was imported",
                      os.path.join(run_dir, name))
    tags, rows, notes = read(csv_path)
    if not rows:
        raise CsvError("%s has no complete row yet%s" % (
            csv_path, " (%s)" % "; ".join(notes) if notes else ""))
    # Wall times: the last row was written at the CSV's modification time; `time` (seconds
    # since training started, Ultralytics ≥ 8.1) places the others before it.
    mtime = os.stat(csv_path).st_mtime
    last = rows[-1][1]
    events = [event_pb2.Event(wall_time=mtime if last is None else mtime - last,
                              file_version="brain.Event:2")]
    for epoch, seconds, values in rows:
        wall = mtime if seconds is None or last is None else mtime - (last - seconds)
        summary = summary_pb2.Summary(value=[  # NaN and ±Inf too: they are data
            summary_pb2.Summary.Value(tag=tag, simple_value=values[tag])
            for tag in tags if tag in values])
        events.append(event_pb2.Event(wall_time=wall, step=epoch, summary=summary))
    data = b"".join(_frame(e.SerializeToString()) for e in events)
    # Written whole under a name TensorBoard ignores, then renamed: a reader never sees half.
    partial = os.path.join(run_dir, ".detloss-import.partial")  # no "tfevents": not read
    with open(partial, "wb") as f:
        f.write(data)
    os.replace(partial, os.path.join(run_dir, name))
    for old in imports:
        os.remove(os.path.join(run_dir, old))
    detail = "%d epoch(s), %d column(s)" % (len(rows), len(tags))
    if notes:
        detail += "; " + "; ".join(notes[:5]) + ("; …" if len(notes) > 5 else "")
    return Result(csv_path, "imported", detail, os.path.join(run_dir, name), len(rows), tags)
