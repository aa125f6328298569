"""Ingestion and server, detloss against the scalar form of the same training, in real
TensorBoard processes under both loaders.

    python bench/tensorboard_io.py [--quick] [--runs 32] [--steps 200000]

The same training — R runs × N steps × K components with weights, val every 1,000 steps — is
written twice: as detloss records, and as the K scalars per step (`train/<c>`, `val/<c>`) a
user would log instead. Reported:
  - ingestion: seconds from TensorBoard's start until every run's last step is served;
  - server: detloss `breakdown_multirun` (train and val, every component, downsampled for
    display to 2,000 points, in the tab's binary format; JSON once too) against the scalars plugin's `scalars_multirun` for every loss tag;
    time and response bytes: cold (the first request after loading: nothing read yet, the
    long series drawn from their overviews), warm (repeated), and after the tab listed the runs
    (read ahead in the background).
"""

import argparse
import os
import statistics
import struct
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "tests"), os.path.dirname(os.path.abspath(__file__))]

from tb_process import TensorBoard, rss_kib  # noqa: E402

import tensorboard_plugin_detloss as detloss  # noqa: E402
from tensorboard_plugin_detloss import event_file  # noqa: E402
from writer import varint  # noqa: E402

COMPONENTS = ("box", "cls", "dfl", "obj", "l1")
GAINS = {"box": 7.5, "cls": 0.5, "dfl": 1.5, "obj": 1.0, "l1": 1.0}
VAL_EVERY = 1000


def _value(c, step, n):
    # A decaying loss with per-step noise (a multiplicative hash: deterministic, and as
    # irregular as a real loss, so downsampling and overviews keep as many rows as they would).
    i = COMPONENTS.index(c)
    noise = ((step * 2654435761 + i * 40503) % 4096) / 40960.0
    return 1.0 + i + 1.0 / (1 + 10 * step / n) + noise


def write_detloss(logdir, runs, n):
    for r in range(runs):
        with detloss.summary.FileWriter(os.path.join(logdir, "run%02d" % r)) as w:
            for step in range(n):
                values = {c: _value(c, step, n) for c in COMPONENTS}
                detloss.summary.write(values, step=step, weights=GAINS, writer=w,
                                      walltime=1e9 + step)
                if step % VAL_EVERY == VAL_EVERY - 1:
                    detloss.summary.write(values, step=step, split="val", weights=GAINS,
                                          writer=w, walltime=1e9 + step)


def _overview_share(run_dir):
    """The share of a run's detloss tensor bytes that are overview rows (docs/FORMAT.md)."""
    from tensorboard.backend.event_processing import event_file_loader

    overview_bytes = total = 0
    for name in os.listdir(run_dir):
        for event in event_file_loader.EventFileLoader(os.path.join(run_dir, name)).Load():
            for value in event.summary.value:
                total += len(value.tensor.tensor_content)
                if "/overview" in value.tag:
                    overview_bytes += len(value.tensor.tensor_content)
    return overview_bytes / max(1, total)


def _scalar_event(tag, step, value, wall):
    """Event{wall_time, step, summary{value{tag, simple_value}}}, as torch's add_scalar writes."""
    value_bytes = b"\x0a" + varint(len(tag)) + tag + b"\x15" + struct.pack("<f", value)
    summary = b"\x0a" + varint(len(value_bytes)) + value_bytes
    return (b"\x09" + struct.pack("<d", wall) + b"\x10" + varint(step) +
            b"\x2a" + varint(len(summary)) + summary)


def write_scalars(logdir, runs, n):
    version = b"\x09" + struct.pack("<d", 1e9) + b"\x1a\x0dbrain.Event:2"
    for r in range(runs):
        d = os.path.join(logdir, "run%02d" % r)
        os.makedirs(d)
        with open(os.path.join(d, "events.out.tfevents.1.scalars"), "wb") as f:
            f.write(event_file._frame(version))
            for step in range(n):
                for c in COMPONENTS:
                    v = _value(c, step, n)
                    f.write(event_file._frame(_scalar_event(b"train/" + c.encode(), step, v,
                                                            1e9 + step)))
                    if step % VAL_EVERY == VAL_EVERY - 1:
                        f.write(event_file._frame(_scalar_event(b"val/" + c.encode(), step, v,
                                                                1e9 + step)))


def _wait_loaded(tb, kind, runs, n, timeout):
    """Seconds until the last step of every run is served."""
    import json
    from urllib.parse import urlencode

    start = time.monotonic()
    pending = ["run%02d" % r for r in range(runs)]
    while pending and time.monotonic() - start < timeout:
        run = pending[-1]
        # The val series: small to ask for in both forms (so the check costs no reading of
        # the big train series), and written after the train steps in both files — served up
        # to its last step means the whole file is loaded.
        if kind == "detloss":
            status, _, body = tb.request("/data/plugin/detloss/breakdown?" + urlencode(
                {"run": run, "split": "val"}))
            done = status == 200 and json.loads(body)["steps"][-1] == n - 1
        else:
            status, _, body = tb.request("/data/plugin/scalars/scalars?" + urlencode(
                {"run": run, "tag": "val/" + COMPONENTS[-1]}))
            done = status == 200 and json.loads(body) and json.loads(body)[-1][1] == n - 1
        if done:
            pending.pop()
        else:
            time.sleep(0.25)
    if pending:
        raise RuntimeError("%s not loaded in %ss" % (kind, timeout))
    return time.monotonic() - start


def _rss_mb(pid):
    """Resident memory of TensorBoard and its descendants (the Rust data server), in MB."""
    return rss_kib(pid) / 1024.0


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _detloss_multirun(tb, names, fmt="binary"):
    """(seconds, bytes) of the train and val `breakdown_multirun` of every run, for display,
    in the tab's binary format (or fmt "json")."""
    seconds, size = 0.0, 0
    for split in ("train", "val"):
        t, (status, _, body) = _timed(lambda: tb.request(
            "/data/plugin/detloss/breakdown_multirun",
            data=names + [("split", split), ("max_points", "2000"), ("format", fmt)],
            timeout=600))
        assert status == 200, body[:200]
        seconds += t
        size += len(body)
    return seconds, size


def _warnings_of_every_run(tb, names):
    """Seconds of one `warnings` request per run (as the tab asks)."""
    seconds = 0.0
    for _, run in names:
        t, (status, _, body) = _timed(lambda: tb.request(
            "/data/plugin/detloss/warnings?run=" + run, timeout=600))
        assert status == 200, body[:200]
        seconds += t
    return seconds


def measure(detloss_dir, scalar_dir, runs, n, load_fast, repeats):
    out = {}
    tbs = {}
    for kind, logdir in (("detloss", detloss_dir), ("scalars", scalar_dir)):
        # The alternative as users run it: TensorBoard's default sampling of scalars (1,000 per
        # tag; with detloss installed the default would be 10,000, for its importers).
        extra = ("--samples_per_plugin", "scalars=1000") if kind == "scalars" else ()
        tb = TensorBoard(logdir, load_fast, extra_args=extra, log_path=os.path.join(
            os.path.dirname(logdir), "tb-%s-%s.log" % (kind, load_fast)))
        tb.wait_ready(120)
        out["ingest " + kind] = _wait_loaded(tb, kind, runs, n, 1800)
        out["rss " + kind] = _rss_mb(tb.process.pid)
        tbs[kind] = tb
    # Waiting for the detloss data read (and so cached) its breakdowns: measure the cold request
    # on a second TensorBoard, given well over the measured ingestion time to load.
    tbs["detloss"].stop()
    tbs["detloss"] = TensorBoard(detloss_dir, load_fast, log_path=os.path.join(
        os.path.dirname(detloss_dir), "tb-detloss2-%s.log" % load_fast)).wait_ready(120)
    time.sleep(1.5 * out["ingest detloss"] + 2)
    names = [("runs", "run%02d" % r) for r in range(runs)]
    detloss_times, detloss_bytes, scalar_times, scalar_bytes, warm = [], 0, [], 0, []
    for _ in range(repeats):
        # Cold: a fresh plugin cache is not available without a restart; the first request
        # after loading is cold, the next ones warm (reported apart).
        t_total, size = _detloss_multirun(tbs["detloss"], names)
        if not detloss_times:
            # The same as JSON, right after: the overviews are read again (only the encoded
            # answers are cached), then encoded as JSON.
            out["json"], out["json bytes"] = _detloss_multirun(tbs["detloss"], names, "json")
        (detloss_times if not detloss_times else warm).append(t_total)
        detloss_bytes = size
        t_total, size = 0.0, 0
        for prefix in ("train/", "val/"):
            for c in COMPONENTS:
                t, (status, _, body) = _timed(lambda: tbs["scalars"].request(
                    "/data/plugin/scalars/scalars_multirun",
                    data=names + [("tag", prefix + c)], timeout=600))
                assert status == 200, body[:200]
                t_total += t
                size += len(body)
        scalar_times.append(t_total)
        scalar_bytes = size
    # Diagnostics: the warnings of every run, one request each (the tab asks per run), cold
    # (breakdowns evicted or never read: a fresh TensorBoard) and once more after the reads.
    warnings = [_warnings_of_every_run(tbs["detloss"], names) for _ in range(2)]
    warm_rss = _rss_mb(tbs["detloss"].process.pid)
    # As the tab does it: list the runs first. The plugin then reads every series ahead in the
    # background; given that time (3 × the cold request, at least 5 s), the first comparison
    # and the warnings of every run are answered from memory.
    tbs["detloss"].stop()
    tbs["detloss"] = TensorBoard(detloss_dir, load_fast, log_path=os.path.join(
        os.path.dirname(detloss_dir), "tb-detloss3-%s.log" % load_fast)).wait_ready(120)
    time.sleep(1.5 * out["ingest detloss"] + 2)
    status, _, body = tbs["detloss"].request("/data/plugin/detloss/runs")
    assert status == 200, body[:200]
    ahead_wait = max(5.0, 3 * detloss_times[0])
    time.sleep(ahead_wait)
    t_total, _ = _detloss_multirun(tbs["detloss"], names)
    ahead_warnings = _warnings_of_every_run(tbs["detloss"], names)
    out.update({"ahead": t_total, "ahead warnings": ahead_warnings, "ahead wait": ahead_wait,
                "rss ahead": _rss_mb(tbs["detloss"].process.pid)})
    for tb in tbs.values():
        tb.stop()
    out.update({
        "detloss cold": detloss_times[0], "detloss warm": statistics.median(warm) if warm else None,
        "detloss bytes": detloss_bytes, "scalars sweep": statistics.median(scalar_times),
        "scalars bytes": scalar_bytes, "rss detloss warm": warm_rss,
        "warnings first": warnings[0], "warnings again": warnings[1],
    })
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--loaders", default="false,true",
                        help="load_fast values to measure, e.g. 'true' (the scalar form of "
                             "32 × 200k takes the multiplexer most of an hour to load)")
    args = parser.parse_args()
    loaders = [x.strip() == "true" for x in args.loaders.split(",")]
    runs = args.runs or (4 if args.quick else 32)
    n = args.steps or (20_000 if args.quick else 200_000)
    repeats = 3 if args.quick else 5
    with tempfile.TemporaryDirectory() as tmp:
        detloss_dir, scalar_dir = os.path.join(tmp, "detloss"), os.path.join(tmp, "scalars")
        t, _ = _timed(lambda: write_detloss(detloss_dir, runs, n))
        t2, _ = _timed(lambda: write_scalars(scalar_dir, runs, n))
        size = lambda d: sum(os.path.getsize(os.path.join(r, f))  # noqa: E731
                             for r, _, fs in os.walk(d) for f in fs)
        print("%d runs × %s steps × %d components (+ val every %d): detloss %.0f MB (of which "
              "overviews %.1f %%), scalar form %.0f MB (%.2f×); written in %.0f s / %.0f s\n" % (
                  runs, "{:,}".format(n), len(COMPONENTS), VAL_EVERY, size(detloss_dir) / 1e6,
                  100 * _overview_share(os.path.join(detloss_dir, "run00")),
                  size(scalar_dir) / 1e6, size(detloss_dir) / size(scalar_dir), t, t2))
        print("| loader | ingest detloss | ingest scalars | ratio | detloss multirun (cold / warm "
              "/ after the tab listed the runs) | scalars_multirun sweep | time ratio (cold / warm "
              "/ listed) | bytes detloss / scalars | warnings of every run (cold / again / "
              "listed) | TensorBoard RSS detloss (after reads; listed) / scalars |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for load_fast in loaders:
            m = measure(detloss_dir, scalar_dir, runs, n, load_fast, repeats)
            print("| load_fast=%s | %.1f s | %.1f s | %.2f× | %.3f s / %.3f s / %.3f s | %.3f s "
                  "| %.3f× / %.3f× / %.3f× | %s / %s (%.2f×) | %.2f s / %.2f s / %.2f s "
                  "| %.0f (%.0f; %.0f) / %.0f MB |" % (
                      str(load_fast).lower(), m["ingest detloss"], m["ingest scalars"],
                      m["ingest detloss"] / m["ingest scalars"], m["detloss cold"],
                      m["detloss warm"] or float("nan"), m["ahead"], m["scalars sweep"],
                      m["detloss cold"] / m["scalars sweep"],
                      (m["detloss warm"] or m["detloss cold"]) / m["scalars sweep"],
                      m["ahead"] / m["scalars sweep"],
                      "{:,}".format(m["detloss bytes"]), "{:,}".format(m["scalars bytes"]),
                      m["detloss bytes"] / m["scalars bytes"], m["warnings first"],
                      m["warnings again"], m["ahead warnings"], m["rss detloss"],
                      m["rss detloss warm"], m["rss ahead"], m["rss scalars"]))
            print("\n(load_fast=%s) the same first request as JSON instead of the tab's binary "
                  "format: %.3f s (%.3f× of the sweep), %s bytes (%.2f×)\n" % (
                      str(load_fast).lower(), m["json"], m["json"] / m["scalars sweep"],
                      "{:,}".format(m["json bytes"]), m["json bytes"] / m["scalars bytes"]))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
