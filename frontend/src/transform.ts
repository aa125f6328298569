// From decoded breakdowns to what the charts draw: what-if weights, smoothing, 100% shares,
// the x axis (step, relative or wall time), train/val alignment and multi-run alignment.
// Pure functions: no DOM, no uPlot.

import { alignColumn, unionSteps } from "./align";
import type { Breakdown } from "./api";
import { smooth } from "./smoothing";
import { type Column, type Layer, contribution, stackLayers, sumColumns } from "./stack";

export type XMode = "step" | "relative" | "wall";
export const X_MODES: readonly XMode[] = ["step", "relative", "wall"];

/** Per component, a weight that replaces the logged one at every step (the what-if). */
export type WeightOverrides = Readonly<Record<string, number>>;

/** The weight used at each step: the override, else the logged weight (absent → 1). */
export function effectiveWeights(b: Breakdown, overrides: WeightOverrides): Record<string, Column> {
  const out: Record<string, Column> = Object.create(null);
  for (const c of b.components) {
    const v = b.values[c] ?? [];
    const w = b.weights[c] ?? [];
    const o = Object.prototype.hasOwnProperty.call(overrides, c) ? overrides[c] : undefined;
    out[c] = b.steps.map((_, i) => (v[i] === null || v[i] === undefined ? null : (o ?? w[i] ?? 1)));
  }
  return out;
}

/** weight × value per component, under the what-if weights. */
export function reweighted(b: Breakdown, overrides: WeightOverrides): Record<string, Column> {
  const weights = effectiveWeights(b, overrides);
  const out: Record<string, Column> = Object.create(null);
  for (const c of b.components) {
    const v = b.values[c] ?? [];
    const w = weights[c] ?? [];
    out[c] = b.steps.map((_, i) => contribution(w[i], v[i]));
  }
  return out;
}

/** True when some override differs from a logged weight (so the logged total no longer applies). */
export function hasOverrides(b: Breakdown, overrides: WeightOverrides): boolean {
  return b.components.some((c) => Object.prototype.hasOwnProperty.call(overrides, c));
}

/** A weight summary for the what-if panel: the last logged weight, and whether it varied. */
export function loggedWeight(b: Breakdown, component: string): { last: number; min: number; max: number } {
  const v = b.values[component] ?? [];
  const w = b.weights[component] ?? [];
  let last = 1;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < b.steps.length; i++) {
    if (v[i] === null || v[i] === undefined) continue;
    const x = w[i] ?? 1;
    if (!Number.isFinite(x)) continue;
    last = x;
    min = Math.min(min, x);
    max = Math.max(max, x);
  }
  if (min > max) min = max = last;
  return { last, min, max };
}

export interface StackOptions {
  overrides: WeightOverrides;
  hidden: ReadonlySet<string>;
  share: boolean;
  smoothing: number;
}

export interface StackLine {
  label: string;
  column: Column;
  dashed: boolean;
}

export interface StackModel {
  /** Components drawn, in order. */
  shown: string[];
  layers: Layer[];
  /** Lines over the stack: the total (and the logged total when what-if weights are set). */
  lines: StackLine[];
  /** Per step, the top of the positive part of the stack (what the eye reads as "the total"). */
  top: Column;
  /** Raw (unsmoothed) numbers per step, for the tooltip. */
  values: Record<string, Column>;
  weights: Record<string, Column>;
  contribs: Record<string, Column>;
  /** Σ weight × value over every component (hidden ones included), under the what-if weights. */
  sum: Column;
  logged: Column | null;
  whatIf: boolean;
}

/** Divides each column by the per-step Σ of `columns` (the shares of a 100% stack). */
function shares(columns: Record<string, Column>, names: string[], length: number): { out: Record<string, Column>; denom: Column } {
  const denom = sumColumns(
    names.map((c) => columns[c] ?? []),
    length,
  );
  const out: Record<string, Column> = Object.create(null);
  for (const c of names) {
    const col = columns[c] ?? [];
    out[c] = col.map((v, i) => {
      const d = denom[i];
      if (v === null || v === undefined || d === null || d === undefined) return null;
      return d === 0 ? (v === 0 ? 0 : NaN) : v / d;
    });
  }
  return { out, denom };
}

function divide(col: Column, denom: Column): Column {
  return col.map((v, i) => {
    const d = denom[i];
    if (v === null || d === null || d === undefined) return null;
    return d === 0 ? NaN : v / d;
  });
}

/**
 * The stacked chart of one breakdown: contributions under the what-if weights, without the
 * hidden components, each smoothed (TensorBoard's EMA), then as shares of their sum if
 * `share`, then stacked. The total line is the logged total (or Σ weight × value when none
 * was logged, or when what-if weights are set), smoothed the same way; in the 100% view it is
 * divided by the same sum, so it sits at 1 when the total equals the shown stack.
 */
export function stackModel(b: Breakdown, opts: StackOptions): StackModel {
  const n = b.steps.length;
  const whatIf = hasOverrides(b, opts.overrides);
  const weights = effectiveWeights(b, opts.overrides);
  const contribs = reweighted(b, opts.overrides);
  const shown = b.components.filter((c) => !opts.hidden.has(c));
  const smoothed: Record<string, Column> = Object.create(null);
  for (const c of shown) smoothed[c] = smooth(contribs[c] ?? [], opts.smoothing);
  const sum = sumColumns(
    b.components.map((c) => contribs[c] ?? []),
    n,
  );
  let drawn = smoothed;
  let denom: Column | null = null;
  if (opts.share) {
    const s = shares(smoothed, shown, n);
    drawn = s.out;
    denom = s.denom;
  }
  const layers = stackLayers(shown, drawn, n);
  const top: Column = new Array(n).fill(null);
  for (const l of layers) if (l.sign === 1) l.edge.forEach((v, i) => (top[i] = v));
  // A step where the positive stack is empty but something is drawn: the top is 0.
  for (let i = 0; i < n; i++) if (top[i] === null && layers.some((l) => l.edge[i] !== null)) top[i] = 0;

  const lines: StackLine[] = [];
  const asDrawn = (col: Column) => {
    const s = smooth(col, opts.smoothing);
    return denom ? divide(s, denom) : s;
  };
  if (whatIf) {
    lines.push({ label: "total, re-weighted (Σ weight × value)", column: asDrawn(sum), dashed: false });
    if (b.total !== null) lines.push({ label: "total (logged)", column: asDrawn(b.total), dashed: true });
  } else if (b.total !== null) {
    lines.push({ label: "total (logged)", column: asDrawn(b.total), dashed: false });
  } else {
    lines.push({ label: "total (Σ weight × value)", column: asDrawn(sum), dashed: false });
  }
  return { shown, layers, lines, top, values: b.values, weights, contribs, sum, logged: b.total, whatIf };
}

/** The x value of each point: the step, seconds since the first point, or the wall time. */
export function xValues(steps: readonly number[], wallTimes: readonly number[], mode: XMode, origin?: number): number[] {
  if (mode === "step") return steps.slice();
  let t0 = origin;
  if (t0 === undefined) {
    t0 = Infinity;
    for (const t of wallTimes) if (Number.isFinite(t) && t < t0) t0 = t;
    if (!Number.isFinite(t0)) t0 = 0;
  }
  let prev = mode === "wall" ? t0 : 0;
  return wallTimes.map((t) => {
    if (!Number.isFinite(t)) return prev; // unknown wall time: keep the previous one
    prev = mode === "wall" ? t : t - t0!;
    return prev;
  });
}

/** The indices that sort `x` ascending (stable), or null if it already is sorted. */
export function sortOrder(x: readonly number[]): number[] | null {
  let sorted = true;
  for (let i = 1; i < x.length; i++) {
    if (x[i]! < x[i - 1]!) {
      sorted = false;
      break;
    }
  }
  if (sorted) return null;
  return x.map((_, i) => i).sort((a, b) => x[a]! - x[b]! || a - b);
}

export function permute<T>(col: readonly T[], order: readonly number[] | null): T[] {
  return order ? order.map((i) => col[i]!) : col.slice();
}

/**
 * Linear interpolation of a sparse series onto other steps, inside its own step range only
 * (no extrapolation): what shades the gap between train (every step) and val (every epoch).
 * Absent and non-finite points are not interpolated through.
 */
export function interpolate(steps: readonly number[], column: readonly (number | null)[], at: readonly number[]): Column {
  const xs: number[] = [];
  const ys: number[] = [];
  steps.forEach((s, i) => {
    const v = column[i];
    if (v !== null && v !== undefined && Number.isFinite(v)) {
      xs.push(s);
      ys.push(v);
    }
  });
  let j = 0;
  return at.map((s) => {
    if (xs.length === 0 || s < xs[0]! || s > xs[xs.length - 1]!) return null;
    while (j + 1 < xs.length && xs[j + 1]! < s) j++;
    while (j > 0 && xs[j]! > s) j--;
    if (xs[j] === s) return ys[j]!;
    if (j + 1 >= xs.length) return ys[j]!;
    const t = (s - xs[j]!) / (xs[j + 1]! - xs[j]!);
    return ys[j]! + t * (ys[j + 1]! - ys[j]!);
  });
}

export interface SplitSeries {
  split: string;
  /** On the union steps: raw values (undefined = no such step). */
  raw: (number | null | undefined)[];
  smoothed: (number | null | undefined)[];
}

export interface ComponentModel {
  steps: number[];
  /** Wall time per union step (from the first split that logged the step). */
  wallTimes: number[];
  splits: SplitSeries[];
  /** The second split (val) interpolated onto the union steps, for the gap shading; or null. */
  gap: Column | null;
}

/** One component, train against val, on the union of their steps. */
export function componentModel(component: string, splits: readonly Breakdown[], smoothing: number): ComponentModel {
  const steps = unionSteps(splits.map((b) => b.steps));
  const wall: number[] = new Array(steps.length).fill(NaN);
  for (const b of splits) {
    const col = alignColumn(b.steps, b.wallTimes, steps);
    col.forEach((t, i) => {
      if (Number.isNaN(wall[i]!) && t !== undefined && t !== null) wall[i] = t;
    });
  }
  const series = splits.map((b) => {
    const values = b.values[component] ?? new Array<number | null>(b.steps.length).fill(null);
    return {
      split: b.split,
      raw: alignColumn(b.steps, values, steps),
      smoothed: alignColumn(b.steps, smooth(values, smoothing), steps),
    };
  });
  let gap: Column | null = null;
  if (splits.length > 1) {
    const val = splits[1]!;
    gap = interpolate(val.steps, val.values[component] ?? [], steps);
  }
  return { steps, wallTimes: wall, splits: series, gap };
}

export type Metric = "value" | "contribution" | "weight";
export const METRICS: readonly Metric[] = ["value", "contribution", "weight"];

/** One component's value, weight or contribution column of a breakdown. */
export function metricColumn(b: Breakdown, component: string, metric: Metric): Column {
  const v = b.values[component] ?? new Array<number | null>(b.steps.length).fill(null);
  if (metric === "value") return v.slice();
  const w = b.weights[component] ?? [];
  if (metric === "weight") return v.map((x, i) => (x === null ? null : (w[i] ?? 1)));
  return v.map((x, i) => contribution(w[i], x));
}

export interface RunLine {
  run: string;
  raw: (number | null | undefined)[];
  smoothed: (number | null | undefined)[];
}

/** Several runs' series on one x axis: the union of their x values (each run's own x). */
export function compareModel(
  runs: readonly Breakdown[],
  component: string,
  metric: Metric,
  mode: XMode,
  smoothing: number,
): { x: number[]; lines: RunLine[] } {
  const perRun = runs.map((b) => {
    const x = xValues(b.steps, b.wallTimes, mode);
    const order = sortOrder(x);
    const col = metricColumn(b, component, metric);
    const xs = permute(x, order);
    const ys = permute(col, order);
    // Equal x values (a restart logged the same step twice) keep the last one.
    const ux: number[] = [];
    const uy: Column = [];
    xs.forEach((v, i) => {
      if (ux.length && ux[ux.length - 1] === v) uy[uy.length - 1] = ys[i] ?? null;
      else {
        ux.push(v);
        uy.push(ys[i] ?? null);
      }
    });
    return { run: b.run, x: ux, y: uy };
  });
  const x = unionSteps(perRun.map((r) => r.x));
  const lines = perRun.map((r) => ({
    run: r.run,
    raw: alignColumn(r.x, r.y, x),
    smoothed: alignColumn(r.x, smooth(r.y, smoothing), x),
  }));
  return { x, lines };
}

/** The steps of `steps` whose x (aligned) lies in [lo, hi]: the first and the last, or null. */
export function stepRange(steps: readonly number[], x: readonly number[], lo: number, hi: number): [number, number] | null {
  let a: number | null = null;
  let b: number | null = null;
  steps.forEach((s, i) => {
    const v = x[i]!;
    if (v < lo || v > hi) return;
    if (a === null || s < a) a = s;
    if (b === null || s > b) b = s;
  });
  return a === null || b === null ? null : [a, b];
}
