"""Writer cost per step and bytes on disk: detloss against K scalars per step.

    python bench/writer.py [--quick] [--components 5] [--no-tf | --tf-only]

Every case logs the same training (K components with weights) for N steps into a fresh
directory; cases are interleaved and repeated, the median is reported, and ratios are taken
against the alternative in the same run. TensorFlow cases run in a subprocess (TF is imported
there only).
"""

import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time

import tensorboard_plugin_detloss as detloss
from tensorboard_plugin_detloss import summary
from tensorboard_plugin_detloss._crc32c import masked_crc32c


def _components(k):
    names = ["box", "cls", "dfl", "obj", "mask", "l1", "giou", "rpn_cls", "rpn_loc", "aux",
             "seg", "kobj"][:k]
    values = {n: 0.1 * (i + 1) for i, n in enumerate(names)}
    weights = {n: 1.0 + 0.5 * i for i, n in enumerate(names)}
    return values, weights


def _dir_bytes(path):
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)


def case_detloss_filewriter(logdir, n, k):
    values, weights = _components(k)
    with detloss.summary.FileWriter(logdir) as w:
        start = time.perf_counter()
        for step in range(n):
            detloss.summary.write(values, step=step, weights=weights, writer=w)
        return time.perf_counter() - start


def _time_summary_writer(writer_class, logdir, n, k, use_detloss):
    """Seconds to log n steps through a SummaryWriter: K add_scalar calls, or one detloss call."""
    values, weights = _components(k)
    w = writer_class(logdir)
    start = time.perf_counter()
    for step in range(n):
        if use_detloss:
            detloss.summary.write(values, step=step, weights=weights, writer=w)
        else:
            for name, v in values.items():
                w.add_scalar("train/" + name, v, step)
    elapsed = time.perf_counter() - start
    w.close()
    return elapsed


def case_torch_add_scalar(logdir, n, k):
    from torch.utils.tensorboard import SummaryWriter

    return _time_summary_writer(SummaryWriter, logdir, n, k, use_detloss=False)


def case_detloss_torch_writer(logdir, n, k):
    from torch.utils.tensorboard import SummaryWriter

    return _time_summary_writer(SummaryWriter, logdir, n, k, use_detloss=True)


def case_tbx_add_scalar(logdir, n, k):
    from tensorboardX import SummaryWriter

    return _time_summary_writer(SummaryWriter, logdir, n, k, use_detloss=False)


def varint(n):
    out = bytearray()
    while True:
        bits, n = n & 0x7F, n >> 7
        out.append(bits | 0x80 if n else bits)
        if not n:
            return bytes(out)


def _template(layout):
    """(bytes before, bytes after) the tensor content of a one-step event's summary field."""
    from tensorboard.compat.proto import summary_pb2

    marker = b"\xab" * (8 * layout.tensor_length)
    value = summary_pb2.Summary.Value(tag=layout.tag)
    value.tensor.dtype = 2
    value.tensor.tensor_shape.dim.add(size=layout.tensor_length)
    value.tensor.tensor_content = marker
    encoded = summary_pb2.Summary(value=[value]).SerializeToString()
    summary = b"\x2a" + varint(len(encoded)) + encoded
    i = summary.index(marker)
    return summary[:i], summary[i + len(marker):]


def case_native_floor(logdir, n, k):
    """One event holding a [k] float64 tensor per step, pre-encoded except the numbers, framed
    and CRC'd in C: what any per-step logger must at least do."""
    values, weights = _components(k)
    layout, row = summary._prepare(values, "train", weights, None, "loss")
    head, tail = _template(layout)
    numbers = struct.Struct("<%dd" % layout.tensor_length)
    flat = list(row)
    with open(os.path.join(logdir, "events.out.tfevents.floor"), "wb") as f:
        start = time.perf_counter()
        for step in range(n):
            data = b"".join((b"\x09", struct.pack("<d", time.time()), b"\x10",
                             varint(step), head, numbers.pack(*flat), tail))
            header = struct.pack("<Q", len(data))
            f.write(header + struct.pack("<I", masked_crc32c(header)) + data +
                    struct.pack("<I", masked_crc32c(data)))
        return time.perf_counter() - start


CASES = {
    "detloss FileWriter": case_detloss_filewriter,
    "K x torch add_scalar": case_torch_add_scalar,
    "detloss via torch SummaryWriter": case_detloss_torch_writer,
    "K x tensorboardX add_scalar": case_tbx_add_scalar,
    "native floor (one [K] tensor event)": case_native_floor,
}

_TF = r"""
import json, os, shutil, sys, tempfile, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
import tensorboard_plugin_detloss as detloss
n, k, repeats = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
names = ["box", "cls", "dfl", "obj", "mask", "l1", "giou", "rpn_cls", "rpn_loc", "aux", "seg", "kobj"][:k]
weights = {n_: 1.0 + 0.5 * i for i, n_ in enumerate(names)}
from tensorboard_plugin_detloss import summary as _summary
layout = _summary._layout("loss", "train", tuple(names), False)
meta = layout.summary_metadata().SerializeToString()

def run(kind, mode):
    # Seconds and bytes per logged step. mode: eager; tf.function (one step per call); loop
    # (a tf.function logging INNER steps per call in a tf.while_loop: the call's own cost, which
    # varies by tens of µs from call to call, is then spread over INNER steps).
    d = tempfile.mkdtemp()
    w = tf.summary.create_file_writer(d)
    values = {n_: tf.constant(0.1 * (i + 1)) for i, n_ in enumerate(names)}
    inner = INNER if mode == "loop" else 1

    def log(step):
        if kind == "scalar":
            for n_, v in values.items():
                tf.summary.scalar("train/" + n_, v, step=step)
        elif kind == "detloss":
            detloss.summary.write(values, step=step, weights=weights)
        elif kind == "floor":  # one event per step can cost no less: one write, a constant row
            tf.summary.write(layout.tag, tf.constant([0.5] * (2 * k), tf.float64), step, meta)
        return step + 1

    def body(step):
        if mode != "loop":
            return log(step) if kind != "none" else step + 1
        def step_body(i, acc):  # tf.while_loop: AutoGraph cannot see this source (-c)
            s = step * INNER + i
            if kind != "none":
                log(s)
            return i + 1, acc + s

        return tf.while_loop(lambda i, acc: i < INNER, step_body,
                             (tf.constant(0, tf.int64), step))[1]

    fn = body if mode == "eager" else tf.function(body)
    calls = max(1, n // inner)
    with w.as_default():
        fn(tf.constant(0, tf.int64))
        start = time.perf_counter()
        for step in range(1, calls + 1):
            fn(tf.constant(step, tf.int64))
        w.flush()
        elapsed = time.perf_counter() - start
    w.close()
    size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    shutil.rmtree(d)
    return elapsed / (calls * inner), size / ((calls + 1) * inner)

INNER = 500  # the 200-300 µs a call costs, and its tens of µs of noise, over 500 steps
out = {}
for r in range(repeats):
    for mode in ("eager", "tf.function", "loop"):
        for kind in ("none", "scalar", "detloss", "floor"):
            t, b = run(kind, mode)
            out.setdefault("%s/%s" % (kind, mode), []).append([t, b])
out["inner"] = INNER
print(json.dumps(out))
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--components", type=int, default=5)
    parser.add_argument("--no-tf", action="store_true")
    parser.add_argument("--tf-only", action="store_true")
    args = parser.parse_args()
    k = args.components
    n = 2_000 if args.quick else 20_000
    repeats = 3 if args.quick else 5
    if not args.tf_only:
        _main_python(k, n, repeats)
    if not args.no_tf:
        _main_tf(k, n, repeats)


def _main_python(k, n, repeats):
    times = {c: [] for c in CASES}
    sizes = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            for name, case in CASES.items():  # interleaved: drift hits every case alike
                d = os.path.join(tmp, "%s-%d" % (CASES[name].__name__, r))
                os.makedirs(d)
                times[name].append(case(d, n, k) / n)
                sizes[name] = _dir_bytes(d) / n
    base = statistics.median(times["K x torch add_scalar"])
    floor = statistics.median(times["native floor (one [K] tensor event)"])
    print("Writer, %d components with weights, %d steps, median of %d (interleaved)\n" % (k, n, repeats))
    print("| case | µs / step | × K add_scalar (torch) | × native floor | bytes / step |")
    print("|---|---|---|---|---|")
    for name in CASES:
        t = statistics.median(times[name])
        print("| %s | %.1f | %.3f | %.2f | %.0f |" % (name, 1e6 * t, t / base, t / floor,
                                                     sizes[name]))
    scalar_bytes = sizes["K x torch add_scalar"]
    print("\nbytes on disk per step: detloss FileWriter %.0f vs K torch scalars %.0f (%.2f×); "
          "the scalar form of the same information (K components + K weights) ≈ %.0f (%.2f×)"
          % (sizes["detloss FileWriter"], scalar_bytes, sizes["detloss FileWriter"] / scalar_bytes,
             2 * scalar_bytes, sizes["detloss FileWriter"] / (2 * scalar_bytes)))


def _main_tf(k, n, repeats):
    proc = subprocess.run([sys.executable, "-c", _TF, str(n // 4), str(k), str(repeats)],
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        print("\nTF cases failed:\n" + proc.stderr[-2000:])
        sys.exit(1)
    tf_results = json.loads(proc.stdout.strip().splitlines()[-1])
    print("\nTensorFlow, %d components, %d steps, median of %d\n" % (k, n // 4, repeats))
    print("| mode | empty step µs | K × tf.summary.scalar µs/step | detloss µs/step | ratio | "
          "ratio of the logging cost (minus the empty step) | floor: one tf.summary.write of a "
          "constant row, µs/step (its ratio, minus the empty step) | bytes/step (scalar vs "
          "detloss) |")
    print("|---|---|---|---|---|---|---|---|")
    for mode in ("eager", "tf.function", "loop"):
        s = tf_results["scalar/" + mode]
        d = tf_results["detloss/" + mode]
        e = statistics.median(x[0] for x in tf_results["none/" + mode])
        ts, td = statistics.median(x[0] for x in s), statistics.median(x[0] for x in d)
        tf_ = statistics.median(x[0] for x in tf_results["floor/" + mode])
        label = mode
        if mode == "loop":
            label = "tf.function, %d steps per call (tf.while_loop)" % tf_results["inner"]
        # (the logging cost is unresolved when the scalars' median is below the empty step's)
        of_logging = lambda t: "%.3f" % ((t - e) / (ts - e)) if ts > e else "—"  # noqa: E731
        print("| %s | %.1f | %.1f | %.1f | %.3f | %s | %.1f (%s) | %.0f vs %.0f |" % (
            label, 1e6 * e, 1e6 * ts, 1e6 * td, td / ts, of_logging(td), 1e6 * tf_,
            of_logging(tf_), s[0][1], d[0][1]))


if __name__ == "__main__":
    main()
