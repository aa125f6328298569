"""The tab's binary display format (`format=binary`; docs/API.md, "Binary answers").

Drawing 32 runs × 2 splits × 2,000 points means about a million numbers; as JSON, each is a
Python float repr (≈ 0.3 µs) and 15–20 bytes. As typed columns they are numpy buffers copied
into the answer. Lossless: a column goes as float32 only when every number in it is a float32
(a loss computed in float32 — the usual case — is), steps as int32 when they fit, and a
column whose numbers are all equal (a constant weight) as that one number.

Layout of an answer:
  b"DLB1", uint32 little-endian header length H, H bytes of UTF-8 JSON header, zero padding to
  a multiple of 8, then the columns, each starting at a multiple of 8 from the answer's start.
The header is {"breakdowns": [entry, ...]}; an entry has the JSON answer's run, name, split,
components, num_steps, downsampled (and notes), plus "n" (rows) and "columns": a list of
{"field", "component" (or null), "dtype" ("i4", "f4", "f8", "u1"), "offset" (bytes from the
start of the columns)} or, for a
constant column, {"field", "component", "const"} instead of dtype and offset. Fields: "steps",
"wall_times", "values", "weights", "total", and "present" / "total_present" (u1, 1 = logged)
only where some step did not log the component / the total. Absent numbers are NaN in their
columns and must be read through the masks.
"""

import json
import struct

import numpy as np

MAGIC = b"DLB1"
CONTENT_TYPE = "application/octet-stream"
_ALIGN = 8


def _number_column(field, component, array):
    """(descriptor, bytes or None) of one float column, as small as it goes losslessly."""
    array = np.asarray(array, np.float64)
    if len(array) and np.isfinite(array[0]) and (array == array[0]).all():
        return {"field": field, "component": component, "const": float(array[0])}, None
    narrow = array.astype("<f4")
    with np.errstate(invalid="ignore"):
        exact = np.array_equal(narrow.astype(np.float64), array, equal_nan=True)
    if exact:
        return {"field": field, "component": component, "dtype": "f4"}, narrow.tobytes()
    return {"field": field, "component": component, "dtype": "f8"}, array.astype("<f8").tobytes()


def _mask_column(field, component, present):
    if present is None or present.all():
        return []
    return [({"field": field, "component": component, "dtype": "u1"},
             np.asarray(present, "u1").tobytes())]


def encode(breakdown):
    """(entry, [column bytes]) of one breakdown; offsets are set by `answer`."""
    b = breakdown
    n = len(b.steps)
    steps = np.asarray(b.steps, np.int64)
    if n == 0 or (steps.min() >= 0 and steps.max() < 2**31):
        columns = [({"field": "steps", "component": None, "dtype": "i4"},
                    steps.astype("<i4").tobytes())]
    else:
        columns = [({"field": "steps", "component": None, "dtype": "f8"},
                    steps.astype("<f8").tobytes())]
    columns.append(({"field": "wall_times", "component": None, "dtype": "f8"},
                    np.asarray(b.wall_times, "<f8").tobytes()))
    for c in b.components:
        present = b.present[c]
        columns.append(_number_column("values", c, np.where(present, b.values[c], np.nan)))
        columns.append(_number_column("weights", c, np.where(present, b.weights[c], np.nan)))
        columns += _mask_column("present", c, present)
    if b.total is not None:
        columns.append(_number_column("total", None, np.where(b.total_present, b.total, np.nan)))
        columns += _mask_column("total_present", None, b.total_present)
    entry = {"run": b.key.run, "name": b.key.name, "split": b.key.split,
             "components": list(b.components), "num_steps": int(b.num_steps),
             "downsampled": n < b.num_steps, "n": n}
    if b.notes:
        entry["notes"] = list(b.notes)
    entry["columns"] = [descriptor for descriptor, _ in columns]
    return entry, [data for _, data in columns if data is not None]


def answer(encoded):
    """The bytes of an answer holding the `encoded` breakdowns ([(entry, [bytes])])."""
    entries = []
    offset = 0  # from the start of the column area
    for entry, chunks in encoded:
        entry = dict(entry, columns=[dict(d) for d in entry["columns"]])
        data = iter(chunks)
        for descriptor in entry["columns"]:
            if "const" in descriptor:
                continue
            size = len(next(data))
            descriptor["offset"] = offset
            offset += -(-size // _ALIGN) * _ALIGN
        entries.append(entry)
    header = json.dumps({"breakdowns": entries}, allow_nan=False).encode("utf-8")
    start = -(-(8 + len(header)) // _ALIGN) * _ALIGN
    parts = [MAGIC, struct.pack("<I", len(header)), header, b"\0" * (start - 8 - len(header))]
    for _, chunks in encoded:
        for chunk in chunks:
            parts.append(chunk)
            parts.append(b"\0" * (-len(chunk) % _ALIGN))
    return b"".join(parts)


def decode(data):
    """[dict like the JSON answer] of an answer (for tests and tools)."""
    if data[:4] != MAGIC:
        raise ValueError("not a detloss binary answer")
    (length,) = struct.unpack("<I", data[4:8])
    header = json.loads(data[8:8 + length].decode("utf-8"))
    start = -(-(8 + length) // _ALIGN) * _ALIGN
    out = []
    for entry in header["breakdowns"]:
        n = entry["n"]
        cols = {}
        for d in entry["columns"]:
            if "const" in d:
                array = np.full(n, d["const"], np.float64)
            else:
                dtype = {"i4": "<i4", "f4": "<f4", "f8": "<f8", "u1": "u1"}[d["dtype"]]
                array = np.frombuffer(data, dtype, n, start + d["offset"])
            cols[(d["field"], d["component"])] = array
        result = {k: entry[k] for k in ("run", "name", "split", "components", "num_steps",
                                        "downsampled")}
        result["steps"] = cols[("steps", None)].astype(np.int64).tolist()
        result["wall_times"] = cols[("wall_times", None)].tolist()
        for field in ("values", "weights"):
            result[field] = {}
            for c in entry["components"]:
                present = cols.get(("present", c))
                column = cols[(field, c)].astype(np.float64).tolist()
                result[field][c] = [v if present is None or present[i] else None
                                    for i, v in enumerate(column)]
        total = cols.get(("total", None))
        if total is None:
            result["total"] = None
        else:
            present = cols.get(("total_present", None))
            result["total"] = [v if present is None or present[i] else None
                               for i, v in enumerate(total.astype(np.float64).tolist())]
        if "notes" in entry:
            result["notes"] = entry["notes"]
        out.append(result)
    return out
