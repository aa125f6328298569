"""Peak memory of serialising every step of a 1,000,000-step, 5-component breakdown to JSON:
built in memory as the `breakdown` route did before streaming, or streamed as it does now.

    PYTHONPATH=. python bench/serialize_memory.py built
    PYTHONPATH=. python bench/serialize_memory.py streamed

Each run is a fresh process; the figure is the growth of its peak RSS over the breakdown's own
arrays (which TensorBoard's data and the plugin's cache hold either way).
"""

import gzip
import io
import json
import resource
import sys

import numpy as np
from tensorboard.backend import json_util

from tensorboard_plugin_detloss import plugin, reader


def breakdown(n=1_000_000, comps=("box", "cls", "dfl", "obj", "l1")):
    rng = np.random.default_rng(0)
    return reader.Breakdown(
        reader.SeriesKey("long", "loss", "train"), list(comps), np.arange(n),
        1.7e9 + np.arange(n) * 0.01, {c: rng.random(n) for c in comps},
        {c: np.full(n, 1.5) for c in comps}, {c: np.ones(n, bool) for c in comps},
        rng.random(n), np.ones(n, bool), 0)


def built(b):
    """Lists, one JSON string, one gzip buffer (http_util.Respond), as before streaming."""
    col = plugin._column
    body = {"run": b.key.run, "name": b.key.name, "split": b.key.split,
            "components": b.components, "steps": b.steps.tolist(),
            "wall_times": b.wall_times.tolist(),
            "values": {c: col(b.values[c], b.present[c]) for c in b.components},
            "weights": {c: col(b.weights[c], b.present[c]) for c in b.components},
            "total": col(b.total, b.total_present), "num_steps": b.num_steps}
    text = json.dumps(json_util.Cleanse(body)).encode()
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=3, mtime=0) as f:
        f.write(text)
    return len(text)


def streamed(b):
    return sum(len(chunk.encode()) for chunk in plugin.json_chunks(b))


def main():
    how = sys.argv[1] if len(sys.argv) > 1 else "streamed"
    b = breakdown()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    size = {"built": built, "streamed": streamed}[how](b)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("%s: %s bytes of JSON, peak RSS +%.0f MB" % (how, format(size, ","), (peak - base) / 1024))


if __name__ == "__main__":
    main()
