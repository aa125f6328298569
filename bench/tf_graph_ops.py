"""What one logged step costs inside `tf.function`, op by op (the TF path's per-step budget).

    python bench/tf_graph_ops.py [--quick] [--repeats 7] [--steps 500] [--calls 10]

Every case is a `tf.function` that logs STEPS steps per call in a `tf.while_loop` (as the
"50 steps per call" row of bench/writer.py, which spreads the 200-300 µs cost of a call), into
a fresh `tf.summary.create_file_writer` directory. Cases are interleaved and repeated; the table
gives the median µs per step and the median minus the empty step's. Two models of where the 5
logged values come from:

- captured: eager tensors created outside the function (as bench/writer.py does); reading
  them in the loop body is itself paid per step, by every case that reads them;
- train: each step computes the values from a variable and applies an update that uses them,
  in every case including the empty step (as a training step does whether or not it logs).

The cases isolate the parts of detloss's graph (`_tf_summary._row` + `tf.summary.write`):
one `tf.summary.write` of a constant row is what any one-event-per-step design must pay.
"""

import argparse
import os
import statistics
import shutil
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

import tensorboard_plugin_detloss as detloss  # noqa: E402
from tensorboard_plugin_detloss import summary as _summary  # noqa: E402

NAMES = ("box", "cls", "dfl", "obj", "mask")
WEIGHTS = {n: 1.0 + 0.5 * i for i, n in enumerate(NAMES)}
LAYOUT = _summary._layout("loss", "train", NAMES, False)
META = LAYOUT.summary_metadata().SerializeToString()
WL = [WEIGHTS[n] for n in NAMES]


def _row(vals):
    """detloss's graph row for 5 float32 values and Python-float weights (as `_tf_summary._row`
    builds it): one stack, one cast, one constant, one concat."""
    return tf.concat([tf.cast(tf.stack(vals), tf.float64), tf.constant(WL, tf.float64)], 0)


def cases(state):
    """name -> (label, body(step, values)). `state` holds variables created once."""
    const_row = lambda: tf.constant([0.5] * 10, tf.float64)  # noqa: E731

    def scalar5(s, v):
        for n, x in zip(NAMES, v):
            tf.summary.scalar("train/" + n, x, step=s)

    def buffer_row(s, v):
        # In-graph buffering's least per-step work (no block write, no flush condition): a
        # [step, wall_time, values..., weights...] row scattered into a [64, 12] variable.
        row = tf.concat([tf.cast(tf.stack([s]), tf.float64), tf.reshape(tf.timestamp(), [1]),
                         _row(v)], 0)
        i = state["count"].assign_add(1) % 64
        state["buffer"].scatter_nd_update(tf.reshape(i, [1, 1]), tf.reshape(row, [1, 12]))

    return {
        "empty": ("empty step", lambda s, v: None),
        "scalar5": ("5 × tf.summary.scalar", scalar5),
        "detloss": ("detloss.summary.write", lambda s, v: detloss.summary.write(
            dict(zip(NAMES, v)), step=s, weights=WEIGHTS)),
        "assign": ("one variable assign_add (the cheapest side effect)",
                   lambda s, v: state["side"].assign_add(1)),
        "write_nometa": ("tf.summary.write, constant row, no metadata",
                         lambda s, v: tf.summary.write(LAYOUT.tag, const_row(), step=s)),
        "write_const": ("tf.summary.write, constant row, detloss metadata (the floor)",
                        lambda s, v: tf.summary.write(LAYOUT.tag, const_row(), s, META)),
        "write_const2": ("two of those", lambda s, v: [
            tf.summary.write(LAYOUT.tag, const_row(), s, META) for _ in range(2)]),
        "write_stack": ("tf.summary.write of tf.stack(values) (float32)",
                        lambda s, v: tf.summary.write(LAYOUT.tag, tf.stack(v), s, META)),
        "write_row": ("tf.summary.write of detloss's row (stack, cast, const, concat)",
                      lambda s, v: tf.summary.write(LAYOUT.tag, _row(v), s, META)),
        "buffer": ("row into a tf.Variable buffer, no write (buffering's least)", buffer_row),
    }


def run(body, model, state, steps, calls):
    logdir = tempfile.mkdtemp()
    w = tf.summary.create_file_writer(logdir)
    captured = [tf.constant(0.1 * (i + 1)) for i in range(len(NAMES))]

    def loop_body(i, acc, step):
        s = step * steps + i
        if model == "train":  # a training step: values from the weights, an update using them
            p = state["param"].read_value()
            vals = [p * (0.1 * (k + 1)) for k in range(len(NAMES))]
            state["param"].assign_sub(1e-9 * tf.add_n(vals))
        else:
            vals = captured
        body(s, vals)
        return i + 1, acc + s, step

    @tf.function
    def fn(step):
        return tf.while_loop(lambda i, acc, step: i < steps, loop_body,
                             (tf.constant(0, tf.int64), step, step))[1]

    with w.as_default():
        fn(tf.constant(0, tf.int64))  # trace
        start = time.perf_counter()
        for c in range(1, calls + 1):
            fn(tf.constant(c, tf.int64))
        w.flush()
        elapsed = time.perf_counter() - start
    w.close()
    shutil.rmtree(logdir)
    return 1e6 * elapsed / (calls * steps)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=500, help="steps per call")
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--models", default="captured,train")
    parser.add_argument("--quick", action="store_true", help="2 repeats of 3 calls of 100 steps")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.steps, args.calls = 2, 100, 3
    print("detloss from", os.path.dirname(detloss.__file__), file=sys.stderr)
    state = {
        "side": tf.Variable(0, dtype=tf.int64),
        "count": tf.Variable(0, dtype=tf.int64),
        "buffer": tf.Variable(tf.zeros([64, 12], tf.float64)),
        "param": tf.Variable(1.0),
    }
    table = cases(state)
    models = args.models.split(",")
    times = {}
    for _ in range(args.repeats):
        for model in models:
            for key, (_, body) in table.items():  # interleaved: drift hits every case alike
                times.setdefault((model, key), []).append(
                    run(body, model, state, args.steps, args.calls))
    print("Inside tf.function, %d steps per call in a tf.while_loop, %d calls, median of %d "
          "(interleaved); µs per step\n" % (args.steps, args.calls, args.repeats))
    head = "| case |" + "".join(" %s | %s − empty | × 5 scalars |" % (m, m) for m in models)
    print(head)
    print("|---|" + "---|---|---|" * len(models))
    med = {k: statistics.median(v) for k, v in times.items()}
    for key, (label, _) in table.items():
        cells = []
        for m in models:
            e, t, s = med[(m, "empty")], med[(m, key)], med[(m, "scalar5")]
            cells.append(" %.2f | %.2f | %s |" % (
                t, t - e, "%.2f" % ((t - e) / (s - e)) if key != "empty" else ""))
        print("| %s |%s" % (label, "".join(cells)))


if __name__ == "__main__":
    main()
