"""The reader's merge rules, and the routes in-process (multiplexer data provider, werkzeug client)."""

import json
import os
import time

import numpy as np
import pytest
from tensorboard import context
from tensorboard.data import provider
from werkzeug.datastructures import MultiDict

import tensorboard_plugin_detloss as detloss
from conftest import in_process
from tensorboard_plugin_detloss import diagnostics, event_file, metadata, plugin, reader


def datum(step, wall, values):
    return provider.TensorDatum(step=step, wall_time=wall, numpy=np.array(values, np.float64))


KEY = reader.SeriesKey("run", "loss", "train")


def test_latest_write_of_a_step_wins_and_layouts_merge():
    ab = metadata.Layout("loss", "train", ["a", "b"], False)
    abc = metadata.Layout("loss", "train", ["a", "b", "c"], True)
    parts = [
        (ab, [datum(0, 1.0, [1, 2, 1, 1]), datum(1, 2.0, [3, 4, 1, 1]),
              datum(2, 3.0, [5, 6, 1, 1])]),
        # A restarted job re-logs step 2 with a new layout, later in wall time.
        (abc, [datum(2, 10.0, [7, 8, 9, 1, 1, 2, 99]), datum(3, 11.0, [1, 1, 1, 1, 1, 1, 5])]),
    ]
    b = reader.assemble(KEY, parts)
    assert b.components == ["a", "b", "c"]
    assert b.steps.tolist() == [0, 1, 2, 3]
    assert b.values["a"].tolist() == [1, 3, 7, 1]
    assert b.present["c"].tolist() == [False, False, True, True]
    assert b.weights["c"][2] == 2.0
    assert b.total_present.tolist() == [False, False, True, True]
    assert b.total[2] == 99


def test_malformed_points_are_skipped_and_counted():
    ab = metadata.Layout("loss", "train", ["a", "b"], False)
    b = reader.assemble(KEY, [(ab, [datum(0, 1.0, [1, 2, 1, 1]), datum(1, 2.0, [1, 2, 3])])])
    assert b.steps.tolist() == [0] and b.skipped == 1


def test_empty_series_assembles_to_empty_breakdown():
    ab = metadata.Layout("loss", "train", ["a", "b"], False)
    b = reader.assemble(KEY, [(ab, [])])
    assert b.steps.tolist() == [] and b.total is None


def _client(logdir):
    return in_process(logdir)[3]


def test_routes_in_process(tmp_path):
    logdir = str(tmp_path)
    with detloss.summary.FileWriter(os.path.join(logdir, "r1")) as w:
        for step in range(5):
            detloss.summary.write({"box": step + 0.5}, step=step, writer=w,
                                  walltime=time.time())
    client = _client(logdir)
    runs = client.get("/data/plugin/detloss/runs")
    assert runs.status_code == 200
    assert json.loads(runs.get_data()) == [
        {"run": "r1", "name": "loss", "split": "train", "components": ["box"], "source": "detloss"}
    ]
    body = json.loads(client.get("/data/plugin/detloss/breakdown?run=r1&split=train").get_data())
    assert body["values"]["box"] == [0.5, 1.5, 2.5, 3.5, 4.5]
    assert body["total"] is None
    assert client.get("/data/plugin/detloss/breakdown?run=r2&split=train").status_code == 404
    assert client.post("/data/plugin/detloss/breakdown").status_code == 405
    multi = client.post("/data/plugin/detloss/breakdown_multirun",
                        data={"runs": ["r1"], "split": "train"})
    assert multi.status_code == 200 and list(json.loads(multi.get_data())) == ["r1"]


def test_loader_keeps_every_point_unless_the_user_says_otherwise():
    class Flags:
        samples_per_plugin = {}

    flags = Flags()
    plugin.DetlossLoader().fix_flags(flags)
    assert flags.samples_per_plugin == {"detloss": 0, "scalars": plugin.SCALAR_SAMPLES}
    flags.samples_per_plugin = {"detloss": 50, "images": 3, "scalars": 0}
    plugin.DetlossLoader().fix_flags(flags)
    assert flags.samples_per_plugin == {"detloss": 50, "images": 3, "scalars": 0}


def _long_breakdown(n=10_000):
    ab = metadata.Layout("loss", "train", ["a", "b"], False)
    rng = np.random.default_rng(0)
    a = rng.random(n)
    if n > 7777:
        a[1234] = 50.0  # a spike
        a[7777] = np.nan  # a NaN
    datums = [datum(i, float(i), [a[i], 0.5, 2.0, 1.0]) for i in range(n)]
    return reader.assemble(KEY, [(ab, datums)]), a


def test_display_downsampling_keeps_extremes_and_bounds():
    b, a = _long_breakdown()
    index = reader.display_indices(b, 600)
    assert 2 < len(index) <= 600
    shown = b.select(index)
    assert shown.num_steps == 10_000
    assert 1234 in shown.steps and 7777 in shown.steps
    assert shown.steps[0] == 0 and shown.steps[-1] == 9_999
    assert np.all(np.diff(shown.steps) > 0)
    assert np.nanmax(shown.values["a"]) == 50.0


def test_display_downsampling_is_identity_when_small():
    b, _ = _long_breakdown(100)
    assert reader.display_indices(b, 100).tolist() == list(range(100))


def test_native_sibling_runs_form_one_logical_run(tmp_path):
    logdir = str(tmp_path)
    for sub, split in (("train", "train"), ("validation", "val")):
        with detloss.summary.FileWriter(os.path.join(logdir, "exp", sub)) as w:
            for step in range(3):
                detloss.summary.write({"box": 1.0 + step}, step=step, split=split, writer=w)
    # Both siblings log split "train": they stay two runs.
    for sub in ("train", "eval"):
        with detloss.summary.FileWriter(os.path.join(logdir, "clash", sub)) as w:
            detloss.summary.write({"box": 1.0}, step=0, writer=w)
    client = _client(logdir)
    runs = json.loads(client.get("/data/plugin/detloss/runs").get_data())
    assert [(r["run"], r["split"]) for r in runs] == [
        ("clash/eval", "train"), ("clash/train", "train"), ("exp", "train"), ("exp", "val")]
    body = json.loads(client.get("/data/plugin/detloss/breakdown?run=exp&split=val").get_data())
    assert body["values"]["box"] == [1.0, 2.0, 3.0]
    warnings = client.get("/data/plugin/detloss/warnings?run=exp")
    assert warnings.status_code == 200


class _CountingProvider:
    """Wraps a data provider, counting calls."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def __getattr__(self, name):
        method = getattr(self.inner, name)

        def counted(*args, **kwargs):
            self.calls.append(name)
            return method(*args, **kwargs)

        return counted


def test_breakdown_cache_reuses_reads_until_the_data_changes(tmp_path):
    logdir = str(tmp_path)
    writer = detloss.summary.FileWriter(os.path.join(logdir, "r"))
    for step in range(5):
        detloss.summary.write({"box": float(step)}, step=step, writer=writer)
    writer.flush()
    multiplexer, provider_, _, _ = in_process(logdir, wrap=_CountingProvider)
    cache = reader.BreakdownCache()
    ctx = context.RequestContext()

    def read():
        series = reader.list_series(provider_, ctx, "")
        return reader.read_breakdowns(provider_, ctx, "", list(series), series, cache=cache)

    first = read()
    assert provider_.calls.count("read_tensors") == 1
    assert read() == first and provider_.calls.count("read_tensors") == 1  # a hit
    assert cache.hits == 1 and cache.nbytes() > 0
    detloss.summary.write({"box": 9.0}, step=5, writer=writer)
    writer.close()
    multiplexer.Reload()
    [b] = read().values()
    assert provider_.calls.count("read_tensors") == 2 and b.steps.tolist() == list(range(6))


def test_warnings_follow_new_data(tmp_path, monkeypatch):
    monkeypatch.setattr(plugin, "LISTING_TTL", 0.0)
    logdir = str(tmp_path)
    writer = detloss.summary.FileWriter(os.path.join(logdir, "r"))
    for step in range(50):
        detloss.summary.write({"box": 1.0 + 1.0 / (step + 1), "cls": 0.5}, step=step, writer=writer)
    writer.flush()
    multiplexer, _, _, client = in_process(logdir)

    def kinds():
        body = json.loads(client.get("/data/plugin/detloss/warnings?run=r").get_data())
        return [w["kind"] for w in body["warnings"]]

    assert "non_finite" not in kinds() and kinds() == kinds()
    detloss.summary.write({"box": float("nan"), "cls": 0.5}, step=50, writer=writer)
    writer.close()
    multiplexer.Reload()
    assert "non_finite" in kinds()


def test_warnings_update_incrementally_and_equal_a_fresh_diagnosis(tmp_path, monkeypatch):
    """40k steps, then 6k more with spikes, then a restart that re-logs the last 10k steps:
    the route's findings equal a fresh diagnosis each time; appended steps reuse the summary."""
    monkeypatch.setattr(plugin, "LISTING_TTL", 0.0)
    logdir = str(tmp_path)
    run = os.path.join(logdir, "r")

    def write(writer, steps, walltime, cls_scale=1.0):
        for step in steps:
            spike = 25.0 if step in (41_000, 43_333) else 1.0
            detloss.summary.write({"box": (0.5 + 1000.0 / (step + 1000)) * spike,
                                   "cls": cls_scale * (1.0 + (step % 7) / 70.0)},
                                  step=step, writer=writer, walltime=walltime + step)

    writer = detloss.summary.FileWriter(run)
    write(writer, range(40_000), 1e9)
    writer.flush()
    multiplexer, provider_, loaded, client = in_process(logdir)

    def route_and_fresh():
        body = json.loads(client.get("/data/plugin/detloss/warnings?run=r").get_data())
        series = reader.list_series(provider_, context.RequestContext(), "")
        breakdowns = reader.read_breakdowns(provider_, context.RequestContext(), "",
                                            list(series), series)
        fresh = diagnostics.diagnose({k.split: b for k, b in breakdowns.items()})
        return body["warnings"], json.loads(json.dumps([f.to_json() for f in fresh]))

    got, fresh = route_and_fresh()
    assert got == fresh and "spike" not in [w["kind"] for w in got]
    [(_, diagnoser)] = loaded._diagnosers.values()
    state = diagnoser._splits["train"].series["box"]
    assert state.row == 40_000  # 1,250 full buckets of 32
    write(writer, range(40_000, 46_000), 1e9)
    writer.flush()
    multiplexer.Reload()
    got, fresh = route_and_fresh()
    assert got == fresh and "spike" in [w["kind"] for w in got]
    assert state.row == 45_984 and diagnoser._splits["train"].series["box"] is state  # appended
    # A restart from a checkpoint at step 36,000 re-logs the steps after it, later.
    writer.close()
    with detloss.summary.FileWriter(run) as restarted:
        write(restarted, range(36_000, 46_000), 2e9, cls_scale=3.0)
    multiplexer.Reload()
    got, fresh = route_and_fresh()
    assert got == fresh
    assert diagnoser._splits["train"].series["box"] is not state  # started over


def test_reads_are_batched_under_the_data_servers_message_limit(tmp_path, monkeypatch):
    """Under --load_fast=true one read is one gRPC message (256 MiB at most): reads are split
    into batches by estimated size, and a series over the limit gets a 4xx naming it."""
    monkeypatch.setattr(plugin, "LISTING_TTL", 0.0)
    logdir = str(tmp_path)
    for r in range(5):
        with detloss.summary.FileWriter(os.path.join(logdir, "run%d" % r)) as w:
            for step in range(1000):
                detloss.summary.write({"box": 1.0, "cls": 2.0}, step=step, writer=w)
    _, counting, loaded, client = in_process(logdir, wrap=_CountingProvider)
    series = reader.list_series(counting, context.RequestContext(), "")
    [size] = {s.estimated_bytes for s in series.values()}
    # One block at step 0 (≤ BLOCK_ROWS rows), each [step, wall, 2 values, 2 weights].
    assert size == event_file.BLOCK_ROWS * 8 * (2 + 4)
    monkeypatch.setattr(reader, "READ_BATCH_BYTES", 2 * size)
    assert [len(b) for b in reader.read_batches(sorted(series), series)] == [2, 2, 1]
    form = MultiDict([("runs", "run%d" % r) for r in range(5)] +
                     [("split", "train"), ("max_points", "50")])
    response = client.post("/data/plugin/detloss/breakdown_multirun", data=form)
    assert response.status_code == 200
    body = json.loads(response.get_data())
    assert sorted(body) == ["run%d" % r for r in range(5)]
    assert all(b["num_steps"] == 1000 for b in body.values())
    assert counting.calls.count("read_tensors") == 3
    # Asked again: every run's display answer is reused, nothing is read.
    assert json.loads(client.post("/data/plugin/detloss/breakdown_multirun",
                                  data=form).get_data()) == body
    assert counting.calls.count("read_tensors") == 3

    def refuse(*args, **kwargs):
        raise RuntimeError("<_InactiveRpcError: RESOURCE_EXHAUSTED: Received message larger "
                           "than max (614602112 vs. 268435456)>")

    monkeypatch.setattr(counting.inner, "read_tensors", refuse)
    loaded._breakdowns = reader.BreakdownCache()  # as if evicted
    response = client.get("/data/plugin/detloss/breakdown?run=run3&split=train&format=csv")
    assert response.status_code == 422
    message = response.get_data(as_text=True)
    assert "'run3'" in message and "--load_fast=false" in message


def test_listing_the_runs_reads_ahead_so_first_requests_read_nothing(tmp_path, monkeypatch):
    """After `runs`, a background thread reads every series once (batched) and keeps it
    downsampled with its warnings: the tab's display requests and warnings then read nothing,
    keep each series' extremes, and still change when the data does."""
    monkeypatch.setattr(plugin, "LISTING_TTL", 0.0)
    monkeypatch.setattr(plugin, "WARM_INTERVAL", 0.0)
    logdir = str(tmp_path)
    writers = []
    for r in range(3):
        w = detloss.summary.FileWriter(os.path.join(logdir, "run%d" % r))
        for step in range(6000):
            spike = 50.0 if step == 4321 else 1.0
            detloss.summary.write({"box": spike * (1.0 + 1.0 / (step + 1)), "cls": 0.5},
                                  step=step, writer=w)
            if step % 1000 == 999:
                detloss.summary.write({"box": 1.5, "cls": 0.6}, step=step, split="val", writer=w)
        w.flush()
        writers.append(w)
    multiplexer, counting, loaded, client = in_process(logdir, wrap=_CountingProvider)
    assert client.get("/data/plugin/detloss/runs").status_code == 200
    assert loaded.warm_idle.wait(60)
    reads = counting.calls.count("read_tensors")
    assert reads == 1  # six series, one batch
    one = json.loads(client.get(
        "/data/plugin/detloss/breakdown?run=run1&split=train&max_points=500").get_data())
    form = MultiDict([("runs", "run%d" % r) for r in range(3)] +
                     [("split", "train"), ("max_points", "800")])
    many = json.loads(client.post("/data/plugin/detloss/breakdown_multirun",
                                  data=form).get_data())
    warnings = json.loads(client.get("/data/plugin/detloss/warnings?run=run2").get_data())
    assert counting.calls.count("read_tensors") == reads  # all from what was read ahead
    assert one["num_steps"] == 6000 and len(one["steps"]) <= 500
    assert 4321 in one["steps"] and max(one["values"]["box"]) == pytest.approx(50 * (1 + 1 / 4322))
    assert all(len(b["steps"]) <= 800 and 4321 in b["steps"] for b in many.values())
    assert "spike" in [w["kind"] for w in warnings["warnings"]]
    # A full-resolution request (an export) still reads every step.
    full = json.loads(client.get("/data/plugin/detloss/breakdown?run=run1&split=train")
                      .get_data())
    assert len(full["steps"]) == 6000
    # New steps: the next listing reads ahead again, and answers follow the data.
    for step in range(6000, 6100):
        detloss.summary.write({"box": 1.0, "cls": 0.5}, step=step, writer=writers[0])
    for w in writers:
        w.close()
    multiplexer.Reload()
    client.get("/data/plugin/detloss/runs")
    assert loaded.warm_idle.wait(60)
    again = json.loads(client.get(
        "/data/plugin/detloss/breakdown?run=run0&split=train&max_points=500").get_data())
    assert again["num_steps"] == 6100
def test_breakdown_cache_is_bounded_in_bytes_and_keeps_the_latest():
    b, _ = _long_breakdown()  # 2 components, 10,000 steps
    # steps, wall times, 2 × (values, weights), and one presence array the components share
    # (one writer, every component at every step).
    size = (8 + 8 + 2 * (8 + 8) + 1) * len(b.steps)
    assert reader.breakdown_nbytes(b) == size
    cache = reader.BreakdownCache(max_entries=100, max_bytes=int(2.5 * size))
    for i in range(5):
        cache.put("", reader.SeriesKey("run%d" % i, "loss", "train"), (i,), b)
    assert cache.nbytes() == 2 * size  # the two latest
    assert cache.get("", reader.SeriesKey("run0", "loss", "train"), (0,)) is None
    assert cache.get("", reader.SeriesKey("run4", "loss", "train"), (4,)) is b
    tiny = reader.BreakdownCache(max_bytes=1)  # a breakdown over the budget is still kept alone
    tiny.put("", KEY, (1,), b)
    tiny.put("", KEY, (2,), b)
    assert tiny.nbytes() == size and tiny.get("", KEY, (2,)) is b
    # The plugin's routes serialise full data in chunks: the same text as one json.dumps.
    text = "".join(plugin.json_chunks(b))
    assert json.loads(text)["steps"] == list(range(10_000))
    assert json.loads(text)["values"]["a"][7777] == "NaN"
    assert json.loads(text)["downsampled"] is False
