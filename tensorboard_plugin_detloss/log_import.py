"""`detloss import`: framework logs that are not TensorBoard files, written as the TensorBoard
scalars the framework itself writes when its TensorBoard logging is on.

Two frameworks ship with TensorBoard logging off and keep a file of their own instead:
Ultralytics writes `results.csv` and MMDetection 3.x (MMEngine's default `LocalVisBackend`)
writes `vis_data/scalars.json`. Each holds the same names and steps as the framework's
TensorBoard scalars, so each is written, beside itself, as those scalars; the importer's
profiles (importers.py) then read it like the framework's own TensorBoard logs.

The event file is named after the source file's modification time and size: importing an
unchanged file again writes nothing, and a file that grew (a training still running) is
imported whole into a new event file that replaces the previous import once it is complete.
"""

import collections
import csv
import json
import math
import os
import socket

from tensorboard.compat.proto import event_pb2, summary_pb2

from tensorboard_plugin_detloss.event_file import _frame

SUFFIX = ".detloss-import"


class LogError(ValueError):
    """A file that cannot be imported; the message names it and the problem."""


# What importing one file did: `status` "imported", "up to date" or "skipped", and why.
Result = collections.namedtuple("Result", ["status", "detail"])


def read_results_csv(path):
    """Ultralytics' `results.csv` (`BaseTrainer.save_metrics`: `epoch,time,<keys>`, `%.6g`;
    YOLOv5: names padded to 20 characters, no `time`): one row per epoch. Its TensorBoard
    callback logs every column but `epoch` and `time` at step `epoch` (YOLOv8+:
    `trainer.epoch + 1`, as written here; YOLOv5: the 0-based epoch, as written there).
    `time` (seconds since training started) places the rows in time: the last one at the
    file's modification time."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            lines = list(csv.reader(f))
    except csv.Error as e:  # a NUL byte, a field over csv.field_size_limit()
        raise LogError("%s cannot be read as CSV: %s" % (path, e)) from None
    if not lines or not any(cell.strip() for cell in lines[0]):
        raise LogError("%s is empty" % path)
    header = [cell.strip() for cell in lines[0]]
    if "epoch" not in header:
        raise LogError("%s has no 'epoch' column: not an Ultralytics results.csv (its first "
                       "line: %.120r)" % (path, ",".join(lines[0])))
    tags = list(dict.fromkeys(h for h in header if h and h not in ("epoch", "time")))
    at = {h: i for i, h in enumerate(header)}
    rows, notes = [], []
    for number, cells in enumerate(lines[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            notes.append("line %d has %d fields, the header %d: left out" % (
                number, len(cells), len(header)))
            continue
        step = _step(_number(cells[at["epoch"]]))
        if step is None:
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
        rows.append((step, _number(cells[at["time"]]) if "time" in at else None, values))
    return tags, _place_in_time(rows, os.stat(path).st_mtime), notes


def _place_in_time(rows, end):
    """[(step, wall time, values)] of [(step, seconds since the start or None, values)]: the
    last row at `end`, the others their seconds apart. A resumed training starts its seconds
    from 0 again: each restart continues from the time before it. Rows without seconds (or
    all, when any is missing) get `end`."""
    seconds = [s for _, s, _ in rows]
    if not rows or any(s is None or not math.isfinite(s) for s in seconds):
        return [(step, end, values) for step, _, values in rows]
    elapsed, offset, before = [], 0.0, None
    for s in seconds:
        if before is not None and s < before:
            offset += before  # a resumed training: its clock restarted
        elapsed.append(offset + s)
        before = s
    return [(step, end - (elapsed[-1] - e), values) for (step, _, values), e in zip(rows, elapsed)]


def read_scalars_json(path):
    """MMEngine's `scalars.json` (`LocalVisBackend.add_scalars`): one JSON object per line,
    the scalars of one `add_scalars` call plus its `step`. `TensorboardVisBackend.add_scalars`
    writes each of those scalars (ints and floats; others it skips) at that step, so the same
    is written here. The file holds no wall time: every event gets its modification time."""
    mtime = os.stat(path).st_mtime
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if not any(line.strip() for line in lines):
        raise LogError("%s is empty" % path)
    tags, rows, notes, skipped = {}, [], [], set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            notes.append("line %d is not JSON (a line still being written?): left out" % number)
            continue
        if not isinstance(record, dict):
            notes.append("line %d is not a JSON object: left out" % number)
            continue
        step = _step(record.get("step"))
        if step is None:
            notes.append("line %d: step %.40r is not a whole number >= 0: line left out" % (
                number, record.get("step")))
            continue
        values = {}
        for key, value in record.items():
            if key == "step":
                continue
            if isinstance(value, (int, float)):
                values[key] = float(value)
                tags.setdefault(key, None)
            elif key not in skipped:
                skipped.add(key)
                notes.append("%s is not a number (line %d): not a scalar, left out, as "
                             "TensorboardVisBackend does" % (key, number))
        rows.append((step, mtime, values))
    return list(tags), rows, notes


# What `detloss import` looks for: file name -> (framework, reader).
SOURCES = {
    "results.csv": ("Ultralytics", read_results_csv),
    "scalars.json": ("MMEngine / MMDetection", read_scalars_json),
}


def _number(text):
    try:
        return float(text.strip())
    except ValueError:
        return None


def _step(value):
    """`value` as a TensorBoard step (a whole number >= 0), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not 0 <= value < 2**63 or value != int(value):
        return None
    return int(value)


def find(paths):
    """The files `detloss import` reads named by `paths` (files, or directories searched
    recursively), sorted; a FileNotFoundError names a path that does not exist."""
    found = []
    for path in paths:
        if os.path.isfile(path):
            found.append(path)
        elif os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs.sort()
                found.extend(os.path.join(root, f) for f in sorted(files) if f in SOURCES)
        else:
            raise FileNotFoundError("%s does not exist" % path)
    return sorted(dict.fromkeys(found))


def event_file_name(path):
    """The name of the import of `path` as it is now: its modification time (to the
    nanosecond) and size are in it."""
    st = os.stat(path)
    return "events.out.tfevents.%010d.%s.%09d.%d%s" % (
        st.st_mtime_ns // 10**9, socket.gethostname(), st.st_mtime_ns % 10**9, st.st_size, SUFFIX)


def import_file(path, force=False):
    """Writes the scalar events of one framework log beside it (a `Result`); a LogError or
    OSError if it cannot. Nothing is written when the log is unusable, and an earlier import
    is only removed once the new one is complete."""
    base = os.path.basename(path)
    if base not in SOURCES:
        raise LogError("%s: detloss import reads %s, not %r" % (
            path, " and ".join(sorted(SOURCES)), base))
    framework, read = SOURCES[base]
    run_dir = os.path.dirname(os.path.abspath(path))
    names = os.listdir(run_dir)
    imports = sorted(f for f in names if "tfevents" in f and f.endswith(SUFFIX))
    others = sorted(f for f in names if "tfevents" in f and not f.endswith(SUFFIX))
    if others and not force:
        return Result("skipped", "the directory already has TensorBoard event files "
                      "(%s): TensorBoard reads those as they are; --force imports the %s log "
                      "beside them" % (", ".join(others[:3] + ["…"] * (len(others) > 3)),
                                       framework))
    name = event_file_name(path)
    if name in imports:
        return Result("up to date", "unchanged since it was imported")
    tags, rows, notes = read(path)
    if not rows:
        raise LogError("%s has no complete row yet (%s)" % (path, "; ".join(notes)))
    events = [event_pb2.Event(wall_time=min(wall for _, wall, _ in rows),
                              file_version="brain.Event:2")]
    for step, wall, values in rows:
        summary = summary_pb2.Summary(value=[  # NaN and ±Inf too: they are data
            summary_pb2.Summary.Value(tag=tag, simple_value=values[tag])
            for tag in tags if tag in values])
        events.append(event_pb2.Event(wall_time=wall, step=step, summary=summary))
    data = b"".join(_frame(e.SerializeToString()) for e in events)
    # Written whole under a name TensorBoard ignores (no "tfevents"), then renamed: a reader
    # never sees half of it.
    partial = os.path.join(run_dir, ".detloss-import.partial")
    with open(partial, "wb") as f:
        f.write(data)
    os.replace(partial, os.path.join(run_dir, name))
    for old in imports:
        os.remove(os.path.join(run_dir, old))
    detail = "%s log, %d step(s), %d tag(s)" % (framework, len(rows), len(tags))
    if notes:
        detail += "; " + "; ".join(notes[:5]) + ("; …" if len(notes) > 5 else "")
    return Result("imported", detail)
