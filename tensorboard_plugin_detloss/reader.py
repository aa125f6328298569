"""The one reader: detloss series from TensorBoard's data provider, assembled into breakdowns.

Reads only through `context.data_provider`, so it works under both loaders (the Python
multiplexer and the Rust data server), and batches: one `list_tensors` and one `read_tensors`
call serve any number of runs.
"""

import collections

import numpy as np
from tensorboard.data import provider

from tensorboard_plugin_detloss import metadata

# Ask for every stored point: sampling happens at load time (see plugin.DetlossLoader).
_ALL_POINTS = 2**31 - 1

SeriesKey = collections.namedtuple("SeriesKey", ["run", "name", "split"])


class Breakdown:
    """One (run, loss name, split): every step's component values and weights, and the total.

    Attributes:
      components: component names, in order of first appearance.
      steps: int64 array, sorted, unique.
      wall_times: float64 array aligned with steps.
      values, weights: dict component -> float64 array aligned with steps (NaN where absent).
      present: dict component -> bool array, False where the component was not logged.
      total: float64 array of the logged total, or None if no step logged one.
      total_present: bool array (or None), False where no total was logged.
      skipped: number of stored points that could not be decoded.
      num_steps: how many steps the series has (more than len(steps) after `select`).
    """

    def __init__(self, key, components, steps, wall_times, values, weights, present,
                 total, total_present, skipped):
        self.key = key
        self.components = components
        self.steps = steps
        self.wall_times = wall_times
        self.values = values
        self.weights = weights
        self.present = present
        self.total = total
        self.total_present = total_present
        self.skipped = skipped
        self.num_steps = len(steps)

    def contributions(self):
        """dict component -> weight * value (NaN where absent)."""
        return {c: self.weights[c] * self.values[c] for c in self.components}

    def summed_total(self):
        """Σ weight × value over the components present at each step (NaN if none is)."""
        total = np.zeros(len(self.steps))
        any_present = np.zeros(len(self.steps), bool)
        for c in self.components:
            total = total + np.where(self.present[c], self.weights[c] * self.values[c], 0.0)
            any_present |= self.present[c]
        return np.where(any_present, total, np.nan)

    def select(self, index):
        """A Breakdown of the points at `index` (an int array into `steps`)."""
        pick = lambda d: {c: a[index] for c, a in d.items()}  # noqa: E731
        subset = Breakdown(
            self.key, self.components, self.steps[index], self.wall_times[index],
            pick(self.values), pick(self.weights), pick(self.present),
            None if self.total is None else self.total[index],
            None if self.total_present is None else self.total_present[index],
            self.skipped,
        )
        subset.num_steps = self.num_steps
        return subset


def display_indices(breakdown, max_points):
    """Indices of at most `max_points` steps that draw like all of them.

    The steps are cut into equal buckets; each bucket keeps its first and last step and the
    steps where each component's contribution and the total reach their minimum and maximum
    (non-finite values count as extremes, so a NaN is never sampled away). Diagnostics never
    use this: they read every step.
    """
    n = len(breakdown.steps)
    if n <= max_points:
        return np.arange(n)
    columns = list(breakdown.contributions().values())
    columns.append(breakdown.total if breakdown.total is not None else breakdown.summed_total())
    per_bucket = 2 + 2 * len(columns)
    buckets = max(1, max_points // per_bucket)
    bucket = (np.arange(n) * buckets) // n
    starts = np.searchsorted(bucket, np.arange(buckets))
    ends = np.append(starts[1:], n) - 1
    keep = [starts, ends]
    for column in columns:
        # Sorting by (bucket, value) puts each bucket's minimum first and maximum last;
        # NaN sorts last, so it is kept as a "maximum".
        order = np.lexsort((column, bucket))
        keep += [order[starts], order[ends]]
    index = np.unique(np.concatenate(keep))
    if len(index) > max_points:  # only when max_points < per_bucket
        index = index[np.linspace(0, len(index) - 1, max_points).astype(int)]
    return index


def list_series(data_provider, ctx, experiment_id):
    """{SeriesKey: [(tag, Layout), ...]} for every readable detloss series."""
    mapping = data_provider.list_tensors(
        ctx, experiment_id=experiment_id, plugin_name=metadata.PLUGIN_NAME
    )
    series = collections.defaultdict(list)
    for run, tags in mapping.items():
        for tag, time_series in tags.items():
            layout = metadata.parse_plugin_metadata(time_series.plugin_content)
            if layout is None:
                continue
            series[SeriesKey(run, layout.name, layout.split)].append((tag, layout))
    return dict(series)


def read_breakdowns(data_provider, ctx, experiment_id, keys, series):
    """{SeriesKey: Breakdown} for `keys`, from one `read_tensors` call.

    Args:
      series: the result of `list_series` (so callers that already listed do not list again).
    """
    runs = sorted({k.run for k in keys})
    tags = sorted({tag for k in keys for tag, _ in series[k]})
    if not runs or not tags:
        return {}
    data = data_provider.read_tensors(
        ctx,
        experiment_id=experiment_id,
        plugin_name=metadata.PLUGIN_NAME,
        downsample=_ALL_POINTS,
        run_tag_filter=provider.RunTagFilter(runs=runs, tags=tags),
    )
    result = {}
    for key in keys:
        run_data = data.get(key.run, {})
        parts = [(layout, run_data.get(tag, ())) for tag, layout in series[key]]
        result[key] = assemble(key, parts)
    return result


def assemble(key, parts):
    """Merges the points of every layout of one series into a `Breakdown`.

    Args:
      parts: [(Layout, [TensorDatum, ...]), ...].

    A step logged more than once (a restarted job, two layouts at one step) keeps the point
    with the latest wall time; points are never mixed across writes.
    """
    skipped = 0
    decoded = []  # (layout, steps, wall_times, matrix)
    for layout, datums in parts:
        n = layout.tensor_length
        rows, steps, walls = [], [], []
        for d in datums:
            array = np.asarray(d.numpy, dtype=np.float64).reshape(-1)
            if array.shape[0] != n:
                skipped += 1
                continue
            rows.append(array)
            steps.append(d.step)
            walls.append(d.wall_time)
        if rows:
            decoded.append((layout, np.array(steps, np.int64), np.array(walls, np.float64),
                            np.vstack(rows)))

    # Components in order of first appearance (by step, then as listed in each layout).
    decoded.sort(key=lambda part: (part[1].min(), part[2].min()))
    components = []
    seen = set()
    for layout, *_ in decoded:
        for c in layout.components:
            if c not in seen:
                seen.add(c)
                components.append(c)

    if not decoded:
        return Breakdown(key, components, np.zeros(0, np.int64), np.zeros(0), {}, {}, {},
                         None, None, skipped)

    all_steps = np.concatenate([p[1] for p in decoded])
    all_walls = np.concatenate([p[2] for p in decoded])
    source = np.concatenate([np.full(len(p[1]), i) for i, p in enumerate(decoded)])
    offset = np.concatenate([np.arange(len(p[1])) for p in decoded])
    # Latest wall time wins per step; ties: the later point as read.
    order = np.lexsort((np.arange(len(all_steps)), all_walls, all_steps))
    last_of_step = np.ones(len(order), bool)
    last_of_step[:-1] = all_steps[order][1:] != all_steps[order][:-1]
    chosen = order[last_of_step]
    steps = all_steps[chosen]
    wall_times = all_walls[chosen]

    m = len(steps)
    values = {c: np.full(m, np.nan) for c in components}
    weights = {c: np.full(m, np.nan) for c in components}
    present = {c: np.zeros(m, bool) for c in components}
    any_total = any(p[0].has_total for p in decoded)
    total = np.full(m, np.nan) if any_total else None
    total_present = np.zeros(m, bool) if any_total else None
    for i, (layout, _, _, matrix) in enumerate(decoded):
        out_rows = np.nonzero(source[chosen] == i)[0]
        if not len(out_rows):
            continue
        in_rows = offset[chosen][out_rows]
        k = len(layout.components)
        for j, c in enumerate(layout.components):
            values[c][out_rows] = matrix[in_rows, j]
            weights[c][out_rows] = matrix[in_rows, k + j]
            present[c][out_rows] = True
        if layout.has_total:
            total[out_rows] = matrix[in_rows, 2 * k]
            total_present[out_rows] = True
    return Breakdown(key, components, steps, wall_times, values, weights, present,
                     total, total_present, skipped)
