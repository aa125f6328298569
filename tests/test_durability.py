"""`detloss.summary.FileWriter` durability: SIGKILL, normal exit without close, threads.

- A child writing with flush_secs=0.5 reports on stdout, after each flush, the last step that
  flush covered. Killed with SIGKILL at several points, every reported step is on disk, the
  steps on disk are exactly 0..k with their exact values, and `cli.scan_file` finds no damage
  except possibly a truncated final record: what is lost is only what was written after the
  last flush (at most flush_secs of writes).
- close(), the context manager and the atexit hook (a child that exits, even through an
  unhandled exception, without closing) keep everything.
- 8 threads writing into one FileWriter concurrently lose and corrupt nothing.
"""

import glob
import os
import signal
import struct
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from tensorboard.compat.proto import event_pb2

import tensorboard_plugin_detloss as detloss
from tensorboard_plugin_detloss import cli, metadata

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_records(path):
    """(events, tail): every complete record of `path` as an Event, and b"" or the bytes of
    an incomplete final record."""
    with open(path, "rb") as f:
        data = f.read()
    events, pos = [], 0
    while pos < len(data):
        if pos + 12 > len(data):
            break
        (length,) = struct.unpack("<Q", data[pos:pos + 8])
        end = pos + 12 + length + 4
        if end > len(data):
            break
        events.append(event_pb2.Event.FromString(data[pos + 12:pos + 12 + length]))
        pos = end
    return events, data[pos:]


def detloss_values(events):
    """{(tag, step): [rows]} of every detloss step (a list, to see duplicates); block
    records (format version 2) are expanded into their rows."""
    out, layouts = {}, {}
    for event in events:
        for value in event.summary.value:
            if not value.tag.startswith(metadata.PLUGIN_NAME + "/"):
                continue
            if value.metadata.plugin_data.plugin_name == metadata.PLUGIN_NAME:
                layouts.setdefault(value.tag, metadata.parse_plugin_metadata(
                    value.metadata.plugin_data.content))
            layout = layouts[value.tag]  # KeyError: a tag's first record lacks its metadata
            if layout.overview:
                continue  # a series' overview (test_overview.py), not more steps
            array = np.frombuffer(value.tensor.tensor_content, "<f8")
            if layout.block:
                rows = array.reshape(-1, 2 + layout.tensor_length)
                assert int(rows[0, 0]) == event.step  # a block record carries its first step
                for r in rows:
                    out.setdefault((value.tag, int(r[0])), []).append(r[2:].tolist())
            else:
                out.setdefault((value.tag, event.step), []).append(array.tolist())
    return out


def only_event_file(logdir):
    [path] = glob.glob(os.path.join(str(logdir), "events.out.tfevents.*"))
    return path


def expected_row(step):
    """The child's values at `step`: box, cls, then weights box=2, cls=1."""
    return [step * 0.5, 1.0 / (step + 1), 2.0, 1.0]


CHILD = textwrap.dedent("""
    import sys, threading, time
    from tensorboard_plugin_detloss import summary
    from tensorboard_plugin_detloss.event_file import FileWriter

    written = [-1]
    out_lock = threading.Lock()

    def say(*words):  # one whole line at a time from either thread
        with out_lock:
            sys.stdout.write(" ".join(map(str, words)) + "\\n")
            sys.stdout.flush()

    class ReportingWriter(FileWriter):
        def flush(self):
            covered = written[0]  # every step <= covered is in the buffer being flushed
            super().flush()
            say("flushed", covered, time.time())

    w = ReportingWriter(sys.argv[1], flush_secs=0.5)
    step = 0
    while True:
        summary.write({"box": step * 0.5, "cls": 1.0 / (step + 1)}, step=step,
                      weights={"box": 2.0}, writer=w)
        written[0] = step
        step += 1
        if step % 500 == 0:
            say("wrote", step - 1, time.time())
            time.sleep(0.005)  # a lighter load on a shared machine; most time is writing
""")


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.mark.parametrize("flushes_before_kill,writes_after", [(1, 1), (3, 5), (5, 17)])
def test_sigkill_loses_at_most_the_last_flush_interval(tmp_path, flushes_before_kill,
                                                       writes_after):
    """Killed after the n-th periodic flush and then k more "wrote" lines (500 steps each),
    so the kill lands between flushes, in the middle of writing."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)],
                             stdout=subprocess.PIPE, env=_env(), text=True)
    lines = []
    try:
        # The first "flushed" line is the constructor's (file header only).
        while sum(line.startswith("flushed") for line in lines) < flushes_before_kill + 1:
            line = child.stdout.readline()
            assert line, "the child exited early (rc %s)" % child.poll()
            lines.append(line)
        for _ in range(writes_after):
            line = child.stdout.readline()
            assert line, "the child exited early (rc %s)" % child.poll()
            lines.append(line)
        os.kill(child.pid, signal.SIGKILL)
        lines += child.stdout.readlines()  # what it printed before it died
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    covered = max(int(line.split()[1]) for line in lines if line.startswith("flushed"))
    assert covered >= 0

    path = only_event_file(tmp_path)
    problem = cli.scan_file(path)
    assert problem is None or problem.startswith("truncated record"), problem
    events, tail = read_records(path)
    assert events[0].file_version == "brain.Event:2"
    values = detloss_values(events)
    steps = sorted(step for _, step in values)
    # Nothing a flush covered is lost, nothing is duplicated, and there are no holes.
    assert steps == list(range(len(steps))), "holes or duplicates in the steps on disk"
    assert steps[-1] >= covered, (steps[-1], covered)
    for (_, step), arrays in values.items():
        assert arrays == [expected_row(step)], step
    last_written = max([int(line.split()[1]) for line in lines if line.startswith("wrote")]
                       + [covered])
    print("\nSIGKILL after %d flushes + %d x 500 steps: last flush covered step %d, on disk "
          "0..%d, last step reported written %d, tail %d bytes, scan: %s"
          % (flushes_before_kill, writes_after, covered, steps[-1], last_written, len(tail),
             problem),
          file=sys.stderr)


EXIT_CHILD = textwrap.dedent("""
    import sys
    from tensorboard_plugin_detloss import summary
    from tensorboard_plugin_detloss.event_file import FileWriter

    w = FileWriter(sys.argv[1], flush_secs=3600)  # no periodic flush before exit
    for step in range(5000):
        summary.write({"box": step * 0.5, "cls": 1.0 / (step + 1)}, step=step,
                      weights={"box": 2.0}, writer=w)
    how = sys.argv[2]
    if how == "exception":
        raise RuntimeError("training crashed")
    if how == "sys_exit":
        sys.exit(3)
    # "return": falls off the end
""")


@pytest.mark.parametrize("how,rc", [("return", 0), ("exception", 1), ("sys_exit", 3)])
def test_exit_without_close_keeps_everything(tmp_path, how, rc):
    result = subprocess.run([sys.executable, "-c", EXIT_CHILD, str(tmp_path), how],
                            env=_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == rc, result.stderr
    path = only_event_file(tmp_path)
    assert cli.scan_file(path) is None
    events, tail = read_records(path)
    assert tail == b""
    values = detloss_values(events)
    assert sorted(step for _, step in values) == list(range(5000))
    for (_, step), arrays in values.items():
        assert arrays == [expected_row(step)]


@pytest.mark.parametrize("how", ["close", "context_manager"])
def test_close_and_context_manager_flush(tmp_path, how):
    def write(w):
        for step in range(3000):
            detloss.summary.write({"box": step * 0.5, "cls": 1.0 / (step + 1)}, step=step,
                                  weights={"box": 2.0}, writer=w)

    if how == "close":
        w = detloss.summary.FileWriter(str(tmp_path), flush_secs=3600)
        write(w)
        path = w.path
        before = os.path.getsize(path)  # the file object's buffer is not written yet
        w.close()
        assert os.path.getsize(path) > before
    else:
        with detloss.summary.FileWriter(str(tmp_path), flush_secs=3600) as w:
            write(w)
            path = w.path
    assert cli.scan_file(path) is None
    events, tail = read_records(path)
    assert tail == b""
    values = detloss_values(events)
    assert sorted(step for _, step in values) == list(range(3000))
    assert all(arrays == [expected_row(step)] for (_, step), arrays in values.items())


def test_eight_threads_lose_and_corrupt_nothing(tmp_path):
    """Threads 0-3 each write their own loss; threads 4-7 share one tag, interleaving steps.
    A 10 ms flush interval makes the flusher thread run between the writes too."""
    steps_per_thread = 3000
    w = detloss.summary.FileWriter(str(tmp_path), flush_secs=0.01)
    start = threading.Barrier(8)
    errors = []

    def work(i):
        try:
            start.wait()
            for k in range(steps_per_thread):
                if i < 4:
                    detloss.summary.write({"a": i + k * 1e-3, "b": float(k)}, step=k,
                                          name="loss%d" % i, weights={"a": 0.5}, writer=w)
                else:
                    step = (i - 4) + 4 * k
                    detloss.summary.write({"a": float(step), "b": -float(step)}, step=step,
                                          name="shared", writer=w)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    w.close()
    assert not errors, errors

    assert cli.scan_file(w.path) is None
    events, tail = read_records(w.path)
    assert tail == b""
    values = detloss_values(events)
    assert len(values) == 8 * steps_per_thread
    by_name = {}
    for (tag, step), arrays in values.items():
        assert len(arrays) == 1, (tag, step)
        name = tag.split("/")[1]
        by_name.setdefault(name, {})[step] = arrays[0]
    assert sorted(by_name) == ["loss0", "loss1", "loss2", "loss3", "shared"]
    for i in range(4):
        rows = by_name["loss%d" % i]
        assert sorted(rows) == list(range(steps_per_thread))
        assert all(rows[k] == [i + k * 1e-3, float(k), 0.5, 1.0] for k in rows)
    shared = by_name["shared"]
    assert sorted(shared) == list(range(4 * steps_per_thread))
    assert all(shared[s] == [float(s), -float(s), 1.0, 1.0] for s in shared)
    # The metadata of each tag is written once per file.
    described = [v.tag for e in events for v in e.summary.value
                 if v.metadata.plugin_data.plugin_name == metadata.PLUGIN_NAME]
    assert sorted(described) == sorted(set(described))
    assert len([tag for tag in described if "/overview" not in tag]) == 5
