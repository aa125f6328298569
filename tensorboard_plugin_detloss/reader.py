"""The one reader: breakdowns from TensorBoard's data provider, native or imported.

Two kinds of series come out of it, served alike by every route:
  - native: detloss series written by `detloss.summary` (plugin "detloss" tensors);
  - imported: the loss scalars a detector framework already logs, recognised by a profile
    (`importers`, docs/IMPORT.md). Native data in a run wins over an import of that run.

Reads only through `context.data_provider`, so it works under both loaders (the Python
multiplexer and the Rust data server), and batches: `list_series` makes one `list_tensors` and
one `list_scalars` call, `read_breakdowns` at most one `read_tensors` and one `read_scalars`,
for any number of runs.
"""

import collections
import concurrent.futures
import threading

import numpy as np
from tensorboard import errors
from tensorboard.data import provider

from tensorboard.util import tb_logging

from tensorboard_plugin_detloss import event_file, importers, metadata, overview

logger = tb_logging.get_logger()

# Ask for every stored point: sampling happens at load time (see plugin.DetlossLoader).
_ALL_POINTS = 2**31 - 1

SCALARS_PLUGIN = "scalars"
NATIVE_SOURCE = "detloss"

SeriesKey = collections.namedtuple("SeriesKey", ["run", "name", "split"])


# Runs list_scalars beside list_tensors (both listings at once; see list_series).
_LISTING = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="detloss-list")

READ_BATCH_BYTES = 64 << 20  # estimated bytes of steps per `read_tensors` call


class Series:
    """What `list_series` knows of one (run, name, split) before reading its points.

    Attributes:
      source: "detloss" for native data, else the name of the profile that matched.
      components: the union of its components, in display order.
      parts: native only: [(tag, Layout), ...].
      columns: imported only: [importers.Column, ...] (TensorBoard run, tag, role, component).
      weights: imported only: {component: weight}; gains: {component: gain} divided out when
        `unweight` is set.
      notes: sentences the tab shows with the run (how the import reads the logs).
      groups: {base component: [components]} for terms repeated per decoder layer etc.
      metrics: imported only: [(TensorBoard run, tag), ...] logged beside the losses.
      overviews: native only: {steps per bucket: [(tag, Layout), ...]}, the overview levels
        that every part has, up to date with it (overview.py).
      max_step: native only: the largest step TensorBoard lists for it.
    """

    def __init__(self, source, components, parts=(), columns=(), weights=None, gains=None,
                 unweight=False, notes=(), groups=None, metrics=(), scalar_limit=None,
                 tb_run=None):
        self.tb_run = tb_run  # native: the TensorBoard run holding the tags (None: key.run)
        # What TensorBoard says of the series' data (tags, max step, max wall time): when it is
        # unchanged, a cached Breakdown is still right (see BreakdownCache).
        self.fingerprint = None
        self.estimated_bytes = 0  # native: an upper bound of its rows' size (8-byte numbers)
        self.overviews = {}
        self.max_step = 0
        self.source = source
        self.components = list(components)
        self.parts = list(parts)
        self.columns = list(columns)
        self.weights = dict(weights or {})
        self.gains = dict(gains or {})
        self.unweight = unweight
        self.notes = list(notes)
        self.groups = dict(groups or {})
        self.metrics = list(metrics)
        self.scalar_limit = scalar_limit  # imported: TensorBoard's points-per-tag limit

    @property
    def imported(self):
        return self.source != NATIVE_SOURCE

    def overview_bytes(self, size):
        """About what reading its overview at `size` steps per bucket weighs (for batching):
        each bucket's candidates, and as many again for buckets written while open."""
        rows_per_bucket = 2 * (2 + 2 * (len(self.components) + 1))
        return sum((self.max_step // size + 2) * rows_per_bucket * 8 * layout.row_width
                   for _, layout in self.overviews.get(size, ()))

    def __repr__(self):
        return "Series(%r, %r)" % (self.source, self.components)


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
      skipped: number of stored points (or block rows) that could not be decoded.
      collapsed: imported only: points dropped because a later write had the same step.
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
        self.collapsed = 0  # imported: points dropped because their step was written again
        self.notes = []  # what a reader of this breakdown should know (e.g. it was sampled)
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
        subset.collapsed = self.collapsed
        subset.notes = self.notes
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
    per_bucket = 2 + 2 * len(columns) + sum(bool(np.isnan(c).any()) for c in columns)
    size = -(-n // max(1, max_points // per_bucket))  # steps per bucket
    index = overview.extreme_indices(columns, size)
    if len(index) > max_points:  # only when max_points < per_bucket
        index = index[np.linspace(0, len(index) - 1, max_points).astype(int)]
    return index


def list_series(data_provider, ctx, experiment_id, importer=None):
    """{SeriesKey: Series} for every readable native series and every imported one.

    Args:
      importer: an `importers.Importer` (the profiles in force); None = the built-in profiles.
    """
    # The two listings at once: under --load_fast=true each call to TensorBoard's data server
    # costs ≈ 40 ms however small (docs/PERFORMANCE.md, "Calls to the data server").
    scalars = _LISTING.submit(data_provider.list_scalars, ctx, experiment_id=experiment_id,
                              plugin_name=SCALARS_PLUGIN)
    mapping = data_provider.list_tensors(
        ctx, experiment_id=experiment_id, plugin_name=metadata.PLUGIN_NAME
    )
    parts = collections.defaultdict(list)
    overviews = collections.defaultdict(dict)  # (run, base tag) -> {size: (tag, layout)}
    for run, tags in mapping.items():
        for tag, time_series in tags.items():
            layout = metadata.parse_plugin_metadata(time_series.plugin_content)
            if layout is None:
                continue
            if layout.overview:
                overviews[(run, layout.block_tag)][layout.overview] = (tag, layout)
                continue
            parts[SeriesKey(run, layout.name, layout.split)].append((tag, layout))
    logical = _native_logical_runs(parts)
    series = {}
    for key, key_parts in parts.items():
        fingerprint = tuple(sorted(
            (key.run, tag, mapping[key.run][tag].max_step, mapping[key.run][tag].max_wall_time)
            for tag, _ in key_parts))
        components = []
        for _, layout in key_parts:
            components += [c for c in layout.components if c not in components]
        run = logical.get(key.run, key.run)
        series[SeriesKey(run, key.name, key.split)] = Series(
            NATIVE_SOURCE, components, parts=key_parts, groups=importers.groups_of(components),
            tb_run=key.run, notes=() if run == key.run else [
                "Read from TensorBoard run %s." % key.run])
        series[SeriesKey(run, key.name, key.split)].fingerprint = fingerprint
        # About one row per step (a block record's step is its first row's, and it holds at
        # most BLOCK_ROWS): what reading it will weigh, to batch reads (see `read_batches`).
        series[SeriesKey(run, key.name, key.split)].estimated_bytes = sum(
            (mapping[key.run][tag].max_step + (event_file.BLOCK_ROWS if layout.block else 1))
            * 8 * (2 + layout.tensor_length) for tag, layout in key_parts)
        series[SeriesKey(run, key.name, key.split)].max_step = max(
            mapping[key.run][tag].max_step for tag, _ in key_parts)
        series[SeriesKey(run, key.name, key.split)].overviews = _overview_levels(
            mapping[key.run], key_parts, [overviews.get((key.run, tag), {}) for tag, _ in key_parts])
    try:
        series.update(_list_imported(scalars.result(), importer,
                                     native_runs={k.run for k in series} | {k.run for k in parts}))
    except Exception:  # an import problem must never hide native data
        logger.exception("detloss: importing framework scalars failed")
    return series


def _overview_levels(tags, parts, levels_of_parts):
    """{size: [(tag, Layout)]} of the overview levels every part of a series has, written up
    to the part's last block: an overview is written in its block's event, so it has the
    block's step and wall time; a restarted writer that has not written one yet leaves it
    behind (older wall time, or another largest step) and the series is read whole."""
    if not all(layout.block for _, layout in parts):
        return {}
    sizes = None
    for (tag, _), levels in zip(parts, levels_of_parts):
        fresh = {size for size, (overview_tag, _) in levels.items()
                 if (tags[overview_tag].max_step, tags[overview_tag].max_wall_time)
                 == (tags[tag].max_step, tags[tag].max_wall_time)}
        sizes = fresh if sizes is None else sizes & fresh
    return {size: [levels[size] for levels in levels_of_parts] for size in sorted(sizes or ())}


def _native_logical_runs(parts):
    """{TensorBoard run: logical run} for native sibling runs, as the importer groups them.

    Keras' layout (`X/train` holding split train, `X/validation` holding split val) becomes
    one run `X` with both splits, like an imported Keras log. Only when the siblings' (loss,
    split) pairs do not collide and `X` holds no native data itself.
    """
    by_logical = collections.defaultdict(dict)
    for key in parts:
        run, dir_split = importers.split_of_dir(key.run)
        if dir_split is not None:
            by_logical[run].setdefault(key.run, set()).add((key.name, key.split))
    native_runs = {k.run for k in parts}
    mapping = {}
    for run, members in by_logical.items():
        if len(members) < 2 or run in native_runs:
            continue
        pairs = [p for ps in members.values() for p in ps]
        if len(pairs) != len(set(pairs)):
            continue  # e.g. both dirs log split "train": keep them apart
        for tb_run in members:
            mapping[tb_run] = run
    return mapping


def _list_imported(scalars, importer, native_runs):
    """{SeriesKey: Series} of the runs the importer's profiles recognise in `scalars` (what
    `list_scalars` answered), leaving out `native_runs`."""
    importer = importer or importers.Importer()
    matches = importer.match({run: list(tags) for run, tags in scalars.items()},
                             skip_runs=native_runs)
    series = {}
    for run, match in matches.items():
        profile = match.profile
        for split, columns in match.columns.items():
            components = match.components(split)
            key = SeriesKey(run, metadata.DEFAULT_NAME, split)
            series[key] = Series(
                profile.name, components, columns=columns,
                weights={c: match.weight(c) for c in components},
                gains={c: profile.gains[c] for c in components if c in profile.gains},
                unweight=profile.unweight,
                notes=_notes(match, split),
                groups=importers.groups_of(components),
                metrics=match.metrics_of(split),
                scalar_limit=importer.scalar_limit,
            )
            series[key].fingerprint = tuple(sorted(
                (c.run, c.tag, scalars[c.run][c.tag].max_step, scalars[c.run][c.tag].max_wall_time)
                for c in columns if c.tag in scalars.get(c.run, {})))
    return series


def _notes(match, split):
    profile = match.profile
    notes = ["Imported from %s logs (profile %s)." % (profile.title, profile.name)]
    notes += list(profile.notes)
    if profile.unweight:
        notes.append("Values are divided by the gains (%s) and the gains shown as weights." % (
            ", ".join("%s %g" % kv for kv in sorted(profile.gains.items()))))
    runs = sorted({c.run for c in match.columns[split]})
    if runs != [match.run]:
        notes.append("Read from TensorBoard run%s %s." % (
            "s" if len(runs) > 1 else "", ", ".join(runs)))
    return notes


class FingerprintCache:
    """Values reused while TensorBoard reports the same data for them.

    Keyed by (experiment, key), valid while the series' fingerprint (its tags' max step and max
    wall time, from the listing) is unchanged. Least recently used out first beyond
    `max_entries` values or `max_bytes` (as measured by `sizeof`), so memory stays bounded
    whatever the logdir holds (the latest value is kept even alone over `max_bytes`).
    """

    def __init__(self, max_entries=256, max_bytes=256 << 20, sizeof=len):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._sizeof = sizeof
        self._entries = collections.OrderedDict()  # key -> (fingerprint, value, bytes)
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, experiment_id, key, fingerprint):
        with self._lock:
            entry = self._entries.get((experiment_id, key))
            if entry is None or fingerprint is None or entry[0] != fingerprint:
                self.misses += 1
                return None
            self._entries.move_to_end((experiment_id, key))
            self.hits += 1
            return entry[1]

    def put(self, experiment_id, key, fingerprint, value):
        if fingerprint is None:
            return
        size = self._sizeof(value)
        with self._lock:
            old = self._entries.pop((experiment_id, key), None)
            if old is not None:
                self._bytes -= old[2]
            self._entries[(experiment_id, key)] = (fingerprint, value, size)
            self._bytes += size
            # The latest value is always kept, whatever its size (the next request for it
            # would otherwise read it all again).
            while len(self._entries) > 1 and (len(self._entries) > self.max_entries
                                               or self._bytes > self.max_bytes):
                self._bytes -= self._entries.popitem(last=False)[1][2]

    def nbytes(self):
        with self._lock:
            return self._bytes

    def __len__(self):
        return len(self._entries)


def breakdown_nbytes(b):
    """Memory of a breakdown's arrays (shared presence arrays counted once)."""
    arrays = {id(a): a for d in (b.values, b.weights, b.present) for a in d.values()}
    for a in (b.steps, b.wall_times, b.total, b.total_present):
        if a is not None:
            arrays[id(a)] = a
    return sum(a.nbytes for a in arrays.values())


class BreakdownCache(FingerprintCache):
    """Breakdowns already read (every step): ~ (2·K + 3) · 8 bytes per step each; 256 MB and
    4,096 breakdowns at most. The entries cover a comparison of every run of a 1,000-run
    logdir (with fewer, each comparison would read them all again); the bytes bound the memory
    (1,000,000 steps of 5 components ≈ 110 MB)."""

    def __init__(self, max_entries=4096, max_bytes=256 << 20):
        super().__init__(max_entries, max_bytes, breakdown_nbytes)


def read_breakdowns(data_provider, ctx, experiment_id, keys, series, cache=None):
    """{SeriesKey: Breakdown} for `keys`, from one `read_tensors` (native keys) and one
    `read_scalars` (imported keys) call for those not in `cache`.

    Args:
      series: the result of `list_series` (so callers that already listed do not list again).
      cache: a `BreakdownCache`, or None.
    """
    result = {}
    if cache is not None:
        for key in keys:
            hit = cache.get(experiment_id, key, series[key].fingerprint)
            if hit is not None:
                result[key] = hit
        missing = [k for k in keys if k not in result]
        fresh = _read_breakdowns(data_provider, ctx, experiment_id, missing, series)
        for key, breakdown in fresh.items():
            cache.put(experiment_id, key, series[key].fingerprint, breakdown)
        result.update(fresh)
        return result
    return _read_breakdowns(data_provider, ctx, experiment_id, keys, series)


class SeriesTooLargeError(errors.PublicError):
    """TensorBoard's data server cannot hand a series over (one gRPC message of 256 MiB)."""

    http_code = 422


def read_batches(keys, series, limit=None, cost_of=None):
    """`keys` in groups whose reads stay under `limit` estimated bytes each (one key alone may
    exceed it). Under --load_fast=true one `read_tensors` answer is one gRPC message, and
    TensorBoard refuses messages over 256 MiB; smaller reads also bound the memory a request
    holds at once. `cost_of(key)`: what its read weighs (default: every row of it)."""
    limit = READ_BATCH_BYTES if limit is None else limit
    batch, size = [], 0
    for key in keys:
        cost = series[key].estimated_bytes if cost_of is None else cost_of(key)
        if batch and size + cost > limit:
            yield batch
            batch, size = [], 0
        batch.append(key)
        size += cost
    if batch:
        yield batch


def _read_tensors(data_provider, ctx, experiment_id, batch, series, tags_of):
    """One `read_tensors` of the tags (`tags_of(key)`: [(tag, Layout)]) of a batch of native
    keys; a SeriesTooLargeError if TensorBoard's data server cannot hand them over."""
    runs = sorted({series[k].tb_run or k.run for k in batch})
    tags = sorted({tag for k in batch for tag, _ in tags_of(k)})
    try:
        return data_provider.read_tensors(
            ctx,
            experiment_id=experiment_id,
            plugin_name=metadata.PLUGIN_NAME,
            downsample=_ALL_POINTS,
            run_tag_filter=provider.RunTagFilter(runs=runs, tags=tags),
        )
    except Exception as e:
        if "RESOURCE_EXHAUSTED" not in str(e) and "larger than max" not in str(e):
            raise
        raise SeriesTooLargeError(
            "%s holds about %d MB of steps, more than TensorBoard's data server "
            "(--load_fast=true) hands over in one message (256 MiB): start TensorBoard with "
            "--load_fast=false to read it, or run `detloss check` on the logdir"
            % (", ".join("%r" % k.run for k in batch),
               sum(series[k].estimated_bytes for k in batch) // 10**6))


def _read_breakdowns(data_provider, ctx, experiment_id, keys, series):
    native = [k for k in keys if not series[k].imported]
    imported = [k for k in keys if series[k].imported]
    result = {}
    for batch in read_batches(native, series):
        data = _read_tensors(data_provider, ctx, experiment_id, batch, series,
                             lambda key: series[key].parts)
        for key in batch:
            run_data = data.get(series[key].tb_run or key.run, {})
            parts = [(layout, run_data.get(tag, ())) for tag, layout in series[key].parts]
            result[key] = assemble(key, parts)
    runs = sorted({c.run for k in imported for c in series[k].columns})
    tags = sorted({c.tag for k in imported for c in series[k].columns})
    if runs and tags:
        data = data_provider.read_scalars(
            ctx,
            experiment_id=experiment_id,
            plugin_name=SCALARS_PLUGIN,
            downsample=_ALL_POINTS,
            run_tag_filter=provider.RunTagFilter(runs=runs, tags=tags),
        )
        for key in imported:
            result[key] = assemble_imported(key, series[key], data)
    return result


def read_displays(data_provider, ctx, experiment_id, keys, series, max_points):
    """{SeriesKey: Breakdown} of those native `keys` whose overview (overview.py) is fine
    enough for a display of `max_points` points, read from the overview: a few percent of the
    rows, with every bucket's extremes and NaNs, and `num_steps` the series' own. Keys left
    out are read whole (short series, data without an overview, a damaged overview, a restart
    that re-logged steps)."""
    chosen = {}
    for key in keys:
        s = series[key]
        if not s.imported and s.overviews:
            size = overview.choose_level(s.overviews, s.max_step, max_points, len(s.components))
            if size is not None:
                chosen[key] = size
    result = {}
    for batch in read_batches(list(chosen), series,
                              cost_of=lambda k: series[k].overview_bytes(chosen[k])):
        data = _read_tensors(data_provider, ctx, experiment_id, batch, series,
                             lambda key: series[key].overviews[chosen[key]])
        for key in batch:
            run_data = data.get(series[key].tb_run or key.run, {})
            parts = [(layout, run_data.get(tag, ()))
                     for tag, layout in series[key].overviews[chosen[key]]]
            decoded, skipped = _decode_parts(parts)
            # An overview's last number per row is its bucket's row count (overview.py).
            num_steps = sum(_overview_steps(layout.overview, steps, columns[-1])
                            for layout, steps, _, columns in decoded)
            breakdown = _merge(key, decoded, skipped)
            if breakdown.skipped or not len(breakdown.steps):
                continue  # a damaged overview: read the series whole, which says what is wrong
            if (np.diff(breakdown.wall_times) < 0).any():
                # Not one timeline (a restart re-logged steps: an older row sits at a later
                # step than a newer one): which of its rows the series still holds is known
                # only from every row, so read it whole.
                continue
            breakdown.num_steps = max(len(breakdown.steps), num_steps)
            result[key] = breakdown
    return result


def _overview_steps(size, steps, counts):
    """How many rows an overview's series holds: per bucket, the largest row count (counts
    that are not numbers of rows — damaged or hand-made — are left out)."""
    ok = (counts >= 0) & (counts < 2**53)
    return overview.count_steps(size, steps[ok], counts[ok])


def read_metrics(data_provider, ctx, experiment_id, keys, series):
    """{SeriesKey: {tag: (steps, values)}} of the metrics logged beside imported series
    (mAP, precision, recall...), from one `read_scalars` call; last value per step."""
    pairs = {(run, tag) for k in keys for run, tag in series[k].metrics}
    if not pairs:
        return {k: {} for k in keys}
    data = data_provider.read_scalars(
        ctx,
        experiment_id=experiment_id,
        plugin_name=SCALARS_PLUGIN,
        downsample=_ALL_POINTS,
        run_tag_filter=provider.RunTagFilter(runs=sorted({r for r, _ in pairs}),
                                             tags=sorted({t for _, t in pairs})),
    )
    result = {}
    for key in keys:
        result[key] = {}
        for run, tag in series[key].metrics:
            steps, _, values, _ = _last_per_step(data.get(run, {}).get(tag, ()))
            result[key][tag] = (steps, values)
    return result


def _last_per_step(datums):
    """(steps, wall_times, values, dropped): one point per step, the latest write of it.

    "Latest" is the largest wall time, ties going to the later point as read: a running mean
    logged after every batch at the epoch's step keeps the epoch's last (full) mean, and a job
    restarted from a checkpoint keeps what it logged after the restart.
    """
    n = len(datums)
    steps = np.fromiter((d.step for d in datums), np.int64, n)
    walls = np.fromiter((d.wall_time for d in datums), np.float64, n)
    values = np.fromiter((_as_float(d.value) for d in datums), np.float64, n)
    order = np.lexsort((np.arange(n), walls, steps))
    last = np.ones(n, bool)
    last[:-1] = steps[order][1:] != steps[order][:-1]
    chosen = order[last]
    return steps[chosen], walls[chosen], values[chosen], n - len(chosen)


def _as_float(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def assemble_imported(key, series, data):
    """A `Breakdown` from the scalar columns of an imported series.

    Args:
      data: `read_scalars` output, {run: {tag: [ScalarDatum, ...]}}.

    Each column keeps its last value per step (see `_last_per_step`); the steps are the union
    over the columns, a component absent at a step is NaN with present False. Weights are the
    profile's (1 = as logged); with `unweight`, values are divided by the framework's gains and
    the gains become the weights, so contributions are unchanged.
    """
    per_column = []
    dropped = 0
    sampled = False
    for column in series.columns:
        datums = data.get(column.run, {}).get(column.tag, ())
        if series.scalar_limit and len(datums) >= series.scalar_limit:
            sampled = True
        steps, walls, values, n_dropped = _last_per_step(datums)
        dropped += n_dropped
        per_column.append((column, steps, walls, values))
    all_steps = np.unique(np.concatenate([p[1] for p in per_column] + [np.zeros(0, np.int64)]))
    m = len(all_steps)
    wall_times = np.full(m, -np.inf)
    values = {c: np.full(m, np.nan) for c in series.components}
    present = {c: np.zeros(m, bool) for c in series.components}
    has_total = any(c.role == "total" for c in series.columns)
    total = np.full(m, np.nan) if has_total else None
    total_present = np.zeros(m, bool) if has_total else None
    total_wall = np.full(m, -np.inf)
    comp_wall = {c: np.full(m, -np.inf) for c in series.components}
    for column, steps, walls, vals in per_column:
        rows = np.searchsorted(all_steps, steps)
        wall_times[rows] = np.maximum(wall_times[rows], walls)
        # Two columns of one component (e.g. two eval dirs mapped alike): latest write wins.
        if column.role == "total":
            target, flags, seen = total, total_present, total_wall
        else:
            name = column.component
            target, flags, seen = values[name], present[name], comp_wall[name]
        newer = walls >= seen[rows]
        target[rows[newer]] = vals[newer]
        flags[rows[newer]] = True
        seen[rows[newer]] = walls[newer]
    weights = {}
    for c in series.components:
        gain = series.gains.get(c) if series.unweight else None
        if gain:
            values[c] = values[c] / gain
            weight = gain
        else:
            weight = series.weights.get(c, 1.0)
        weights[c] = np.where(present[c], weight, np.nan)
    breakdown = Breakdown(key, list(series.components), all_steps,
                          np.where(np.isfinite(wall_times), wall_times, np.nan),
                          values, weights, present, total, total_present, skipped=0)
    breakdown.collapsed = dropped
    if sampled:
        breakdown.notes.append(
            "TensorBoard kept only %d points of some of these tags (sampled at load time): "
            "start it with --samples_per_plugin scalars=0 to read every step."
            % series.scalar_limit)
    return breakdown


def _decode_steps(layout, datums):
    """Version 1: one step per point. ((steps, wall_times, columns) or None, skipped), where
    columns[j] is the j-th number of every point (one contiguous row per number)."""
    n = layout.tensor_length
    rows, steps, walls = [], [], []
    skipped = 0
    for d in datums:
        array = np.asarray(d.numpy, dtype=np.float64).reshape(-1)
        if array.shape[0] != n:
            skipped += 1
            continue
        rows.append(array)
        steps.append(d.step)
        walls.append(d.wall_time)
    if not rows:
        return None, skipped
    return (np.array(steps, np.int64), np.array(walls, np.float64),
            np.ascontiguousarray(np.vstack(rows).T)), skipped


def _decode_blocks(layout, datums):
    """Version 2: each point is a block of rows [step, wall_time, numbers...]; the blocks are
    transposed as they are joined, so every number is one contiguous row of `columns`."""
    width = layout.row_width
    blocks = []
    skipped = 0
    for d in datums:
        array = np.asarray(d.numpy, dtype=np.float64)
        if array.ndim != 2 or array.shape[1] != width or not len(array):
            skipped += 1
            continue
        blocks.append(array.T)
    if not blocks:
        return None, skipped
    columns = np.concatenate(blocks, axis=1) if len(blocks) > 1 else blocks[0].copy()
    steps = columns[0]
    ok = np.isfinite(steps) & (steps >= 0) & (steps == np.floor(steps))
    if not ok.all():
        skipped += int((~ok).sum())
        columns = columns[:, ok]
        steps = columns[0]
    return (steps.astype(np.int64), columns[1], columns[2:]), skipped


def assemble(key, parts):
    """Merges the points of every layout of one series into a `Breakdown`.

    Args:
      parts: [(Layout, [TensorDatum, ...]), ...].

    A step logged more than once (a restarted job, two layouts at one step) keeps the point
    with the latest wall time; points are never mixed across writes.
    """
    return _merge(key, *_decode_parts(parts))


def _decode_parts(parts):
    """([(layout, steps, wall_times, columns)] of the parts with readable points, how many
    points or block rows could not be read)."""
    skipped = 0
    decoded = []
    for layout, datums in parts:
        decoded_part, bad = (_decode_blocks if layout.block else _decode_steps)(layout, datums)
        skipped += bad
        if decoded_part is not None:
            decoded.append((layout,) + decoded_part)
    return decoded, skipped


def _merge(key, decoded, skipped):
    """The `Breakdown` of decoded parts (see `assemble`)."""
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

    if len(decoded) == 1 and (len(decoded[0][1]) < 2 or np.all(np.diff(decoded[0][1]) > 0)):
        return _assemble_sorted(key, components, decoded[0], skipped)  # the common case
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
    for i, (layout, _, _, columns) in enumerate(decoded):
        out_rows = np.nonzero(source[chosen] == i)[0]
        if not len(out_rows):
            continue
        in_rows = offset[chosen][out_rows]
        k = len(layout.components)
        for j, c in enumerate(layout.components):
            values[c][out_rows] = columns[j][in_rows]
            weights[c][out_rows] = columns[k + j][in_rows]
            present[c][out_rows] = True
        if layout.has_total:
            total[out_rows] = columns[2 * k][in_rows]
            total_present[out_rows] = True
    return Breakdown(key, components, steps, wall_times, values, weights, present,
                     total, total_present, skipped)


def _assemble_sorted(key, components, part, skipped):
    """One layout whose steps are already strictly increasing (one writer, no restart): its
    columns are the breakdown, without the sort of the general case."""
    layout, steps, wall_times, columns = part
    k = len(layout.components)
    present = np.ones(len(steps), bool)
    values = {c: columns[j] for j, c in enumerate(layout.components)}
    weights = {c: columns[k + j] for j, c in enumerate(layout.components)}
    total = columns[2 * k] if layout.has_total else None
    return Breakdown(key, components, steps, wall_times, values, weights,
                     {c: present for c in layout.components}, total,
                     present if layout.has_total else None, skipped)
