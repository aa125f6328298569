"""Broken and live event files under a real TensorBoard, both loaders (one per loader).

Faults: a truncated final record, a corrupt CRC in the middle of a file, a zero-byte file, a
garbage file, a file appended while TensorBoard reads it, a run directory deleted while
TensorBoard runs, two FileWriters on one run, steps that go backwards after a restart.
The routes keep answering (no 5xx) and serve what is readable; what each loader serves is
asserted exactly and written down in docs/RELIABILITY.md.
"""

import json
import os
import shutil
import struct
import threading
import time
from urllib.parse import urlencode

import pytest

from conftest import LOADERS
from tb_process import TensorBoard
from tensorboard_plugin_detloss import cli, summary

BASE = "/data/plugin/detloss"
STEPS = 100
CORRUPT_AT = 60  # the step whose record gets a bad data CRC


def row(step, offset=0.0):
    return {"box": 1.0 + step + offset, "cls": 0.5}


def write_run(logdir, run, steps, offset=0.0, split="train"):
    """One record per step (a flush after each: FileWriter writes one block per flush), so a
    damaged record is a damaged step."""
    with summary.FileWriter(os.path.join(logdir, run)) as w:
        for step in steps:
            summary.write(row(step, offset), step=step, split=split, writer=w,
                          walltime=1_700_000_000 + step)
            w.flush()
    return w.path


def record_offsets(path):
    """[(offset, length)] of each TFRecord of a well-formed file."""
    with open(path, "rb") as f:
        data = f.read()
    out, pos = [], 0
    while pos < len(data):
        (length,) = struct.unpack("<Q", data[pos:pos + 8])
        out.append((pos, length))
        pos += 12 + length + 4
    return out


def build_logdir(logdir):
    write_run(logdir, "healthy", range(STEPS))
    # A zero-byte and a garbage file beside a good one, and runs made only of them.
    open(os.path.join(logdir, "healthy", "events.out.tfevents.0000000001.empty"), "wb").close()
    os.makedirs(os.path.join(logdir, "only_empty"))
    open(os.path.join(logdir, "only_empty", "events.out.tfevents.1.x"), "wb").close()
    os.makedirs(os.path.join(logdir, "only_garbage"))
    with open(os.path.join(logdir, "only_garbage", "events.out.tfevents.1.x"), "wb") as f:
        f.write(os.urandom(4096))
    # Truncated: the last record loses its last 7 bytes (a writer killed mid-write).
    path = write_run(logdir, "truncated", range(STEPS))
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 7)
    # Corrupt CRC in the middle: one byte of step CORRUPT_AT's data flipped.
    path = write_run(logdir, "crc_middle", range(STEPS))
    offset, length = record_offsets(path)[1 + CORRUPT_AT]  # record 0 is the file header
    with open(path, "r+b") as f:
        f.seek(offset + 12 + length - 3)
        byte = f.read(1)
        f.seek(offset + 12 + length - 3)
        f.write(bytes([byte[0] ^ 0xFF]))
    # Two FileWriters on one run, open at the same time: even steps in one file, odd in the
    # other (a data-parallel job whose ranks all log, or a relaunched job).
    # Both flush every 10 steps, as periodic flushes would: blocks of 5 steps per file.
    a = summary.FileWriter(os.path.join(logdir, "two_writers"))
    b = summary.FileWriter(os.path.join(logdir, "two_writers"))
    for step in range(STEPS):
        summary.write(row(step), step=step, writer=a if step % 2 == 0 else b)
        if step % 10 == 9:
            a.flush()
            b.flush()
    a.close()
    b.close()
    a = summary.FileWriter(os.path.join(logdir, "two_writers_by_split"))
    b = summary.FileWriter(os.path.join(logdir, "two_writers_by_split"))
    for step in range(STEPS):
        summary.write(row(step), step=step, split="train", writer=a)
        summary.write(row(step), step=step, split="val", writer=b)
    a.close()
    b.close()
    # Steps that go backwards after a restart: a second writer (a new file, as after a
    # relaunch from a checkpoint) starts again at step 50 with different values.
    write_run(logdir, "restart", range(STEPS))
    time.sleep(1.1)  # event file names hold the second: the restart's file sorts after
    write_run(logdir, "restart", range(50, 80), offset=1000.0)
    # The same with blocks (format version 2): the first run flushed every 20 steps, so its
    # blocks end at steps 19, 39, 59, 79, 99; the restart logs 50..79 in blocks of 10.
    with summary.FileWriter(os.path.join(logdir, "restart_blocks")) as w:
        for step in range(STEPS):
            summary.write(row(step), step=step, writer=w)
            if step % 20 == 19:
                w.flush()
    time.sleep(1.1)
    with summary.FileWriter(os.path.join(logdir, "restart_blocks")) as w:
        for step in range(50, 80):
            summary.write(row(step, 1000.0), step=step, writer=w)
            if step % 10 == 9:
                w.flush()
    write_run(logdir, "doomed", range(20))


class Server:
    def __init__(self, tb):
        self.tb = tb

    def get(self, route, **params):
        status, content_type, body = self.tb.request(
            BASE + route + ("?" + urlencode(params) if params else ""))
        assert status < 500, (route, params, status, body[:2000])
        if status >= 400:
            assert body.strip(), (route, params, status)
        return status, body

    def runs(self):
        status, body = self.get("/runs")
        assert status == 200
        return {(r["run"], r["split"]) for r in json.loads(body)}

    def steps(self, run, split="train"):
        status, body = self.get("/breakdown", run=run, split=split)
        if status != 200:
            return None
        data = json.loads(body)
        return data

    def wait(self, predicate, what, timeout=90):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.5)
        raise AssertionError("timed out waiting for %s\n%s" % (what, self.tb.log_text()[-3000:]))


@pytest.fixture(scope="module", params=LOADERS)
def server(request, tmp_path_factory):
    logdir = tmp_path_factory.mktemp("broken") / "logdir"
    logdir.mkdir()
    build_logdir(str(logdir))
    tb = TensorBoard(str(logdir), request.param).wait_ready()
    s = Server(tb)
    s.logdir = str(logdir)
    try:
        want = {("healthy", "train"), ("truncated", "train"), ("crc_middle", "train"),
                ("two_writers", "train"), ("restart", "train"), ("doomed", "train"),
                ("two_writers_by_split", "val"), ("restart_blocks", "train")}
        s.wait(lambda: want <= s.runs(), "the runs to be listed")
        # Wait until every run shows as many steps as it will (the tests then check which),
        # however slow the machine: a loader may read a run's files over several reloads.
        fast = request.param
        final = {("healthy", "train"): STEPS, ("truncated", "train"): STEPS - 1,
                 ("crc_middle", "train"): STEPS if fast else CORRUPT_AT,
                 ("two_writers", "train"): 55 if fast else STEPS,
                 ("two_writers_by_split", "train"): STEPS,
                 ("two_writers_by_split", "val"): STEPS,
                 ("restart", "train"): 80 if fast else STEPS,
                 ("restart_blocks", "train"): 80 if fast else STEPS, ("doomed", "train"): 20}

        def counts():
            return {key: len(s.steps(*key)["steps"]) for key in final}

        try:
            s.wait(lambda: counts() == final, "every run to load", timeout=60)
        except AssertionError:
            pass  # the tests below say which run differs and how
        time.sleep(2)  # and a reload more, so that a loader reading more would show it
        yield s
    finally:
        tb.stop()


def values_of(data):
    return dict(zip(data["steps"], data["values"]["box"]))


def test_damaged_files_are_named_by_detloss_check(server):
    problems = {os.path.relpath(p, server.logdir).split(os.sep)[0]: problem
                for p in cli._event_files(server.logdir)
                for problem in [cli.scan_file(p)] if problem}
    assert sorted(problems) == ["crc_middle", "only_garbage", "truncated"], problems
    assert problems["truncated"].startswith("truncated record")
    assert "CRC mismatch" in problems["crc_middle"]


def test_healthy_run_beside_empty_and_garbage_files(server):
    data = server.steps("healthy")
    assert values_of(data) == {s: 1.0 + s for s in range(STEPS)}
    runs = {run for run, _ in server.runs()}
    assert "only_empty" not in runs and "only_garbage" not in runs
    for run in ("only_empty", "only_garbage", "no_such_run"):
        status, body = server.get("/breakdown", run=run, split="train")
        assert status == 404 and run.encode() in body


def test_truncated_file_serves_every_complete_record(server):
    data = server.steps("truncated")
    assert values_of(data) == {s: 1.0 + s for s in range(STEPS - 1)}
    status, _ = server.get("/warnings", run="truncated")
    assert status == 200


def test_corrupt_crc_in_the_middle(server):
    """One byte of step 60's record flipped (the last byte pair of its `cls` weight).

    The Python loader stops reading the file at the bad record: steps 0..59, exact. The Rust
    data server (load_fast=true) does not check data CRCs: it serves all 100 steps, step 60
    with the damaged weight, and logs nothing. `detloss check` names the file either way
    (test_damaged_files_are_named_by_detloss_check)."""
    data = server.steps("crc_middle")
    got = values_of(data)
    weights = dict(zip(data["steps"], data["weights"]["cls"]))
    undamaged = set(got) - {CORRUPT_AT}
    assert all(got[s] == 1.0 + s and weights[s] == 1.0 for s in undamaged)
    if server.tb.load_fast:
        assert set(got) == set(range(STEPS))
        assert weights[CORRUPT_AT] != 1.0  # served as it is on disk: damaged
    else:
        assert set(got) == set(range(CORRUPT_AT))
    for route, params in [("/warnings", {"run": "crc_middle"}),
                          ("/attribution", {"run": "crc_middle", "split": "train",
                                            "from": 0, "to": 50})]:
        status, _ = server.get(route, **params)
        assert status == 200


def test_two_writers_on_one_run(server):
    """Two FileWriters open at once on one run: even steps in one file, odd in the other.

    Both flush every 10 steps (blocks of 5 rows each). The Python loader serves all 100
    steps. The data server drops what looks like orphaned data when a step goes backwards
    from one file to the next: it serves the even file's first block and the odd steps.
    Writers that log
    different splits (or losses) of one run are unaffected under both loaders."""
    got = values_of(server.steps("two_writers"))
    print("\ntwo_writers load_fast=%s: %s" % (server.tb.load_fast, sorted(got)))
    assert all(got[s] == 1.0 + s for s in got)
    if server.tb.load_fast:
        # The first block of the even file (0..8), then every odd step: the even file's later
        # blocks end at steps >= 18 and are dropped when the odd file's first block (ending
        # at step 9) goes backwards.
        assert set(got) == {0, 2, 4, 6, 8} | set(range(1, STEPS, 2))
    else:
        assert set(got) == set(range(STEPS))
    for split in ("train", "val"):
        got = values_of(server.steps("two_writers_by_split", split=split))
        assert got == {s: 1.0 + s for s in range(STEPS)}, split


def test_steps_going_backwards_after_a_restart(server):
    """First file: steps 0..99; the restart's file: steps 50..79, values +1000."""
    got = values_of(server.steps("restart"))
    restarted = {s: 1001.0 + s for s in range(50, 80)}
    if server.tb.load_fast:
        # The data server purges the first run's steps >= 50 when the step goes back.
        assert got == {**{s: 1.0 + s for s in range(50)}, **restarted}
    else:
        # The Python loader keeps every point (it purges only on a SessionLog START, which
        # no writer here logs); a step logged twice shows its later value.
        assert got == {**{s: 1.0 + s for s in range(STEPS)}, **restarted}


def test_restart_with_blocks(server):
    """As above, with blocks (format version 2): the first run flushed every 20 steps
    (blocks 0..19, 20..39, 40..59, 60..79, 80..99), the restart every 10 (50..59, 60..69,
    70..79).

    A block record carries its FIRST row's step. Under load_fast=true the data server purges
    the records whose step is >= the restart's first record's step, 50: the first run's blocks
    60..79 and 80..99 go, block 40..59 stays, and its steps 50..59 are superseded by the
    restart's later writes — what one record per step gives: nothing the restart does not log
    again is lost (keyed by the last row, steps 40..49 were lost: measured before the change).
    Under load_fast=false nothing is purged."""
    got = values_of(server.steps("restart_blocks"))
    print("\nrestart_blocks load_fast=%s: %s" % (server.tb.load_fast, sorted(got)))
    restarted = {s: 1001.0 + s for s in range(50, 80)}
    if server.tb.load_fast:
        assert got == {**{s: 1.0 + s for s in range(50)}, **restarted}
    else:
        assert got == {**{s: 1.0 + s for s in range(STEPS)}, **restarted}


def test_file_appended_while_tensorboard_reads(server):
    """A writer thread appends 300 steps; each poll serves a prefix of them, only growing,
    and the last poll after the writer closed serves all of them."""
    total = 300
    done = threading.Event()

    def write():
        with summary.FileWriter(os.path.join(server.logdir, "live"), flush_secs=0.2) as w:
            for step in range(total):
                summary.write(row(step), step=step, writer=w)
                if step % 10 == 9:
                    time.sleep(0.3)  # 9 s in all: several reloads and listing TTLs
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    seen = []
    done_at = None
    try:
        while True:
            finished = done.is_set()
            data = server.steps("live")
            if data is not None:
                got = values_of(data)
                assert got == {s: 1.0 + s for s in range(len(got))}, "not a prefix"
                assert not seen or len(got) >= seen[-1], "steps went away"
                seen.append(len(got))
            if finished:
                if seen and seen[-1] == total:
                    break
                done_at = done_at or time.time()
                assert time.time() < done_at + 60, "served %s of %d steps" % (seen[-1:], total)
            time.sleep(0.3)
    finally:
        writer.join()
    assert len(set(seen)) >= 3, seen  # it was seen growing, not only complete


def test_run_directory_deleted_while_tensorboard_runs(server):
    """Both loaders keep serving the deleted run for a reload or two, then drop it: the
    routes answer 404 naming it, the other runs are untouched, and nothing is a 5xx."""
    before = server.steps("doomed")
    assert values_of(before) == {s: 1.0 + s for s in range(20)}
    shutil.rmtree(os.path.join(server.logdir, "doomed"))
    statuses = set()

    def dropped():
        for route, params in [("/runs", {}), ("/breakdown", {"run": "doomed", "split": "train"}),
                              ("/warnings", {"run": "doomed"}),
                              ("/attribution", {"run": "doomed", "split": "train",
                                                "from": 0, "to": 10}),
                              ("/breakdown", {"run": "healthy", "split": "train"})]:
            status, body = server.get(route, **params)  # asserts < 500
            statuses.add((route, params.get("run"), status))
            if params.get("run") == "doomed" and status == 404:
                assert b"doomed" in body
        return (("/breakdown", "doomed", 404) in statuses
                and ("doomed", "train") not in server.runs())

    server.wait(dropped, "the deleted run to be dropped", timeout=60)
    assert {s for s in statuses if s[1] != "doomed"} == {("/runs", None, 200),
                                                         ("/breakdown", "healthy", 200)}
    assert {s[2] for s in statuses if s[1] == "doomed"} <= {200, 404}
    assert values_of(server.steps("healthy")) == {s: 1.0 + s for s in range(STEPS)}
