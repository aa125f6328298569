"""Logdirs written by the real writers, with the exact data each run should read back as.

Every `write_*` function logs through one real writer (torch's SummaryWriter, tensorboardX,
detloss's FileWriter, TensorFlow eager / tf.function) and records what it logged in an
`Expected`, so tests compare the server's answer with what was written, value for value.
"""

import json
import math
import os
import subprocess
import sys
import textwrap

import numpy as np

import tensorboard_plugin_detloss as detloss

XSS_RUN = "<img src=x onerror=alert(1)>"


class Expected:
    """(run, name, split) -> {step: (components dict, weights dict, total or None)}."""

    def __init__(self):
        self.points = {}

    def record(self, run, step, components, split="train", weights=None, total=None, name="loss"):
        weights = weights or {}
        self.points.setdefault((run, name, split), {})[step] = (
            dict(components),
            {c: float(weights.get(c, 1.0)) for c in components},
            None if total is None else float(total),
        )

    def merge(self, other):
        for key, points in other.points.items():
            self.points.setdefault(key, {}).update(points)

    def breakdown(self, key):
        """The `breakdown` route's JSON for `key` (before NaN/Inf become strings)."""
        points = self.points[key]
        steps = sorted(points)
        components = []
        for s in steps:
            for c in points[s][0]:
                if c not in components:
                    components.append(c)
        has_total = any(points[s][2] is not None for s in steps)
        return {
            "run": key[0],
            "name": key[1],
            "split": key[2],
            "components": components,
            "steps": steps,
            "values": {c: [points[s][0].get(c) for s in steps] for c in components},
            "weights": {c: [points[s][1].get(c) for s in steps] for c in components},
            "total": [points[s][2] for s in steps] if has_total else None,
        }


def _schedule_run(expected, run, write, n=60, val_every=10):
    """A run with a weight schedule, a component added mid-run (l1 from step 40), a total
    logged throughout, and a val split at a coarser cadence. `write(kwargs)` logs one call."""
    for step in range(n):
        comps = {"box": 1.0 / (step + 1), "cls": 0.5 + 0.01 * step, "dfl": 0.25}
        if step >= 40:
            comps["l1"] = 0.125
        weights = {"box": 7.5, "cls": 0.5 + step / 100.0, "dfl": 1.5}
        total = sum(weights.get(c, 1.0) * v for c, v in comps.items())
        write(dict(components=comps, step=step, weights=weights, total=total))
        expected.record(run, step, comps, weights=weights, total=total)
        if step % val_every == val_every - 1:
            val = {"box": 2.0 / (step + 1), "cls": 0.75, "dfl": 0.375}
            write(dict(components=val, step=step, split="val", weights=weights))
            expected.record(run, step, val, split="val", weights=weights)


def write_torch_run(logdir, expected, run="torch_writer"):
    import torch
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(os.path.join(logdir, run))

    def write(kw):
        # Values as 0-d torch tensors, as a training loop has them (float64: exact round trip).
        kw["components"] = {k: torch.tensor(v, dtype=torch.float64) for k, v in kw["components"].items()}
        assert detloss.summary.write(writer=writer, **kw) is True
        writer.add_scalar("lr", 0.01, kw["step"])  # other plugins' data beside ours

    _schedule_run(expected, run, write)
    writer.close()


def write_tensorboardx_run(logdir, expected, run="tbx_writer"):
    from tensorboardX import SummaryWriter

    writer = SummaryWriter(os.path.join(logdir, run))
    _schedule_run(expected, run, lambda kw: detloss.summary.write(writer=writer, **kw))
    writer.close()


def write_filewriter_run(logdir, expected, run="file_writer"):
    """Non-finite values, two loss names, an int value, numpy scalars."""
    with detloss.summary.FileWriter(os.path.join(logdir, run)) as w:
        for step in range(20):
            comps = {"box": np.float32(0.5), "cls": 3, "obj": 0.125 * step}
            if step == 10:
                comps["obj"] = float("nan")
            if step == 11:
                comps["obj"] = float("inf")
            if step == 12:
                comps["obj"] = float("-inf")
            detloss.summary.write(comps, step=step, writer=w)
            expected.record(run, step, {k: float(v) for k, v in comps.items()})
            aux = {"aux_cls": 0.1 * step}
            detloss.summary.write(aux, step=step, name="aux_loss", weights={"aux_cls": 0.5},
                                  writer=w)
            expected.record(run, step, aux, name="aux_loss", weights={"aux_cls": 0.5})


def write_big_run(logdir, expected, run="big", steps=100_000):
    """One long series: both loaders must return every step."""
    values = np.round(np.linspace(5.0, 0.5, steps), 6)
    with detloss.summary.FileWriter(os.path.join(logdir, run)) as w:
        for step in range(steps):
            v = float(values[step])
            detloss.summary.write({"box": v, "cls": 0.5}, step=step,
                                  weights={"box": 2.0}, writer=w)
            expected.record(run, step, {"box": v, "cls": 0.5}, weights={"box": 2.0})


def write_xss_run(logdir, expected):
    with detloss.summary.FileWriter(os.path.join(logdir, XSS_RUN)) as w:
        for step in range(10):
            comps = {"<script>alert(1)</script>": 0.5, "box": 1.0 / (step + 1)}
            detloss.summary.write(comps, step=step, writer=w)
            expected.record(XSS_RUN, step, comps)


_TF_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np
    import tensorflow as tf
    import tensorboard_plugin_detloss as detloss

    logdir = sys.argv[1]
    out = {}

    def record(run, step, comps, weights, total, split="train"):
        out.setdefault(run, []).append([step, split, comps, weights, total])

    # Eager, inside a default writer.
    with tf.summary.create_file_writer(os.path.join(logdir, "tf_eager")).as_default():
        for step in range(30):
            comps = {"box": tf.constant(1.0 / (step + 1), tf.float64), "cls": np.float64(0.25)}
            if step >= 20:
                comps["l1"] = 0.5
            weights = {"box": 7.5, "cls": 0.5 + step / 64.0}
            assert bool(detloss.summary.write(comps, step=step, weights=weights))
            record("tf_eager", step, {k: float(v) for k, v in comps.items()}, weights, None)
        for step in (9, 19, 29):
            assert bool(detloss.summary.write({"box": 0.75, "cls": 0.5}, step=step, split="val"))
            record("tf_eager", step, {"box": 0.75, "cls": 0.5}, {}, None, "val")

    # Inside tf.function, with record_if and the default step; values are float32 tensors.
    writer = tf.summary.create_file_writer(os.path.join(logdir, "tf_function"))

    @tf.function
    def train_step(step):
        box = tf.cast(step, tf.float32) * 0.5
        cls = tf.constant(0.25, tf.float32)
        total = 7.5 * box + 0.5 * cls
        with tf.summary.record_if(step % 2 == 0):
            detloss.summary.write({"box": box, "cls": cls}, weights={"box": 7.5, "cls": 0.5},
                                  total=total)
        return box, cls, total

    # The default step inside tf.function must be a variable (a Python int is traced as a constant).
    step_var = tf.Variable(0, dtype=tf.int64)
    tf.summary.experimental.set_step(step_var)
    with writer.as_default():
        for step in range(20):
            step_var.assign(step)
            box, cls, total = train_step(tf.constant(step, tf.int64))
            if step % 2 == 0:
                record("tf_function", step, {"box": float(box.numpy()), "cls": float(cls.numpy())},
                       {"box": 7.5, "cls": 0.5}, float(total.numpy()))
    writer.flush()
    json.dump(out, sys.stdout)
    """
)


def write_tf_runs(logdir, expected):
    """TF eager and tf.function runs, written in a subprocess (keeps TF out of the test process)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", _TF_SCRIPT, str(logdir)], check=True,
                          capture_output=True, text=True, env=env, timeout=300)
    for run, points in json.loads(proc.stdout).items():
        for step, split, comps, weights, total in points:
            expected.record(run, step, comps, split=split, weights=weights, total=total)


def json_equal(actual, expected):
    """Exact equality, NaN equal to NaN; TensorBoard's JSON sends non-finite numbers as strings."""
    if isinstance(expected, float) and not math.isfinite(expected):
        names = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
        return actual == names[repr(expected)]
    if isinstance(expected, dict):
        return (isinstance(actual, dict) and actual.keys() == expected.keys()
                and all(json_equal(actual[k], expected[k]) for k in expected))
    if isinstance(expected, list):
        return (isinstance(actual, list) and len(actual) == len(expected)
                and all(json_equal(a, e) for a, e in zip(actual, expected)))
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        return (isinstance(actual, (int, float)) and not isinstance(actual, bool)
                and actual == expected)
    return actual == expected
