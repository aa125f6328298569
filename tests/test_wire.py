"""The binary display format (wire.py) on its edge cases; test_server.py checks it against the
JSON answers of every writer's runs in a real TensorBoard, and the browser tests draw from it."""

import json
import struct

import numpy as np

from tensorboard_plugin_detloss import reader, wire


def _breakdown(steps, values, weights, present=None, total=None, total_present=None):
    components = list(values)
    present = present or {c: np.ones(len(steps), bool) for c in components}
    return reader.Breakdown(
        reader.SeriesKey("r\u202e<b>", "loss", "train"), components, np.asarray(steps, np.int64),
        1.7e9 + np.arange(len(steps)) * 0.123, {c: np.asarray(v, float) for c, v in values.items()},
        {c: np.asarray(w, float) for c, w in weights.items()}, present,
        None if total is None else np.asarray(total, float), total_present, 0)


def test_columns_are_as_small_as_lossless_allows():
    f32 = [float(np.float32(x)) for x in (0.1, 0.2, 0.3)]
    b = _breakdown([0, 5, 9], {"box": f32, "cls": [0.1, 0.2, 0.3]},
                   {"box": [7.5, 7.5, 7.5], "cls": [1.0, float("nan"), 1.0]})
    entry, chunks = wire.encode(b)
    kinds = {(d["field"], d["component"]): d.get("dtype", "const") for d in entry["columns"]}
    assert kinds == {("steps", None): "i4", ("wall_times", None): "f8",
                     ("values", "box"): "f4", ("weights", "box"): "const",
                     ("values", "cls"): "f8", ("weights", "cls"): "f4"}
    [decoded] = wire.decode(wire.answer([(entry, chunks)]))
    assert decoded["values"]["box"] == f32 and decoded["values"]["cls"] == [0.1, 0.2, 0.3]
    assert decoded["weights"]["box"] == [7.5] * 3
    assert np.isnan(decoded["weights"]["cls"][1])
    assert decoded["wall_times"] == b.wall_times.tolist()


def test_absent_values_large_steps_and_empty_series():
    present = {"box": np.array([True, False, True])}
    b = _breakdown([0, 2**31, 2**53], {"box": [1.0, float("nan"), float("inf")]},
                   {"box": [2.0, float("nan"), 2.0]}, present=present,
                   total=[3.0, -1.0, float("-inf")], total_present=np.array([True, True, False]))
    [decoded] = wire.decode(wire.answer([wire.encode(b)]))
    assert decoded["steps"] == [0, 2**31, 2**53]
    assert decoded["values"]["box"][:2] == [1.0, None] and decoded["values"]["box"][2] == np.inf
    assert decoded["weights"]["box"] == [2.0, None, 2.0]
    assert decoded["total"] == [3.0, -1.0, None]
    empty = _breakdown([], {"box": []}, {"box": []})
    [decoded] = wire.decode(wire.answer([wire.encode(empty)]))
    assert decoded["steps"] == [] and decoded["values"] == {"box": []}


def test_answer_layout_is_aligned_and_holds_many_breakdowns():
    bs = [_breakdown(range(n), {"a": np.linspace(0, 1, n)}, {"a": np.linspace(1, 2, n)})
          for n in (1, 3, 7)]
    data = wire.answer([wire.encode(b) for b in bs])
    assert data[:4] == b"DLB1"
    (length,) = struct.unpack("<I", data[4:8])
    start = -(-(8 + length) // 8) * 8
    header = json.loads(data[8:8 + length])
    offsets = [d["offset"] for e in header["breakdowns"] for d in e["columns"] if "offset" in d]
    assert all(o % 8 == 0 for o in offsets) and start % 8 == 0
    assert [len(d["steps"]) for d in wire.decode(data)] == [1, 3, 7]
    assert [d["run"] for d in wire.decode(data)] == ["r\u202e<b>"] * 3
