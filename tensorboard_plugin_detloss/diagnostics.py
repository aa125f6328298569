"""Diagnostics that explain themselves: per-component warnings and change attribution.

A pure module (numpy only): it takes breakdowns — objects with `steps`, `components`, `values`,
`weights`, `present`, `total`, `total_present`, like `reader.Breakdown` or `SplitData` — and
returns `Finding`s. Every statistic is noise-aware: curves are summarised by medians over
buckets of steps, noise by the median absolute difference of neighbouring points (robust to
trends and outliers), and every warning needs a sustained stretch, not a few points. Cost is
linear in the number of steps (one bucketed median pass per series).

See README "What each warning means" and docs/DIAGNOSTICS.md for how well it works.
"""

import dataclasses
import math
import zlib
from typing import Dict, List, Optional

import numpy as np

SEVERITIES = ("info", "warning", "error")
KINDS = ("non_finite", "zero", "stalled", "overfitting", "rising", "spike", "dominant",
         "total_mismatch", "weight_change")
TOTAL = None  # `component` of a finding about the total

VAL_SPLITS = ("val", "validation", "valid", "eval", "evaluation", "test")
ZERO = 1e-8
FINE_BUCKETS = 2048  # the resolution of every curve summary
WARMUP = 0.05  # the first 5% of a run's steps are warm-up for spike/rising/stalled


@dataclasses.dataclass
class Finding:
    kind: str
    severity: str
    component: Optional[str]
    split: str
    start_step: int
    end_step: int
    message: str
    evidence: Dict[str, object]

    def to_json(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass
class SplitData:
    """One split of one loss, the engine's input (reader.Breakdown has the same attributes)."""

    steps: np.ndarray
    components: List[str]
    values: Dict[str, np.ndarray]
    weights: Dict[str, np.ndarray]
    present: Dict[str, np.ndarray]
    total: Optional[np.ndarray] = None
    total_present: Optional[np.ndarray] = None

    @classmethod
    def from_arrays(cls, steps, values, weights=None, total=None):
        """Convenience: dense arrays, NaN-free presence (every component at every step)."""
        steps = np.asarray(steps, np.int64)
        values = {c: np.asarray(v, np.float64) for c, v in values.items()}
        weights = {c: np.broadcast_to(np.asarray((weights or {}).get(c, 1.0), np.float64),
                                      steps.shape).copy() for c in values}
        present = {c: np.ones(len(steps), bool) for c in values}
        total_present = None if total is None else np.ones(len(steps), bool)
        total = None if total is None else np.asarray(total, np.float64)
        return cls(steps, list(values), values, weights, present, total, total_present)


# --- formatting ---------------------------------------------------------------------------------


def _num(x):
    if x is None:
        return "n/a"
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return "%.4g" % x


def _step(s):
    return "{:,}".format(int(s))


def _pct(x):
    return "%+.0f%%" % (100 * x) if abs(x) >= 0.01 else "%+.1f%%" % (100 * x)


def _name(component):
    return "the total" if component is TOTAL else component


def _clean(evidence):
    """Evidence values as JSON-friendly Python numbers (non-finite floats stay floats)."""
    out = {}
    for k, v in evidence.items():
        if isinstance(v, (np.floating, np.integer)):
            v = v.item()
        out[k] = v
    return out


# --- signals ------------------------------------------------------------------------------------


def _bucket_size(n):
    """Points per bucket for n points: a power of two, so that at most FINE_BUCKETS buckets.

    A power of two keeps a full bucket full as the series grows (until the size doubles), which
    is what lets `_SeriesState` summarise only new steps.
    """
    k = 1
    while k * FINE_BUCKETS < n:
        k *= 2
    return k


def _noise_per_bucket(y, k):
    """Per bucket of k points, σ of white noise from (at most) its first 64 neighbour differences.

    median |Δy| / (√2 · 0.6745) estimates σ on a smooth trend; a spike or a jump barely moves it.
    `y` holds whole buckets only.
    """
    m = min(k, 65)
    d = np.abs(np.diff(y.reshape(-1, k)[:, :m], axis=1))
    return np.median(d, axis=1) * (1.4826 / math.sqrt(2))


class _SeriesState:
    """What the engine keeps of one series (a component or the total of one split).

    The series' points are its present, finite values. They are summarised by buckets of
    `_bucket_size(n)` points: a median level and a local noise per bucket, plus the few points
    far above their bucket's level (spike candidates). A full bucket never changes, so an update
    only reads the rows after the last full bucket; when the series outgrows FINE_BUCKETS·k
    points, k doubles and the summary is rebuilt from the start (log₂ times over a run's life).
    Below 16 points per bucket everything is recomputed each time (≤ 32,768 points).

    Alongside, counters that only ever need the new rows: non-finite values, runs of exact
    zeros, zero weights and weight changes.
    """

    def __init__(self):
        self._reset(1)
        # Row-by-row counters (every row read once).
        self.scan_row = 0
        self.points = 0  # present, finite points
        self.nonfinite = None  # (first step, first value, count, last step)
        self.zeros = 0
        self.zero_runs = []  # (start, end_exclusive, first step, last step, step after), ≥ 10
        self.open_zero = None  # (start, its step): zeros still going at the last point
        self.any_zero_weight = False
        self.zero_weight = None  # (count, first step, last step)
        self.last_weight = None  # the weight at the last present row (for changes)
        self.changes = 0
        self.first_changes = []  # [(step before, step, weight before, weight)] of the first 6
        self.last_change = None  # (step, weight)
        self.weight_min = self.weight_max = math.nan
        self.first_step = self.last_step = None

    def _reset(self, k):
        self.k = k
        self.row = 0  # rows before the first unfinished bucket
        self.done = 0  # points in full buckets
        self.level = np.zeros(0)
        self.local = np.zeros(0)
        self.bucket_first = np.zeros(0, np.int64)
        self.candidates = [np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0),
                           np.zeros(0, np.int64)]  # point index, step, value, bucket

    # -- buckets --

    def update(self, steps, values, present, weights=None):
        """Reads rows [scan_row, n) into the counters and the rows after the last full bucket
        into buckets; returns the `_Signal` of the whole series."""
        while True:
            r = self.row
            finite = np.isfinite(values[r:])
            ok = present[r:] & finite
            every = bool(ok.all())  # the common case: no copy needed
            y = values[r:] if every else values[r:][ok]
            s = steps[r:] if every else steps[r:][ok]
            k = _bucket_size(self.done + len(y))
            if k == self.k:
                break
            self._reset(k)
        a = self.scan_row - r  # the counters have read rows before scan_row already
        p = a if every else int(np.count_nonzero(ok[:a]))
        self.scan(steps, values, present, weights, (finite[a:], ok[a:], y[p:], s[p:]))
        full = (len(y) // k) * k if k >= 16 else 0
        if full:
            yf = y[:full]
            level = np.median(yf.reshape(-1, k), axis=1)
            local = _noise_per_bucket(yf, k)
            self.level = np.concatenate((self.level, level))
            self.local = np.concatenate((self.local, local))
            self.bucket_first = np.concatenate((self.bucket_first, s[:full:k]))
            excess = yf.reshape(-1, k) - level[:, None]
            scale = np.maximum(local, 1e-9 * np.maximum(np.abs(level), 1e-12))[:, None]
            b, j = np.nonzero((excess > 8.0 * scale) & (excess > 1.5 * np.abs(level)[:, None]))
            i = b * k + j
            nb0 = len(self.level) - len(level)
            self.candidates = [np.concatenate((old, new)) for old, new in zip(
                self.candidates, (self.done + i, s[i], yf[i], nb0 + b))]
            self.done += full
            if full == len(y):
                self.row = len(steps)
            elif every:
                self.row = r + full
            else:
                self.row = r + int(np.flatnonzero(ok)[full])
        signal = _Signal(self, y[full:], s[full:])
        if k < 16:
            self._reset(k)  # small: recomputed from the first row each time
        return signal

    # -- counters --

    def scan(self, steps, values, present, weights=None, known=None):
        """Reads rows [scan_row, n) into the counters.

        known: (finite, ok, points, their steps) of those rows, if already computed.
        """
        r = self.scan_row
        self.scan_row = len(steps)
        if r >= len(steps):
            return
        steps, values, present = steps[r:], values[r:], present[r:]
        if known is None:
            finite = np.isfinite(values)
            ok = present & finite
            y, s = values[ok], steps[ok]
        else:
            finite, ok, y, s = known
        if len(y) < len(ok):
            bad = present & ~finite
            if bad.any():
                i = np.flatnonzero(bad)
                if self.nonfinite is None:
                    self.nonfinite = (int(steps[i[0]]), float(values[i[0]]), 0, 0)
                first_step, first_value, count, _ = self.nonfinite
                self.nonfinite = (first_step, first_value, count + len(i), int(steps[i[-1]]))
        p0, before = self.points, self.last_step
        self.points += len(y)
        if len(y):
            if self.first_step is None:
                self.first_step = int(s[0])
            self.last_step = int(s[-1])
        zero = np.abs(y) < ZERO
        zeros = int(np.count_nonzero(zero))
        self.zeros += zeros
        if len(y) and (zeros or self.open_zero is not None):
            self._zero_runs(zero, s, p0, before)
        if weights is None:
            return
        weights = weights[r:]
        small = np.abs(weights) < ZERO
        if small.any():
            self.any_zero_weight = True
            zero_weight = ~zero & (small if len(y) == len(ok) else small[ok])
            if zero_weight.any():
                i = np.flatnonzero(zero_weight)
                count, first, _ = self.zero_weight or (0, int(s[i[0]]), 0)
                self.zero_weight = (count + len(i), first, int(s[i[-1]]))
        if present.all():
            self._weight_changes(steps, weights)
        else:
            self._weight_changes(steps[present], weights[present])

    def _zero_runs(self, zero, s, p0, before):
        """Runs of exact zeros (point indices), one left open at the last point continuing."""
        runs = _runs_of(zero)
        carried = None  # step where a run left open before started
        if self.open_zero is not None:
            start, carried = self.open_zero
            self.open_zero = None
            if runs and runs[0][0] == 0:
                runs[0] = (start - p0, runs[0][1])
            elif p0 - start >= 10:  # it ended at the previous last point
                self.zero_runs.append((start, p0, carried, before, int(s[0])))
        for a, b in runs:
            start_step = int(s[a]) if a >= 0 else carried
            if p0 + b == self.points:
                self.open_zero = (p0 + a, start_step)
            elif b - a >= 10:
                self.zero_runs.append((p0 + a, p0 + b, start_step, int(s[b - 1]), int(s[b])))

    def _weight_changes(self, s, w):
        """Weight changes over present rows (a NaN next to a NaN is no change)."""
        if not len(w):
            return
        fresh = w
        if self.last_weight is not None:
            s = np.concatenate(([self.last_weight[0]], s))
            w = np.concatenate(([self.last_weight[1]], w))
        changed = np.flatnonzero(w[1:] != w[:-1]) + 1
        if len(changed):
            changed = changed[~(np.isnan(w[changed]) & np.isnan(w[changed - 1]))]
        for i in changed[:max(0, 6 - len(self.first_changes))]:
            self.first_changes.append((int(s[i - 1]), int(s[i]), float(w[i - 1]), float(w[i])))
        if len(changed):
            self.changes += len(changed)
            self.last_change = (int(s[changed[-1]]), float(w[changed[-1]]))
        low, high = np.min(fresh), np.max(fresh)  # NaN if any is NaN
        if np.isnan(low) or np.isnan(high):
            if np.isnan(fresh).all():
                low = high = math.nan
            else:
                low, high = np.nanmin(fresh), np.nanmax(fresh)
        self.weight_min = float(np.fmin(self.weight_min, low))
        self.weight_max = float(np.fmax(self.weight_max, high))
        self.last_weight = (int(s[-1]), float(w[-1]))

    def zero_stretches(self):
        """[(start, end_exclusive, first step, last step, step after or None)]: every run of
        exact zeros of ≥ 10 points, the one still going at the end included."""
        out = list(self.zero_runs)
        if self.open_zero is not None and self.points - self.open_zero[0] >= 10:
            out.append((self.open_zero[0], self.points, self.open_zero[1], self.last_step, None))
        return out


class _Signal:
    """One series summarised over at most FINE_BUCKETS buckets: full ones from the state, plus
    the unfinished last one (`tail_y`, `tail_steps`)."""

    def __init__(self, state, tail_y, tail_steps):
        self.n = state.done + len(tail_y)
        self.bucket_size = k = state.k
        self.first_step, self.last_step = state.first_step, state.last_step
        full = (len(tail_y) // k) * k  # > 0 only when k < 16 (nothing kept in the state)
        level, first = [state.level], [state.bucket_first]
        if full:
            level.append(np.median(tail_y[:full].reshape(-1, k), axis=1))
            first.append(tail_steps[:full:k])
        rest = tail_y[full:]
        if len(rest):
            level.append([np.median(rest)])
            first.append(tail_steps[full:full + 1])
        self.level = np.concatenate(level)
        self.bucket_first = np.concatenate(first).astype(np.int64)
        nb = len(self.level)
        self.bucket_count = np.full(nb, k, np.int64)
        if nb:
            self.bucket_count[-1] = self.n - k * (nb - 1)
        m = min(k, 65)
        if k >= 16:
            local = state.local
            if len(rest) >= m:  # enough points for the unfinished bucket's own noise
                local = np.concatenate((local, _noise_per_bucket(rest[:m], m)))
            self.sigma = float(np.median(local)) if len(local) else 0.0
            self.local_sigma = np.concatenate((local, np.full(nb - len(local), self.sigma)))
        else:
            diffs = np.abs(np.diff(tail_y))
            self.sigma = 1.4826 * float(np.median(diffs)) / math.sqrt(2) if self.n > 2 else 0.0
            self.local_sigma = np.full(nb, self.sigma)
        # Only a series of ≥ 30 points is checked for spikes.
        self.candidates = self._candidates(state, tail_y, tail_steps, rest) if self.n >= 30 \
            else None

    def _candidates(self, state, tail_y, tail_steps, rest):
        """(point index, step, value, level, noise) of points far above their local level."""
        k, nb = self.bucket_size, len(self.level)
        if k < 8:  # few points: a running median of 9 is the level
            n = len(tail_y)
            w = 9 if n >= 9 else max(1, n | 1)
            padded = np.pad(tail_y, w // 2, mode="edge")
            level = np.median(np.lib.stride_tricks.sliding_window_view(padded, w), axis=1)
            noise = np.full(n, self.sigma)
            i = np.nonzero((tail_y - level > 8.0 * np.maximum(noise, 1e-9 * np.maximum(
                np.abs(level), 1e-12))) & (tail_y - level > 1.5 * np.abs(level)))[0]
            return i, tail_steps[i], tail_y[i], level[i], noise[i]
        if k < 16:  # every bucket is in the tail; the noise is the series' σ
            level = self.level[np.arange(len(tail_y)) // k]
            i = np.nonzero(tail_y - level > 1.5 * np.abs(level))[0]
            return i, tail_steps[i], tail_y[i], level[i], np.full(len(i), self.sigma)
        index, steps, y, bucket = state.candidates
        if len(rest):
            i = np.arange(len(rest))
            index = np.concatenate((index, state.done + i))
            steps = np.concatenate((steps, tail_steps[i]))
            y = np.concatenate((y, rest))
            bucket = np.concatenate((bucket, np.full(len(rest), nb - 1)))
        return index, steps, y, self.level[bucket], np.maximum(self.local_sigma[bucket],
                                                               self.sigma * 0.25)

    def bucket_of_step(self, step):
        return int(np.clip(np.searchsorted(self.bucket_first, step, side="right") - 1, 0,
                           len(self.level) - 1))

    def window_level(self, b0, b1):
        """(median level, standard error) of buckets [b0, b1)."""
        b0, b1 = max(0, b0), min(len(self.level), max(b1, b0 + 1))
        level = float(np.median(self.level[b0:b1]))
        count = float(np.sum(self.bucket_count[b0:b1]))
        return level, 1.2533 * self.sigma / math.sqrt(max(count, 1.0))

    def smoothed(self):
        """A robust smooth of the bucket levels (running median of 5, or of 3 when short)."""
        level = self.level
        w = 5 if len(level) >= 15 else 3 if len(level) >= 5 else 1
        if w == 1:
            return level.copy()
        padded = np.pad(level, w // 2, mode="edge")
        return np.median(np.lib.stride_tricks.sliding_window_view(padded, w), axis=1)


def _significant(drop, se, level, rel):
    return drop > 4.0 * se and drop > rel * max(abs(level), ZERO)


# --- the engine ---------------------------------------------------------------------------------


def _split_roles(splits):
    """(train split name or None, [val-like split names])."""
    train = "train" if "train" in splits else None
    vals = [s for s in splits if s != train and (s in VAL_SPLITS or s.startswith(VAL_SPLITS))]
    if train is None and len(splits) == 1:
        train = next(iter(splits))
    return train, vals


def diagnose(splits):
    """All findings for one loss of one run (see `Diagnoser.update`)."""
    return Diagnoser().update(splits)


class Diagnoser:
    """The findings of one loss of one run, kept current as steps arrive.

    `update` reads only the rows after those it has already summarised, as long as those are
    unchanged (same steps and wall times: a restart that rewrites steps changes their wall
    times); otherwise that split starts over. The result is the same as a fresh `diagnose`.
    """

    def __init__(self):
        self._splits = {}  # split name -> _SplitState

    def update(self, splits):
        """All findings for `splits` (dict split name -> breakdown-like object, see `SplitData`).

        Returns [Finding], errors first, then by step. Never raises on odd numbers (NaN, Inf,
        empty series, a single point): such input is either a finding or nothing.
        """
        with np.errstate(all="ignore"):  # NaN/Inf/overflow in the input are data, not errors
            states = {}
            for split, data in splits.items():
                state = self._splits.get(split)
                if state is None or not state.extends(data):
                    state = _SplitState()
                state.update(data)
                states[split] = state
            self._splits = states
            return _diagnose(splits, states)


class _SplitState:
    """One split's series states, and the sums behind the total-mismatch check."""

    def __init__(self):
        self.seen = None  # (rows, components, digest) of the breakdown summarised last
        self.series = {}  # component -> _SeriesState
        self.signals = {}  # component -> _Signal
        self.total = _SeriesState()
        self.mismatch_row = 0
        self.counts = np.zeros(4, np.int64)  # steps compared, > 1% off, > 0.1% off, total > Σ
        self.mask_steps = None  # (first, last) compared step
        self.rel_max = -math.inf
        self.ratio = (0, 0.0, 0.0)  # count, mean, M2 of total / Σ (Chan et al. merge)

    @staticmethod
    def _arrays(data):
        """What identifies the rows: steps and wall times (a rewritten step has a later wall
        time), or every array when there are no wall times."""
        arrays = [data.steps]
        walls = getattr(data, "wall_times", None)
        if walls is not None:
            arrays.append(walls)
        else:
            for c in data.components:
                arrays += [data.values[c], data.weights[c], data.present[c]]
            if data.total is not None:
                arrays += [data.total, data.total_present]
        return arrays

    @staticmethod
    def _crcs(arrays, start, stop, crcs=None):
        """CRC-32 of each array's rows [start, stop), continuing `crcs` (of the rows before)."""
        return [zlib.crc32(np.ascontiguousarray(a[start:stop]).view(np.uint8), crc)
                for a, crc in zip(arrays, crcs or [0] * len(arrays))]

    def extends(self, data):
        """Whether `data` starts with the rows summarised last (then the CRCs are kept)."""
        rows, components, crcs = self.seen
        if len(data.steps) < rows or list(data.components[:len(components)]) != components:
            return False
        arrays = self._arrays(data)
        return len(arrays) == len(crcs) and self._crcs(arrays, 0, rows) == crcs

    def update(self, data):
        steps = np.asarray(data.steps, np.int64)
        for c in data.components:
            state = self.series.setdefault(c, _SeriesState())
            self.signals[c] = state.update(steps, np.asarray(data.values[c], np.float64),
                                           np.asarray(data.present[c], bool),
                                           np.asarray(data.weights[c], np.float64))
        if data.total is not None:
            self.total.scan(steps, np.asarray(data.total, np.float64),
                            np.asarray(data.total_present, bool))
            self._mismatch(data, steps)
        rows, _, crcs = self.seen or (0, None, None)
        arrays = self._arrays(data)
        if crcs is not None and len(crcs) != len(arrays):  # a total appeared: all rows again
            rows, crcs = 0, None
        self.seen = (len(steps), list(data.components),
                     self._crcs(arrays, rows, len(steps), crcs))

    def _mismatch(self, data, steps):
        r = self.mismatch_row
        self.mismatch_row = len(steps)
        if r >= len(steps):
            return
        every, mask, t, s, diff, rel = _mismatch_rows(data, r)
        if not len(t):
            return
        self.counts += (len(rel), np.count_nonzero(rel > 0.01), np.count_nonzero(rel > 1e-3),
                        np.count_nonzero(diff > 0))
        sm = steps[r:] if every else steps[r:][mask]
        self.mask_steps = (self.mask_steps or (int(sm[0]),))[:1] + (int(sm[-1]),)
        self.rel_max = max(self.rel_max, float(rel.max()))
        ratio = t / s
        ratio = ratio[np.isfinite(ratio)]
        if len(ratio):
            n0, mean0, m2_0 = self.ratio
            n1, mean1 = len(ratio), float(ratio.mean())
            m2_1 = float(((ratio - mean1) ** 2).sum())
            n = n0 + n1
            delta = mean1 - mean0
            self.ratio = (n, mean0 + delta * n1 / n, m2_0 + m2_1 + delta * delta * n0 * n1 / n)


def _mismatch_rows(data, r):
    """From row r on, the steps where both the logged total and Σ weight × value are finite:
    (all rows?, mask, total, Σ, total − Σ, |total − Σ| relative)."""
    summed = np.zeros(len(data.steps) - r)
    for c in data.components:
        product = data.values[c][r:] * data.weights[c][r:]
        present = data.present[c][r:]
        summed += product if present.all() else np.where(present, product, 0.0)
    total = np.asarray(data.total[r:], np.float64)
    mask = data.total_present[r:] & np.isfinite(total) & np.isfinite(summed)
    every = bool(mask.all())
    t, s = (total, summed) if every else (total[mask], summed[mask])
    diff = t - s
    rel = np.abs(diff) / np.maximum(np.maximum(np.abs(t), np.abs(s)), 1e-12)
    return every, mask, t, s, diff, rel


def _diagnose(splits, states):
    findings = []
    train, vals = _split_roles(splits)
    signals = {(split, c): sig for split, st in states.items() for c, sig in st.signals.items()}
    for split, data in splits.items():
        st = states[split]
        steps = np.asarray(data.steps, np.int64)
        if len(steps) == 0:
            continue
        findings += _non_finite(split, data, st)
        findings += _zero(split, data, st)
        findings += _spikes(split, data, signals)
        findings += _dominant(split, data, steps)
        findings += _total_mismatch(split, data, st)
    findings = _merge_across_splits(findings)
    if train is not None and train in splits:
        findings += _weight_changes(train, splits[train], states[train])
        rising = _rising(train, splits[train], signals)
        findings += rising
        zero = {f.component for f in findings
                if f.kind == "zero" and train in f.evidence.get("splits", [f.split])}
        findings += _stalled(train, splits[train], signals,
                             skip={f.component for f in rising} | zero)
        for val in vals:
            findings += _overfitting(train, val, splits[train], splits[val], signals)
    order = {s: i for i, s in enumerate(reversed(SEVERITIES))}
    findings.sort(key=lambda f: (order[f.severity], f.start_step, KINDS.index(f.kind),
                                 f.split, f.component or ""))
    for f in findings:
        f.evidence = _clean(f.evidence)
    return findings


def _merge_across_splits(findings):
    """A component that is zero in every split is one finding, not one per split."""
    by_key = {}
    out = []
    for f in findings:
        if f.kind == "zero" and f.evidence.get("pattern") == "always":
            key = (f.kind, f.component)
            if key in by_key:
                by_key[key].evidence["splits"].append(f.split)
                continue
            f.evidence["splits"] = [f.split]
            by_key[key] = f
        out.append(f)
    for f in by_key.values():
        if len(f.evidence["splits"]) > 1:
            f.message = f.message.replace(
                "in %s" % f.split, "in every split (%s)" % ", ".join(f.evidence["splits"]))
    return out


# --- non_finite -----------------------------------------------------------------------------


def _non_finite(split, data, state):
    firsts = []
    series = [(c, state.series[c]) for c in data.components]
    if data.total is not None:
        series.append((TOTAL, state.total))
    for c, st in series:
        if st.nonfinite is not None:
            firsts.append((st.nonfinite[0], c, st.nonfinite[1], st.nonfinite[2], st.nonfinite[3]))
    if not firsts:
        return []
    firsts.sort(key=lambda t: (t[0], t[1] is TOTAL))
    first_step = firsts[0][0]
    out = []
    for step, c, value, count, last in firsts:
        order = [x[1] for x in firsts if x[0] == first_step and x[1] is not TOTAL]
        if step == first_step:
            lead = ("the first to go non-finite" if len(order) <= 1 else
                    "together with %s" % ", ".join(_name(o) for o in order if o != c))
        else:
            lead = "after %s went non-finite at step %s" % (_name(firsts[0][1]), _step(first_step))
        message = (
            "%s in %s became %s at step %s (%s); %d non-finite value%s up to step %s. "
            "Likely causes: a learning rate too high or no gradient clipping, log(0) or a division "
            "by an empty target count, fp16 overflow. Check the batch at that step, lower the "
            "learning rate or clip gradients."
            % (_name(c).capitalize() if c is TOTAL else c, split, _num(value), _step(step), lead,
               count, "" if count == 1 else "s", _step(last))
        )
        out.append(Finding("non_finite", "error", c, split, step, last, message,
                           {"first_step": step, "first_value": _num(value), "count": count,
                            "first_component": _name(firsts[0][1])}))
    return out


# --- zero -----------------------------------------------------------------------------------


def _runs_of(mask):
    """[(start, end_exclusive)] of the True runs in a bool array."""
    if not len(mask):
        return []
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.nonzero(d == 1)[0].tolist(), np.nonzero(d == -1)[0].tolist()))


def _absence(split, data, c):
    """Info findings for a component that is not logged at all over the first or last stretch
    of a split's steps (a term switched on late, or off early): it contributes nothing there,
    and the total jumps where it starts or stops."""
    present = data.present[c]
    rows = len(present)
    if rows < 10 or (present[0] and present[-1]) or not present.any():
        return []
    first = int(np.argmax(present))
    last = rows - 1 - int(np.argmax(present[::-1]))
    long_run = max(10, math.ceil(0.05 * rows))
    steps, out = data.steps, []
    if first >= long_run:
        weight, value = float(data.weights[c][first]), float(data.values[c][first])
        out.append(Finding(
            "zero", "info", c, split, int(steps[0]), int(steps[first - 1]),
            "%s in %s is first logged at step %s, after %s logged steps without it: a term "
            "switched on late (like YOLOX's L1 loss in the last epochs). It contributes nothing "
            "before step %s, and the total's change there includes its contribution of %s "
            "(weight %s × value %s)."
            % (c, split, _step(steps[first]), "{:,}".format(first), _step(steps[first]),
               _num(weight * value), _num(weight), _num(value)),
            {"pattern": "absent_until", "absent_points": first,
             "first_logged_step": int(steps[first]),
             "first_contribution": _num(weight * value)}))
    if rows - 1 - last >= long_run:
        out.append(Finding(
            "zero", "info", c, split, int(steps[last + 1]), int(steps[-1]),
            "%s in %s is last logged at step %s; the %s logged steps after it have none: the "
            "term was switched off or stopped being logged, and contributes nothing after step "
            "%s."
            % (c, split, _step(steps[last]), "{:,}".format(rows - 1 - last), _step(steps[last])),
            {"pattern": "absent_from", "absent_points": rows - 1 - last,
             "last_logged_step": int(steps[last])}))
    return out


def _zero(split, data, state):
    out = []
    for c in data.components:
        out += _absence(split, data, c)
        st = state.series[c]
        n = st.points
        if n < 5:
            continue
        if st.zeros == n:
            out.append(Finding(
                "zero", "warning", c, split, st.first_step, st.last_step,
                "%s is zero at every one of its %s steps in %s: it contributes nothing to "
                "training. Expected for a one-class dataset (no classification to learn) or a term "
                "that is switched off; otherwise check that the term is computed and wired into "
                "the loss." % (c, "{:,}".format(n), split),
                {"pattern": "always", "points": n}))
            continue
        long_run = max(10, int(0.2 * n))
        for start, end, first, last, after in st.zero_stretches():
            if end - start < long_run:
                continue
            if start == 0:
                out.append(Finding(
                    "zero", "info", c, split, first, last,
                    "%s in %s is zero until step %s, then non-zero: a term switched on late "
                    "(like YOLOX's L1 loss in the last epochs). Its contribution before step %s "
                    "is nothing." % (c, split, _step(after), _step(after)),
                    {"pattern": "until", "zero_points": end, "nonzero_from_step": after}))
            elif end == n:
                out.append(Finding(
                    "zero", "warning", c, split, first, last,
                    "%s in %s dropped to exactly zero at step %s and stayed there for the last "
                    "%s steps: the term stopped contributing. Check for a weight or mask that "
                    "switched it off, or an empty assignment (no positives matched)."
                    % (c, split, _step(first), "{:,}".format(end - start)),
                    {"pattern": "from", "zero_points": end - start, "zero_from_step": first}))
            else:
                out.append(Finding(
                    "zero", "warning", c, split, first, last,
                    "%s in %s is exactly zero from step %s to %s (%s steps), non-zero around it."
                    % (c, split, _step(first), _step(last), "{:,}".format(end - start)),
                    {"pattern": "stretch", "zero_points": end - start}))
        if not st.any_zero_weight or st.zero_weight is None:
            continue
        count, first, last = st.zero_weight
        if count >= long_run and count >= 0.2 * n:
            out.append(Finding(
                "zero", "warning", c, split, first, last,
                "%s in %s has weight 0 at %s steps while its value is not zero: it is logged "
                "but contributes nothing to the optimised loss." % (c, split, "{:,}".format(count)),
                {"pattern": "weight", "points": int(count)}))
    return out


# --- spike ----------------------------------------------------------------------------------


def _spikes(split, data, signals):
    out = []
    for c in data.components:
        signal = signals[(split, c)]
        if signal.n < 30:
            continue
        index, steps, y, level, noise = signal.candidates
        scale = np.maximum(noise, 1e-9 * np.maximum(np.abs(level), 1e-12))
        excess = y - level
        # Upward only (a loss that dips is not a problem), and several times the local level.
        spike = (excess / scale > 8.0) & (excess > 1.5 * np.abs(level))
        warm_end = signal.first_step + WARMUP * (signal.last_step - signal.first_step)
        spike &= steps >= warm_end
        if not spike.any():
            continue
        index, steps, y, level, excess = (a[spike] for a in (index, steps, y, level, excess))
        # Runs of consecutive points; a long one is a plateau, not a spike.
        breaks = np.nonzero(np.diff(index) != 1)[0] + 1
        bounds = zip(np.concatenate(([0], breaks)), np.concatenate((breaks, [len(index)])))
        max_len = max(3, signal.n // 100)
        peaks = [a + int(np.argmax(np.abs(excess[a:b]))) for a, b in bounds if b - a <= max_len]
        if not peaks:
            continue
        ratios = [float(y[p] / level[p]) if level[p] != 0 else math.inf for p in peaks]
        biggest = int(np.argmax(np.abs(ratios)))
        p = peaks[biggest]
        spike_steps = [int(steps[q]) for q in peaks]
        shown = ", ".join(_step(x) for x in spike_steps[:5]) + (" …" if len(peaks) > 5 else "")
        out.append(Finding(
            "spike", "warning", c, split, spike_steps[0], spike_steps[-1],
            "%s in %s spiked %d time%s (steps %s); the largest, at step %s, is %s, %.1f× its "
            "local level of %s, and the curve came back afterwards. Isolated spikes usually come "
            "from a bad batch (broken labels, a huge box, an empty image) or a too-high learning "
            "rate; check the data at those steps, or clip gradients."
            % (c, split, len(peaks), "" if len(peaks) == 1 else "s", shown, _step(steps[p]),
               _num(float(y[p])), ratios[biggest], _num(float(level[p]))),
            {"count": len(peaks), "steps": spike_steps[:50], "largest_step": int(steps[p]),
             "largest_value": float(y[p]), "local_level": float(level[p]),
             "ratio": ratios[biggest]}))
    return out


# --- dominant -------------------------------------------------------------------------------


def _dominant(split, data, steps):
    if len(data.components) < 2 or len(steps) < 5:
        return []
    # Shares are compared as medians over long stretches: every k-th step is plenty.
    k = max(1, len(steps) // 20_000)
    steps = steps[::k]
    contributions = []
    for c in data.components:
        product = np.asarray(data.values[c])[::k] * np.asarray(data.weights[c])[::k]
        ok = np.asarray(data.present[c])[::k] & np.isfinite(product)
        contributions.append(np.where(ok, np.maximum(product, 0.0), 0.0))
    contributions = np.vstack(contributions)
    total = contributions.sum(axis=0)
    ok = total > 0
    if ok.sum() < 5:
        return []
    shares = contributions[:, ok] / total[ok]
    s = steps[ok]
    n = shares.shape[1]
    if n >= 50:
        base = slice(int(WARMUP * n), max(int(0.25 * n), int(WARMUP * n) + 1))
        late = slice(int(0.8 * n), n)
    else:
        base = slice(0, max(1, int(0.3 * n)))
        late = slice(n - max(2, int(0.2 * n)), n)
    out = []
    for i, c in enumerate(data.components):
        b = float(np.median(shares[i, base]))
        e = float(np.median(shares[i, late]))
        if e >= 0.7 and e - b >= 0.3 and e >= 1.75 * max(b, 1e-12):
            others = [data.components[j] for j in range(len(data.components)) if j != i]
            out.append(Finding(
                "dominant", "warning", c, split, int(s[late][0]), int(s[-1]),
                "%s's share of the weighted %s total grew from %.0f%% to %.0f%%: it now dominates "
                "the loss, so the other terms (%s) barely steer training. If that is not "
                "intended, lower its weight or check whether it is diverging."
                % (c, split, 100 * b, 100 * e, ", ".join(others)),
                {"baseline_share": b, "late_share": e, "baseline_until_step": int(s[base][-1])}))
    return out


# --- total_mismatch -------------------------------------------------------------------------


def _total_mismatch(split, data, state):
    n, off, over, positive = (int(x) for x in state.counts)
    if data.total is None or n < 3:
        return []
    frac_off = off / n
    if 2 * over < n and frac_off <= 0.1:
        return []  # the median relative difference is ≤ 0.1%: no need to compute it
    _, _, _, _, diff, rel = _mismatch_rows(data, 0)  # every step again: only when it may fire
    median_rel = float(np.median(rel))
    if median_rel <= 1e-3 and frac_off <= 0.1:
        return []
    median_diff = float(np.median(diff))
    positive = positive / n
    count, mean, m2 = state.ratio
    if count and math.sqrt(m2 / count) <= 1e-3 * abs(mean):
        hint = ("the total is a constant %.4g× the sum: a global factor (a loss scaled by batch "
                "size or gradient accumulation after logging) or every weight off by that factor"
                % mean)
    elif positive >= 0.9:
        hint = ("the total is above the sum by %s on average: a term included in the optimised "
                "loss but not logged as a component (weight decay / L2 regularisation, an "
                "auxiliary or distillation loss)" % _num(median_diff))
    elif positive <= 0.1:
        hint = ("the sum is above the total by %s on average: a wrong weight, a component logged "
                "before a reduction the total uses, or a term counted twice"
                % _num(-median_diff))
    else:
        hint = ("the difference changes sign: upstream smoothing, e.g. Detectron2 logs "
                "20-iteration medians of every term and medians do not add up; harmless when small")
    severity = "warning" if median_rel > 0.01 else "info"
    first, last = state.mask_steps
    return [Finding(
        "total_mismatch", severity, TOTAL, split, first, last,
        "The logged %s total differs from Σ weight × value by %.2g%% (median; %.0f%% of steps off "
        "by more than 1%%). Likely: %s." % (split, 100 * median_rel, 100 * frac_off, hint),
        {"median_relative_difference": median_rel, "fraction_over_1pct": frac_off,
         "median_difference": median_diff, "max_relative_difference": state.rel_max})]


# --- weight_change --------------------------------------------------------------------------


def _weight_changes(split, data, state):
    out = []
    for c in data.components:
        st = state.series[c]
        if not st.changes:
            continue
        if st.changes <= 5:
            for before_step, step, before, after in st.first_changes:
                out.append(Finding(
                    "weight_change", "info", c, split, before_step, step,
                    "The weight of %s changed from %s to %s at step %s: a step in its "
                    "contribution there comes from the weight, not from learning."
                    % (c, _num(before), _num(after), _step(step)),
                    {"from_weight": before, "to_weight": after}))
        else:
            first_step, _, first_weight, _ = st.first_changes[0]
            last_step, last_weight = st.last_change
            out.append(Finding(
                "weight_change", "info", c, split, first_step, last_step,
                "The weight of %s follows a schedule: %d changes between steps %s and %s, from "
                "%s to %s (range %s–%s). Changes in its contribution over that stretch come "
                "partly from the weight, not from learning."
                % (c, st.changes, _step(first_step), _step(last_step), _num(first_weight),
                   _num(last_weight), _num(st.weight_min), _num(st.weight_max)),
                {"changes": int(st.changes), "from_weight": first_weight,
                 "to_weight": last_weight, "min_weight": st.weight_min,
                 "max_weight": st.weight_max}))
    return out


# --- stalled --------------------------------------------------------------------------------


def _improving(signal, b0, b1, rel):
    """(drop from bucket b0 to the end window, standard error, level at b0)."""
    nb = len(signal.level)
    w = max(1, nb // 10)
    start, se0 = signal.window_level(b0, b0 + w)
    end, se1 = signal.window_level(b1 - w, b1)
    return start - end, math.hypot(se0, se1), start


_RATES = np.geomspace(0.2, 40.0, 32)


def _exp_fits(t, y, e=None):
    """Least-squares fits y ≈ a + b·exp(−r·t) over a grid of rates: (sse, a, b, r) of the best.

    e: exp(−r·t) for every rate (rows) and t (columns), if already computed.
    """
    if e is None:
        e = np.exp(-np.outer(_RATES, t))
    n = len(t)
    se, see, sy, sey = e.sum(1), (e * e).sum(1), y.sum(), e @ y
    det = n * see - se * se
    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.where(det > 1e-12, (n * sey - se * sy) / det, 0.0)
    a = (sy - b * se) / n
    sse = ((y[None, :] - a[:, None] - b[:, None] * e) ** 2).sum(1)
    i = int(np.argmin(sse))
    return float(sse[i]), float(a[i]), float(b[i]), float(_RATES[i])


def _stall_fit(signal):
    """(bucket j, level after, drop the curve before j predicted) of an abrupt stall, or None.

    A converging component follows one smooth decay a + b·e^(−rt) to the end. A stalled one is
    explained much better by that decay until step j and a constant after it: compare the two
    fits' residuals in units of the bucket noise, and require that the decay before j still had
    a clear drop ahead of it.
    """
    # Fit on at most 256 coarse buckets (medians of fine ones): the shape is all that matters.
    group = max(1, -(-len(signal.level) // 256))
    full = (len(signal.level) // group) * group
    level = np.median(signal.level[:full].reshape(-1, group), axis=1)
    first = signal.bucket_first[:full:group]
    nb = len(level)
    t = (first - first[0]) / max(1, first[-1] - first[0])
    per_bucket = float(np.median(signal.bucket_count)) * group
    var = max((1.2533 * signal.sigma) ** 2 / max(1.0, per_bucket), 1e-18)
    e = np.exp(-np.outer(_RATES, t))  # every fit below uses a prefix of it
    smooth_sse = _exp_fits(t, level, e)[0]
    best = None
    for j in range(int(0.1 * nb), int(0.75 * nb) + 1, max(1, nb // 40)):
        sse_before, a, b, r = _exp_fits(t[:j], level[:j], e[:, :j])
        after = level[j:]
        sse = sse_before + float(((after - after.mean()) ** 2).sum())
        if best is None or sse < best[0]:
            predicted = b * (math.exp(-r * t[j]) - math.exp(-r))
            best = (sse, j, float(after.mean()), predicted)
    if best is None:
        return None
    sse, j, after_level, predicted = best
    gain = smooth_sse - sse
    if gain / var < 40:
        return None
    if not predicted > 0.1 * max(abs(after_level), ZERO):
        return None
    return j * group, after_level, predicted


def _stalled(split, data, signals, skip=()):
    sig = {c: signals[(split, c)] for c in data.components if signals[(split, c)].n >= 50}
    if len(sig) < 2:
        return []
    out = []
    for c, s in sig.items():
        nb = len(s.level)
        if c in skip or nb < 20:
            continue
        found = _stall_fit(s)
        whole, se_whole, level0 = _improving(s, 0, nb, 0.0)
        never = found is None and not _significant(abs(whole), se_whole, level0, 0.02)
        if found is None and not never:
            continue
        j = found[0] if found else int(WARMUP * nb)
        after, se_after, level_j = _improving(s, j, nb, 0.0)
        if found and _significant(abs(after), se_after, level_j, 0.02):
            continue  # still moving after j: not a stall
        step_j = int(s.bucket_first[j])
        improving = []
        for other, o in sig.items():
            if other == c:
                continue
            jo = o.bucket_of_step(step_j)
            drop, se, level = _improving(o, jo, len(o.level), 0.0)
            if _significant(drop, se, level, 0.05):
                improving.append((other, drop / max(abs(level), ZERO)))
        if not improving:
            continue
        others = ", ".join("%s %s" % (o, _pct(-d)) for o, d in improving)
        last = s.last_step
        if never:
            message = ("%s in %s has not improved at all (level %s throughout, within noise) while "
                       "other components learn (%s over the same steps). The term may be detached "
                       "from the graph, its targets empty or its weight negligible."
                       % (c, split, _num(level0), others))
            level = level0
        else:
            level = found[1]
            message = ("%s in %s stopped improving at step %s: it is flat at %s (within noise) for "
                       "the last %s steps, where its earlier pace predicted a further drop of %s, "
                       "while %s still improve (%s). If it should keep falling: check its weight, "
                       "the label assignment, or whether the learning rate of its head dropped."
                       % (c, split, _step(step_j), _num(level), "{:,}".format(last - step_j),
                          _num(found[2]), ", ".join(o for o, _ in improving), others))
        out.append(Finding("stalled", "warning", c, split, step_j, last, message,
                           {"since_step": step_j, "level": level,
                            "improving": {o: d for o, d in improving}}))
    return out


# --- rising ---------------------------------------------------------------------------------


def _rising(split, data, signals):
    out = []
    for c in data.components:
        s = signals[(split, c)]
        if s.n < 30 or len(s.level) < 10:
            continue
        nb = len(s.level)
        smooth = s.smoothed()
        warm = int(WARMUP * nb)
        i_min = warm + int(np.argmin(smooth[warm:]))
        if nb - i_min < max(3, int(0.15 * nb)):
            continue
        w = max(1, nb // 20)
        low, se0 = s.window_level(i_min - w // 2, i_min + w // 2 + 1)
        end, se1 = s.window_level(nb - max(1, nb // 10), nb)
        rise = end - low
        if not _significant(rise, math.hypot(se0, se1), low, 0.1):
            continue
        threshold = low + 2 * math.hypot(se0, se1)
        sustained = float(np.mean(smooth[i_min + 1:] > threshold))
        if sustained < 0.7:
            continue
        if _weight_change_near(data, c, int(s.bucket_first[i_min]), s):
            continue  # a known regime change, reported as weight_change
        onset = int(s.bucket_first[i_min])
        out.append(Finding(
            "rising", "warning", c, split, onset, s.last_step,
            "%s in %s has been rising since step %s: from %s to %s (%s), sustained over the last "
            "%s steps. A training loss that climbs usually means a learning rate too high for this "
            "stage, a data or augmentation change, or a growing conflict with another term."
            % (c, split, _step(onset), _num(low), _num(end), _pct(rise / max(abs(low), ZERO)),
               "{:,}".format(s.last_step - onset)),
            {"onset_step": onset, "min_level": low, "end_level": end,
             "rise_pct": 100 * rise / max(abs(low), ZERO)}))
    return out


def _weight_change_near(data, c, step, signal):
    steps = np.asarray(data.steps)
    span = max(1, int(0.05 * (signal.last_step - signal.first_step)))
    lo = np.searchsorted(steps, step - span, side="left")
    hi = np.searchsorted(steps, step + span, side="right")
    values = np.asarray(data.weights[c])[lo:hi][np.asarray(data.present[c])[lo:hi]]
    return len(values) > 1 and np.nanmax(values) != np.nanmin(values)


# --- overfitting ----------------------------------------------------------------------------


def _overfitting(train_split, val_split, train, val, signals):
    out = []
    for c in val.components:
        if c not in train.components:
            continue
        v = signals[(val_split, c)]
        t = signals[(train_split, c)]
        if v.n < 5 or t.n < 5:
            continue
        smooth = v.smoothed()
        nb = len(smooth)
        i_min = int(np.argmin(smooth))
        tail = max(3, int(0.15 * nb))
        if nb - i_min <= tail:
            continue
        min_level = float(smooth[i_min])
        end_level = float(np.median(smooth[nb - max(2, nb // 10):]))
        rise = end_level - min_level
        noise = max(v.sigma, 1e-12)
        if not (rise > 3 * noise and rise > 0.05 * max(abs(min_level), ZERO)):
            continue
        after = smooth[i_min + 1:]
        if float(np.mean(after > min_level + noise)) < 0.7:
            continue
        onset = int(v.bucket_first[i_min])
        jt = t.bucket_of_step(onset)
        train_drop, se, train_level = _improving(t, jt, len(t.level), 0.0)
        if not _significant(train_drop, se, train_level, 0.01):
            continue
        rise_pct = 100 * rise / max(abs(min_level), ZERO)
        train_pct = -100 * train_drop / max(abs(train_level), ZERO)
        out.append(Finding(
            "overfitting", "warning", c, val_split, onset, v.last_step,
            "%s in %s passed its minimum at step %s (%s) and has risen %.0f%% since, to %s, while "
            "%s in %s kept falling (%s over the same steps): this component is overfitting. "
            "Stop or pick the checkpoint near step %s, add augmentation or regularisation for this "
            "head, or lower its weight."
            % (c, val_split, _step(onset), _num(min_level), rise_pct, _num(end_level), c,
               train_split, _pct(train_pct / 100), _step(onset)),
            {"onset_step": onset, "min_value": min_level, "end_value": end_level,
             "rise_pct": rise_pct, "train_change_pct": train_pct}))
    return out


# --- attribution --------------------------------------------------------------------------------


def attribution(data, from_step, to_step):
    """Splits the change of Σ weight × value between two logged steps, exactly, by component.

    For each component: Δ(w·c) = w̄·Δc + c̄·Δw with midpoint w̄, c̄ — the first part is the
    change of the loss itself, the second of its weight; the parts sum exactly to ΔTotal. A
    component absent at one end counts as 0 there (with the other end's weight).

    Returns a dict (see docs/API.md, `attribution`), or raises ValueError naming the problem.
    """
    steps = np.asarray(data.steps)
    ia = int(np.searchsorted(steps, from_step, side="left"))
    ib = int(np.searchsorted(steps, to_step, side="right")) - 1
    if ia >= len(steps) or ib < 0 or ia >= ib:
        raise ValueError("no two logged steps between %d and %d" % (from_step, to_step))
    parts = []
    for c in data.components:
        pa, pb = bool(data.present[c][ia]), bool(data.present[c][ib])
        if not (pa or pb):
            continue
        wa = float(data.weights[c][ia]) if pa else float(data.weights[c][ib])
        wb = float(data.weights[c][ib]) if pb else wa
        ca = float(data.values[c][ia]) if pa else 0.0
        cb = float(data.values[c][ib]) if pb else 0.0
        value_effect = 0.5 * (wa + wb) * (cb - ca)
        weight_effect = 0.5 * (ca + cb) * (wb - wa)
        parts.append({"component": c, "value_effect": value_effect,
                      "weight_effect": weight_effect, "delta": value_effect + weight_effect,
                      "from": wa * ca, "to": wb * cb})
    total_a = math.fsum(p["from"] for p in parts)
    total_b = math.fsum(p["to"] for p in parts)
    delta = total_b - total_a
    for p in parts:
        p["share"] = p["delta"] / delta if delta != 0 and math.isfinite(delta) else None
    parts.sort(key=lambda p: -abs(p["delta"]) if math.isfinite(p["delta"]) else -math.inf)
    logged_delta = None
    if data.total is not None and data.total_present[ia] and data.total_present[ib]:
        logged_delta = float(data.total[ib] - data.total[ia])
    return {"from_step": int(steps[ia]), "to_step": int(steps[ib]), "total_from": total_a,
            "total_to": total_b, "delta": delta, "parts": parts, "logged_delta": logged_delta}


def summarize_attribution(result):
    """One line: 'total −0.42 from step 2,000 to 8,000: box −0.31 (74%), dfl −0.09, …'."""
    head = "total %s from step %s to %s" % (_signed(result["delta"]), _step(result["from_step"]),
                                            _step(result["to_step"]))
    items = []
    for p in result["parts"]:
        share = "" if p["share"] is None else (" (%.0f%%)" % (100 * p["share"])).replace("-", "−")
        items.append("%s %s%s" % (p["component"], _signed(p["delta"]), share))
    return head + ": " + ", ".join(items)


def _signed(x):
    return ("%+.3g" % x).replace("-", "−") if math.isfinite(x) else _num(x)
