"""Overview series (overview.py): written beside the blocks, read for displays.

- The writer: overview rows are real rows of the series; per bucket of each level they hold
  the first and last row and every extreme of each contribution and the total, NaNs included;
  their counts give the series' exact length; sparse or short series get no overview.
- The reader: a display of a long series reads only its overview (one `read_tensors` of the
  overview tags), keeps the extremes, says how many steps the series has, follows new steps,
  and reads the series whole when the overview is stale (a restarted writer) or too coarse.
- Under both loaders a real TensorBoard answers exactly what the in-process plugin answers.
"""

import glob
import json
import os

import numpy as np
import pytest
from tensorboard import context
from tensorboard.backend.event_processing import event_file_loader
from werkzeug.datastructures import MultiDict

import tensorboard_plugin_detloss as detloss
from conftest import LOADERS, in_process
from tb_process import TensorBoard
from tensorboard_plugin_detloss import metadata, overview, plugin, reader

N = 60_000
RUNS = ("run0", "run1", "run2")
SPIKE = ("run1", 31_337)
NAN = ("run2", 45_001)
WEIGHTS = {"box": 7.5, "cls": 0.5, "dfl": 1.5}


def _values(run, step, rng):
    values = {"box": 1.0 + 1.0 / (1 + step / 1000) + 0.05 * rng.standard_normal(),
              "cls": 0.5 + 0.02 * rng.standard_normal(),
              "dfl": 0.8 + 0.1 * np.sin(step / 500.0)}
    if (run, step) == SPIKE:
        values["box"] = 40.0
    if (run, step) == NAN:
        values["cls"] = float("nan")
    return values


def write_runs(logdir):
    for r, run in enumerate(RUNS):
        rng = np.random.default_rng(r)
        with detloss.summary.FileWriter(os.path.join(logdir, run)) as w:
            for step in range(N):
                detloss.summary.write(_values(run, step, rng), step=step, weights=WEIGHTS,
                                      writer=w, walltime=1e9 + step)
                if step % 7_001 == 7_000:
                    w.flush()  # partial blocks, and overview rows of buckets still open
                if step % 1000 == 999:
                    detloss.summary.write({"box": 1.0, "cls": 0.5, "dfl": 0.8}, step=step,
                                          split="val", weights=WEIGHTS, writer=w)


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("overview"))
    write_runs(path)
    return path


def records(logdir, run):
    """{tag: (Layout, float64 rows of every record, in file order)} of one run's detloss tags."""
    out = {}
    for path in sorted(glob.glob(os.path.join(logdir, run, "events.out.tfevents.*"))):
        for event in event_file_loader.EventFileLoader(path).Load():
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == metadata.PLUGIN_NAME:
                    out.setdefault(value.tag, (metadata.parse_plugin_metadata(
                        value.metadata.plugin_data.content), []))
                if value.tag in out:
                    layout, rows = out[value.tag]
                    rows.append(np.frombuffer(value.tensor.tensor_content, "<f8")
                                .reshape(-1, layout.row_width))
    return {tag: (layout, np.concatenate(rows)) for tag, (layout, rows) in out.items()}


def test_overview_rows_are_real_rows_that_keep_every_bucket_extreme(logdir):
    for run in RUNS:
        recs = records(logdir, run)
        [(base_tag, (base, rows))] = [(t, v) for t, v in recs.items()
                                      if not v[0].overview and v[0].split == "train"]
        levels = {v[0].overview: v[1] for v in recs.values() if v[0].overview}
        # 60,000 steps span 8 buckets of 256, 1,024 and 4,096 steps, not of 16,384.
        assert sorted(levels) == [256, 1024, 4096]
        by_step = {int(r[0]): r for r in rows}
        k = len(base.components)
        for size, kept in levels.items():
            assert len(kept) < len(rows) / 10
            for row in kept:  # each overview row is the series' own row at its step
                assert np.array_equal(row[:-1], by_step[int(row[0])], equal_nan=True)
            assert overview.count_steps(size, kept[:, 0], kept[:, -1]) == N
            contributions = rows[:, 2:2 + k] * rows[:, 2 + k:2 + 2 * k]
            columns = np.column_stack([contributions, contributions.sum(axis=1)])
            kept_steps = set(kept[:, 0].astype(int).tolist())
            for bucket in range(0, N, size):
                inside = (rows[:, 0] >= bucket) & (rows[:, 0] < bucket + size)
                steps = rows[inside, 0].astype(int)
                want = {steps[0], steps[-1]}
                for column in columns[inside].T:
                    nan = np.isnan(column)
                    if nan.any():
                        want.add(steps[nan.argmax()])
                        column = np.where(nan, np.inf, column)
                    # The extreme's value (ties may pick another step of the same value).
                    assert column.min() in {
                        c for s, c in zip(steps, column) if s in kept_steps}
                    assert column.max() in {
                        c for s, c in zip(steps, column) if s in kept_steps}
                assert want <= kept_steps, (run, size, bucket)
        # The val split is logged every 1,000 steps: every row would be kept, so no overview.
        assert not [v for v in recs.values() if v[0].overview and v[0].split == "val"]
        assert base_tag + "/overview256" in recs


def test_short_series_have_no_overview(tmp_path):
    with detloss.summary.FileWriter(str(tmp_path)) as w:
        for step in range(2000):  # spans fewer than 8 of the finest buckets
            detloss.summary.write({"box": 1.0 / (step + 1)}, step=step, writer=w)
    assert [v[0].overview for v in records(str(tmp_path), "").values()] == [0]


class _TagRecorder:
    """Wraps a data provider, recording the tags of every `read_tensors`."""

    def __init__(self, inner):
        self.inner, self.reads = inner, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def read_tensors(self, ctx, **kwargs):
        self.reads.append(sorted(kwargs["run_tag_filter"].tags))
        return self.inner.read_tensors(ctx, **kwargs)


def _in_process(logdir):
    multiplexer, recorder, _, client = in_process(logdir, wrap=_TagRecorder)
    return multiplexer, recorder, client


def _multirun(client, split="train", max_points=600):
    form = MultiDict([("runs", r) for r in RUNS] + [("split", split),
                                                     ("max_points", str(max_points))])
    answer = client.post("/data/plugin/detloss/breakdown_multirun", data=form)
    assert answer.status_code == 200, answer.get_data()
    return json.loads(answer.get_data())


def _check_display(display, run, max_points=600):
    steps = display["steps"]
    assert display["num_steps"] == N and display["downsampled"] is True
    assert 0 < len(steps) <= max_points and steps == sorted(steps)
    assert steps[0] == 0 and steps[-1] == N - 1
    if run == SPIKE[0]:
        assert SPIKE[1] in steps and max(display["values"]["box"]) == 40.0
    if run == NAN[0]:
        assert display["values"]["cls"][steps.index(NAN[1])] == "NaN"


def test_display_reads_only_the_overview_and_keeps_the_extremes(logdir):
    _, recorder, client = _in_process(logdir)
    answer = _multirun(client)
    assert len(recorder.reads) == 1 and recorder.reads[0]
    assert all(tag.endswith("/overview256") for tag in recorder.reads[0])  # 60k/600: finest
    for run in RUNS:
        _check_display(answer[run], run)
    # The same request for 150 points reads a coarser level; the single-run route too.
    one = json.loads(client.get("/data/plugin/detloss/breakdown?run=run1&split=train"
                                "&max_points=150").get_data())
    assert all(tag.endswith("/overview1024") for tag in recorder.reads[-1])
    _check_display(one, "run1", 150)
    # The val split (1,000 steps apart, no overview) and exports read the series whole.
    reads = len(recorder.reads)
    val = _multirun(client, "val")
    assert all("overview" not in tag for tag in recorder.reads[reads])
    assert [len(val[r]["steps"]) for r in RUNS] == [60, 60, 60]
    full = json.loads(client.get("/data/plugin/detloss/breakdown?run=run2&split=train")
                      .get_data())
    assert len(full["steps"]) == N


def test_display_from_the_overview_draws_like_the_whole_series(logdir):
    """Against the display of every row: the same extremes per component (the chart's
    envelope), though not the same steps."""
    _, _, client = _in_process(logdir)
    answer = _multirun(client)
    _, provider_, _, _ = in_process(logdir)
    ctx = context.RequestContext()
    series = reader.list_series(provider_, ctx, "")
    keys = [k for k in series if k.split == "train"]
    whole = reader.read_breakdowns(provider_, ctx, "", keys, series)
    differs = False
    for key in keys:
        full = plugin.to_json(plugin._for_display(whole[key], 600))
        mine = answer[key.run]
        differs |= full["steps"] != mine["steps"]
        for c in WEIGHTS:
            clean = lambda xs: [x for x in xs if isinstance(x, float)]  # noqa: E731
            assert max(clean(full["values"][c])) == max(clean(mine["values"][c]))
            assert min(clean(full["values"][c])) == min(clean(mine["values"][c]))
    assert differs  # the overview answer is its own, not a read of every row


def test_overview_follows_new_steps_and_a_restarted_writer_reads_whole(tmp_path, monkeypatch):
    logdir = str(tmp_path)
    run = os.path.join(logdir, "run")
    w = detloss.summary.FileWriter(run)
    for step in range(20_000):
        detloss.summary.write({"box": 1.0 + (step == 9_999)}, step=step, writer=w)
    w.flush()
    multiplexer, recorder, client = _in_process(logdir)
    path = "/data/plugin/detloss/breakdown?run=run&split=train&max_points=200"
    first = json.loads(client.get(path).get_data())
    assert first["num_steps"] == 20_000 and 9_999 in first["steps"]
    assert "overview" in recorder.reads[-1][0]
    for step in range(20_000, 30_000):
        detloss.summary.write({"box": 1.0}, step=step, writer=w)
    w.close()
    multiplexer.Reload()
    monkeypatch.setattr(plugin, "LISTING_TTL", 0.0)
    grown = json.loads(client.get(path).get_data())
    assert grown["num_steps"] == 30_000 and grown["steps"][-1] == 29_999
    assert "overview" in recorder.reads[-1][0]
    # A restarted job: a new writer logs steps again from 25,000; too few for an overview
    # of its own, so the overview tags now end before the series does: read it whole.
    with detloss.summary.FileWriter(run) as again:
        for step in range(25_000, 25_100):
            detloss.summary.write({"box": 3.0}, step=step, writer=again)
    multiplexer.Reload()
    restarted = json.loads(client.get(path).get_data())
    assert all("overview" not in tag for tag in recorder.reads[-1])
    # (The multiplexer keeps the old run's later steps: the latest write of a step wins.)
    assert restarted["num_steps"] == 30_000 and max(restarted["values"]["box"]) == 3.0


@pytest.fixture(scope="module", params=LOADERS)
def server(request, logdir):
    tb = TensorBoard(logdir, request.param).wait_ready()
    yield tb
    tb.stop()


def test_tensorboard_answers_what_the_plugin_computes_from_the_overview(server, logdir):
    """A real TensorBoard (both loaders) lists the overview tags with their blocks' steps:
    its answer is the in-process overview answer. Polled until loaded, without asking for
    `runs` (which would read every series ahead and answer from that)."""
    import time

    _, recorder, client = _in_process(logdir)
    want = _multirun(client)
    assert all("overview" in tag for tag in recorder.reads[0])
    form = [("runs", r) for r in RUNS] + [("split", "train"), ("max_points", "600")]
    deadline = time.time() + 120
    while True:
        status, _, body = server.request("/data/plugin/detloss/breakdown_multirun", data=form)
        got = json.loads(body) if status == 200 else {}
        if all(got.get(r, {}).get("num_steps") == N for r in RUNS):
            break
        assert time.time() < deadline, (status, body[:300], server.log_text()[-2000:])
        time.sleep(0.5)
    assert json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True)


def test_a_damaged_overview_never_breaks_a_display(tmp_path):
    """Hand-made overview rows in the blocks' own events — NaN and negative counts and steps, a
    wrong width — give answers, never a 500: rows that cannot be read make the series read
    whole; readable ones with odd counts still draw, with a sane number of steps."""
    from tensorboard.compat.proto import event_pb2, summary_pb2

    from tensorboard_plugin_detloss import event_file

    base = metadata.Layout("loss", "train", ["box"], False, block=True)
    rows = np.zeros((20_000, 4))
    rows[:, 0] = np.arange(20_000)
    rows[:, 1] = 1e9
    rows[:, 2] = 1.0
    rows[:, 3] = 2.0
    odd = np.array([[0, 1e9, 5.0, 2.0, np.nan], [7, 1e9, 1.0, 2.0, -1.0],
                    [19_999, 1e9, 1.0, 2.0, 1e300]])
    with event_file.FileWriter(str(tmp_path / "run")) as w:
        w.add_event(event_pb2.Event(wall_time=1e9, step=0, summary=summary_pb2.Summary(
            value=[w._block_value(base, 10_000, rows[:10_000].tobytes())])))
        values = [w._block_value(base, 10_000, rows[10_000:].tobytes()),
                  w._block_value(base.as_overview(256), len(odd), odd.tobytes())]
        wrong = w._block_value(base.as_overview(1024), 1, np.zeros(3).tobytes())
        wrong.tensor.tensor_shape.dim[1].size = 3
        values.append(wrong)
        w.add_event(event_pb2.Event(wall_time=1e9, step=10_000,
                                    summary=summary_pb2.Summary(value=values)))
    _, recorder, client = _in_process(str(tmp_path))
    for max_points in (20, 60):
        answer = client.get("/data/plugin/detloss/breakdown?run=run&split=train&max_points=%d"
                            % max_points)
        assert answer.status_code == 200, answer.get_data()
        body = json.loads(answer.get_data())
        assert body["num_steps"] >= len(body["steps"]) > 0
        assert set(body["steps"]) <= set(range(20_000))
    # 1024 cannot be read (wrong width): the whole series was; 256 was used as it is.
    assert any(tag.endswith("/overview1024") for tag in recorder.reads[0])
    assert recorder.reads[1] == ["detloss/loss/train/" + base.tag.rsplit("/", 1)[1]]
    assert recorder.reads[2][0].endswith("/overview256") and len(recorder.reads) == 3
    assert body["steps"] == [0, 7, 19_999] and body["values"]["box"] == [5.0, 1.0, 1.0]
    assert body["num_steps"] == 3  # no count could be read: the rows it has
    # A step that cannot be read makes the overview unusable: the series is read whole.
    odd[1, 0] = np.nan
    with event_file.FileWriter(str(tmp_path / "run")) as w:
        w.add_event(event_pb2.Event(wall_time=2e9, step=10_000, summary=summary_pb2.Summary(
            value=[w._block_value(base, 10_000, rows[10_000:].tobytes()),
                   w._block_value(base.as_overview(256), len(odd), odd.tobytes())])))
    _, recorder, client = _in_process(str(tmp_path))
    body = json.loads(client.get("/data/plugin/detloss/breakdown?run=run&split=train"
                                 "&max_points=60").get_data())
    assert recorder.reads[0][0].endswith("/overview256") and "overview" not in recorder.reads[1][0]
    assert 0 < len(body["steps"]) <= 60 and body["num_steps"] == 20_000


def test_a_restart_that_relogs_steps_is_drawn_as_the_whole_series(tmp_path):
    """A job restarted from a checkpoint re-logs steps 20,000–26,000 with new values and writes
    an overview of its own: the overview tags end where the blocks do, but hold the first run's
    rows for steps it re-logged. Every point drawn is the series' own value at that step."""
    run = str(tmp_path / "run")
    with detloss.summary.FileWriter(run) as first:
        for step in range(30_000):
            detloss.summary.write({"box": 1.0 + (step % 7) * 0.01}, step=step, writer=first,
                                  walltime=1e9 + step)
    with detloss.summary.FileWriter(run) as again:
        for step in range(20_000, 26_001):
            detloss.summary.write({"box": 3.0 + (step % 5) * 0.01}, step=step, writer=again,
                                  walltime=2e9 + step)
    _, recorder, client = _in_process(str(tmp_path))
    body = json.loads(client.get("/data/plugin/detloss/breakdown?run=run&split=train"
                                 "&max_points=400").get_data())
    whole = json.loads(client.get("/data/plugin/detloss/breakdown?run=run&split=train")
                       .get_data())
    value_at = dict(zip(whole["steps"], whole["values"]["box"]))
    assert [value_at[s] for s in body["steps"]] == body["values"]["box"]
    assert body["num_steps"] == 30_000
    assert any(20_000 <= s <= 26_000 for s in body["steps"])
    # The overview was listed and fresh, so it was read — and then not used: read whole.
    assert recorder.reads[0][0].endswith("/overview256")
    assert all("overview" not in tag for tag in recorder.reads[1])
