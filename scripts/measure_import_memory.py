"""Measures what keeping every scalar point (`--samples_per_plugin scalars=0`, the detloss
loader's default) costs in memory, against TensorBoard's own default (1000 per tag).

Writes a logdir of framework-style scalar logs, starts a real TensorBoard per loader and
setting, waits until every point is loaded, and prints the resident memory of the TensorBoard
process and its children (the Rust data server under --load_fast=true).

    python scripts/measure_import_memory.py [--points-per-tag N] [--tags T] [--runs R]
"""

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

from tensorboard.compat.proto import summary_pb2  # noqa: E402

from tb_process import TensorBoard, rss_kib  # noqa: E402
from tensorboard_plugin_detloss.event_file import FileWriter  # noqa: E402


def write_logdir(logdir, runs, tags, points):
    for r in range(runs):
        with FileWriter(os.path.join(logdir, "run%d" % r)) as w:
            names = ["train/box_loss", "train/cls_loss", "train/dfl_loss"]
            names += ["metrics/m%d" % i for i in range(tags - len(names))]
            for step in range(points):
                summary = summary_pb2.Summary(value=[
                    summary_pb2.Summary.Value(tag=t, simple_value=1.0 / (step + 1 + i))
                    for i, t in enumerate(names)
                ])
                w.add_summary(summary, step=step, walltime=1.0e9 + step)


def measure(logdir, load_fast, samples, want_points, last_run):
    extra = ["--samples_per_plugin", "scalars=%d" % samples]
    tb = TensorBoard(logdir, load_fast, extra_args=extra).wait_ready()
    try:
        deadline = time.time() + 600
        while time.time() < deadline:
            # The imported breakdown of the last run: complete when its last step is there
            # (every sampling setting keeps the last point of a tag).
            status, _, body = tb.request(
                "/data/plugin/detloss/breakdown?run=run%d&split=train&max_points=10" % last_run,
                timeout=120)
            if status == 200 and json.loads(body)["steps"][-1:] == [want_points - 1]:
                break
            time.sleep(2)
        time.sleep(5)  # let the reload loop settle
        return rss_kib(tb.process.pid)
    finally:
        tb.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--points-per-tag", type=int, default=100_000)
    parser.add_argument("--tags", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        logdir = os.path.join(tmp, "logs")
        t0 = time.time()
        write_logdir(logdir, args.runs, args.tags, args.points_per_tag)
        total = args.runs * args.tags * args.points_per_tag
        print("logdir: %d runs x %d tags x %d points = %d scalar points (written in %.0f s)"
              % (args.runs, args.tags, args.points_per_tag, total, time.time() - t0))
        for load_fast in (False, True):
            for samples in (1000, 10_000, 0):
                kib = measure(logdir, load_fast, samples, args.points_per_tag, args.runs - 1)
                print("load_fast=%-5s scalars=%-4d  RSS %7.1f MiB" % (
                    load_fast, samples, kib / 1024.0), flush=True)


if __name__ == "__main__":
    main()
