"""Overview series: per bucket of steps, the few rows of a series that draw like all of them.

A chart of 200,000 steps drawn at 2,000 points needs a few percent of the rows: in each bucket
of steps its first and last row, and the rows where a contribution (weight × value) or the
total reaches its minimum or maximum, or first turns NaN — the rule `reader.display_indices`
applies. The extremes of a union of buckets are among the extremes of its parts, so the rows
kept per small bucket are enough to draw any coarser bucketing faithfully (spikes and NaNs
included).

`FileWriter` keeps those rows for buckets of LEVELS steps and writes them beside each block of
a series, in the same event, under one overview tag per level (docs/FORMAT.md). A display
read then takes the coarsest level whose buckets are no coarser than the chart's and reads
20–70× fewer rows than the series holds; exports and diagnostics still read every row.

An overview row is a block row with one more number, `count`: how many rows the writer had
written in that row's bucket when it wrote the row. A bucket's candidates are written while
it is still open, so that the overview always covers the blocks, each row once: later events
add the rows that became candidates since, and the bucket's last row (always new when the
bucket grew) carries its latest count. So the largest count per bucket is the bucket's row
count, and their sum the series' number of steps.
"""

import numpy as np

# Steps per bucket of each level, finest first; each level's buckets are unions of the
# previous level's (×4), so a level is computed from the rows the finer one kept.
LEVELS = (256, 1024, 4096, 16384)
_SHIFT = 8  # LEVELS[0] == 1 << _SHIFT: a step's finest bucket is step >> _SHIFT
_RATIO = 4  # LEVELS[i + 1] // LEVELS[i]
# A writer decides whether to write a level once its steps span this many of the level's
# buckets: it writes the level if the level keeps at most half the rows (a series logged
# every 1,000 steps keeps every row at every level: no overview, nothing wasted).
DECIDE_BUCKETS = 8
_COMPACT_ROWS = 4096  # a bucket's rows are reduced to its candidates beyond this many


def extreme_indices(columns, size):
    """Sorted indices of what draws each bucket of `size` consecutive points like all of them:
    its first and last, and where each of `columns` reaches its minimum and maximum (a NaN
    counts as a maximum) and first turns NaN. The one rule of display sampling and overviews."""
    n = len(columns[0])
    buckets = -(-n // size)
    starts = np.arange(buckets) * size
    pad = buckets * size - n
    keep = [starts, np.minimum(starts + size, n) - 1]
    for column in columns:
        nan = np.isnan(column)
        has_nan = nan.any()
        key = np.where(nan, np.inf, column) if has_nan else column
        grid = np.pad(key, (0, pad), mode="edge").reshape(buckets, size)
        keep += [starts + grid.argmin(axis=1), starts + grid.argmax(axis=1)]
        if has_nan:
            grid = np.pad(nan, (0, pad)).reshape(buckets, size)
            keep.append((starts + grid.argmax(axis=1))[grid.any(axis=1)])
    mask = np.zeros(n, bool)  # (not np.unique: its first call imports numpy.ma, ≈ 20 ms)
    mask[np.minimum(np.concatenate(keep), n - 1)] = True
    return np.flatnonzero(mask)


def keep_rows(rows, k, has_total):
    """Sorted indices of the rows of one bucket that draw like all of them.

    Args:
      rows: float64 array [n, 2 + L] of block rows [step, wall_time, values (k), weights (k),
        total?] (more columns after those are ignored).
    """
    n = len(rows)
    if n <= 2:
        return np.arange(n)
    contributions = rows[:, 2:2 + k] * rows[:, 2 + k:2 + 2 * k]
    total = rows[:, 2 + 2 * k] if has_total else contributions.sum(axis=1)
    return extreme_indices(list(contributions.T) + [total], n)


class _Level:
    __slots__ = ("size", "bucket", "open", "open_count", "out", "out_rows", "state", "sent")

    def __init__(self, size):
        self.size = size
        self.bucket = None  # the open bucket (step // size)
        self.open = []  # candidate rows (with counts) of the open bucket's closed sub-buckets
        self.open_count = 0
        self.out = []  # rows of closed buckets not written yet
        self.out_rows = 0
        self.state = None  # None: undecided; True: written; False: not worth writing
        self.sent = set()  # (step, wall time) of the open bucket's rows written already


class Overview:
    """The overview rows of one series, as its writer writes it (not thread-safe: the
    FileWriter calls it under its lock): `add_rows` with each block's rows, then
    `rows_to_write` for that block's event. Nothing is done per step.

    Invariant: each level's open bucket, when it holds anything, contains the open finest
    bucket (`raw_bucket`), so what was written since a bucket opened is always in one place.
    """

    __slots__ = ("k", "has_total", "width", "levels", "raw", "raw_count", "raw_bucket",
                 "first_step", "last_step", "rows")

    def __init__(self, layout):
        self.k = len(layout.components)
        self.has_total = layout.has_total
        self.width = 2 + layout.tensor_length
        self.levels = [_Level(size) for size in LEVELS]
        self.raw = None  # rows of the open finest bucket (or their candidates)
        self.raw_count = 0  # rows written in the open finest bucket
        self.raw_bucket = None
        self.first_step = None
        self.last_step = None
        self.rows = 0  # rows this writer has written to the series

    def _candidates(self, rows, count):
        """The kept rows of `rows` (with or without a count column), counts set to `count`."""
        kept = rows[keep_rows(rows, self.k, self.has_total)]
        out = np.empty((len(kept), self.width + 1))
        out[:, :self.width] = kept[:, :self.width]
        out[:, self.width] = count
        return out

    def add_rows(self, rows):
        """Notes the rows of one block (float64 [n, width], as written: steps >= 0)."""
        if all(level.state is False for level in self.levels):
            return  # no level is worth writing (e.g. a series logged every 1,000 steps)
        n = len(rows)
        steps = rows[:, 0].astype(np.int64)
        low, high = int(steps.min()), int(steps.max())
        self.first_step = low if self.first_step is None else min(self.first_step, low)
        self.last_step = high if self.last_step is None else max(self.last_step, high)
        self.rows += n
        buckets = steps >> _SHIFT
        cuts = np.flatnonzero(buckets[1:] != buckets[:-1]) + 1
        for start, end in zip([0, *cuts.tolist()], [*cuts.tolist(), n]):
            bucket = int(buckets[start])
            if bucket != self.raw_bucket:
                self._close_raw(bucket)
            part = rows[start:end]
            self.raw = part if self.raw is None else np.concatenate([self.raw, part])
            self.raw_count += end - start
            if len(self.raw) > _COMPACT_ROWS:  # one step logged over and over
                self.raw = self._candidates(self.raw, 0)[:, :self.width]

    def _close_raw(self, new_bucket):
        """Closes the open finest bucket (its candidates go up every level), opens
        `new_bucket`, and closes each level's bucket that does not contain it."""
        if self.raw is not None:
            self._feed(0, self._candidates(self.raw, self.raw_count), self.raw_count,
                       self.raw_bucket)
        self.raw, self.raw_count, self.raw_bucket = None, 0, new_bucket
        for i in range(1, len(self.levels)):
            level = self.levels[i]
            if level.open and level.bucket != new_bucket >> (2 * i):  # _RATIO == 4
                self._close(i)

    def _feed(self, i, candidates, count, bucket):
        """Adds a closed bucket of level i - 1 (or of the finest rows: i == 0) to level i."""
        level = self.levels[i]
        if i > 0:
            bucket //= _RATIO
        if level.bucket != bucket:
            self._close(i)
            level.bucket = bucket
        level.open.append(candidates)
        level.open_count += count
        if i == 0:
            self._close(0)  # level 0's buckets are the finest buckets: closed as they come

    def _close(self, i):
        level = self.levels[i]
        if not level.open:
            return
        rows = level.open[0] if len(level.open) == 1 else np.concatenate(level.open)
        candidates = self._candidates(rows, level.open_count) if i else rows
        if level.state is not False:
            new = _unsent(candidates, level.sent)
            level.out.append(new)
            level.out_rows += len(new)
        level.sent = set()
        if i + 1 < len(self.levels):
            self._feed(i + 1, candidates, level.open_count, level.bucket)
        level.open = []
        level.open_count = 0

    def _partials(self):
        """[candidates or None] of each level's open bucket, finest first (counts so far):
        what a reader needs to draw the steps written since the bucket opened."""
        partials = []
        below, below_count = None, 0
        if self.raw is not None:
            below = self._candidates(self.raw, self.raw_count)
            below_count = self.raw_count
        for i, level in enumerate(self.levels):
            parts = list(level.open)
            count = level.open_count
            if below is not None:
                parts.append(below)
                count += below_count
            if not parts:
                partials.append(None)
                continue
            rows = parts[0] if len(parts) == 1 else np.concatenate(parts)
            below = self._candidates(rows, count) if i else rows
            below_count = count
            partials.append(below)
        return partials

    def rows_to_write(self):
        """[(level size, float64 array [n, width + 1])] to write now, for each level written."""
        span = 0 if self.first_step is None else self.last_step - self.first_step
        result = []
        for level, partial in zip(self.levels, self._partials()):
            if level.state is False:
                continue
            if partial is not None and level.state:
                partial = _unsent(partial, level.sent, remember=True)
            pending = level.out + ([partial] if partial is not None else [])
            if level.state is None:
                if span < DECIDE_BUCKETS * level.size:
                    if level.out_rows > _COMPACT_ROWS:  # steps going back and forth
                        level.state, level.out, level.out_rows = False, [], 0
                    continue
                level.state = 2 * sum(len(p) for p in pending) <= self.rows
                if not level.state:
                    level.out, level.out_rows = [], 0
                    continue
                if partial is not None:
                    _unsent(partial, level.sent, remember=True)
            if pending:
                result.append((level.size, pending[0] if len(pending) == 1
                               else np.concatenate(pending)))
            level.out, level.out_rows = [], 0
        return result


def _unsent(rows, sent, remember=False):
    """The rows whose (step, wall time) is not in `sent` (adding them to it if `remember`).

    A bucket's rows are written once: its candidates are written while it is open, and then
    only the rows that became candidates since (a new extreme is a new row; the last row, which
    carries the bucket's latest count, is always new when the count changed)."""
    ids = list(zip(rows[:, 0].tolist(), rows[:, 1].tolist()))
    keep = [i for i, key in enumerate(ids) if key not in sent]
    if remember:
        sent.update(ids)
    return rows if len(keep) == len(rows) else rows[keep]


def choose_level(levels, max_step, max_points, k, min_buckets=1):
    """The coarsest of `levels` (sizes) giving at least `min_buckets` buckets per bucket of a
    display of `max_points` points (k components), or None if none is that fine: then the
    series is read whole. Steps are counted from 0 (the listing tells only the largest).

    With buckets no coarser than the display's, every display bucket's extremes are among the
    overview rows (up to where the two bucketings' edges fall), so the chart draws the same
    envelope as from every row."""
    per_bucket = 2 + 2 * (k + 1)
    display_buckets = max(1, max_points // per_bucket)
    best = None
    for size in sorted(levels):
        if (max_step + 1) / size >= min_buckets * display_buckets:
            best = size
    return best


def count_steps(size, steps, counts):
    """The series' number of steps from its overview rows: per bucket, the largest count."""
    if not len(steps):
        return 0
    buckets = np.asarray(steps, np.int64) // size
    order = np.lexsort((counts, buckets))  # by bucket, the largest count last
    buckets = buckets[order]
    last = np.ones(len(buckets), bool)
    last[:-1] = buckets[1:] != buckets[:-1]
    return int(np.asarray(counts)[order][last].sum())
