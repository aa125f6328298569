// uPlot construction: the stacked weighted-contributions chart and the per-component
// train-vs-val charts. Series labels are user strings: uPlot 1.6's legend sets them with
// textContent (uPlot.esm.js, `text.textContent = s.label`), never as HTML.

import uPlot from "uplot";

import { alignColumn, plotValue, unionSteps } from "./align";
import type { Breakdown } from "./api";
import { formatNumber } from "./format";
import { TOTAL_COLOR, lineColor, withAlpha } from "./palette";
import { type Column, contributions, stackLayers, totalLine } from "./stack";

/** Every chart of the tab shares this cursor-sync key: hovering one moves the cursor in all. */
export const SYNC_KEY = "detloss";

export const STACK_HEIGHT = 320;
export const COMPONENT_HEIGHT = 200;

const AXIS_FONT = "11px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";

/** Tick increments for the step axis: whole steps only (1, 2, 5, 10, 20, 50, ...). */
const STEP_INCREMENTS: number[] = [];
for (let p = 1; p <= 1e12; p *= 10) STEP_INCREMENTS.push(p, 2 * p, 5 * p);

function baseOpts(width: number, height: number, yLabel: string): Omit<uPlot.Options, "series"> {
  return {
    width,
    height,
    cursor: { sync: { key: SYNC_KEY }, drag: { x: true, y: false }, y: false },
    legend: { live: true },
    scales: { x: { time: false } },
    axes: [
      { label: "step", font: AXIS_FONT, labelFont: AXIS_FONT, labelSize: 18, size: 36, incrs: STEP_INCREMENTS },
      { label: yLabel, font: AXIS_FONT, labelFont: AXIS_FONT, labelSize: 18, size: 56 },
    ],
  };
}

/** A y range that always includes 0 (a stack is read from its baseline). */
function rangeWithZero(_u: uPlot, min: number | null, max: number | null): uPlot.Range.MinMax {
  const lo = Math.min(0, min ?? 0);
  const hi = Math.max(0, max ?? 0);
  if (lo === hi) return [0, 1];
  return uPlot.rangeNum(lo, hi, 0.05, true);
}

/** uPlot's automatic range, except that a flat series gets a readable one (not 0..100). */
function flatSafeRange(_u: uPlot, min: number | null, max: number | null): uPlot.Range.MinMax {
  if (min === null || max === null) return [0, 1];
  if (min === max) {
    if (min === 0) return [0, 1];
    const d = Math.abs(min) * 0.5;
    return [min - d, max + d];
  }
  return uPlot.rangeNum(min, max, 0.1, true);
}

function finiteOrGap(col: Column): (number | null | undefined)[] {
  return col.map(plotValue);
}

/**
 * The stacked weighted contributions of one breakdown: one filled band per component
 * (weight × value; positive parts above 0, negative parts below), stacked with uPlot bands over
 * cumulative sums, and the total drawn as a line over the stack.
 */
export function stackChart(target: HTMLElement, b: Breakdown, colors: Map<string, string>, width: number): uPlot {
  const n = b.steps.length;
  const contribs = contributions(b);
  const layers = stackLayers(b.components, contribs, n);
  const { total, logged } = totalLine(b, contribs);
  const twoSided = new Set(
    b.components.filter((c) => layers.filter((l) => l.component === c).length > 1),
  );

  const series: uPlot.Series[] = [{ label: "step" }];
  const data: uPlot.AlignedData = [b.steps, ...layers.map((l) => l.edge)];
  const bands: uPlot.Band[] = [];
  layers.forEach((layer, i) => {
    const color = colors.get(layer.component) ?? "#888888";
    const fill = withAlpha(color, layer.sign === 1 ? 0.6 : 0.35);
    const col = contribs[layer.component] ?? [];
    const negativePart = layer.sign === -1 && twoSided.has(layer.component);
    const s: uPlot.Series = {
      label: negativePart ? `${layer.component} (negative part)` : layer.component,
      stroke: lineColor(color),
      width: 1,
      fill,
      points: { show: false },
      value: (_u, _v, _si, idx) => {
        if (idx === null) return "—";
        const c = col[idx] ?? null;
        if (c === null || !twoSided.has(layer.component)) return formatNumber(c);
        return formatNumber(layer.sign === 1 ? Math.max(c, 0) : Math.min(c, 0));
      },
    };
    if (layer.below < 0) s.fillTo = 0;
    else bands.push({ series: [i + 1, layer.below + 1], fill, dir: layer.sign === 1 ? -1 : 1 });
    series.push(s);
  });
  series.push({
    label: logged ? "total (logged)" : "total (Σ weight × value)",
    stroke: TOTAL_COLOR,
    width: 1.5,
    points: { show: false },
    value: (_u, _v, _si, idx) => (idx === null ? "—" : formatNumber(total[idx])),
  });
  data.push(finiteOrGap(total));

  const opts: uPlot.Options = {
    ...baseOpts(width, STACK_HEIGHT, "weight × value"),
    series,
    bands,
  };
  opts.scales = { x: { time: false }, y: { range: rangeWithZero } };
  return new uPlot(opts, data, target);
}

/**
 * One component, train against val, on the union of their steps: train solid, val dashed with
 * point markers (it is logged at a coarser cadence). Steps a split did not log are skipped over
 * (the line joins its neighbours); non-finite values are gaps.
 */
export function componentChart(
  target: HTMLElement,
  component: string,
  splits: readonly Breakdown[],
  color: string,
  width: number,
): uPlot {
  const steps = unionSteps(splits.map((b) => b.steps));
  const data: uPlot.AlignedData = [steps];
  const series: uPlot.Series[] = [{ label: "step" }];
  splits.forEach((b, i) => {
    const dashed = i > 0;
    const values = b.values[component] ?? new Array<number | null>(b.steps.length).fill(null);
    const raw = alignColumn(b.steps, values, steps);
    data.push(raw.map(plotValue));
    series.push({
      label: b.split,
      // Train (often noisy, every step) a little lighter; val drawn over it, dashed, with markers.
      stroke: dashed ? lineColor(color) : withAlpha(lineColor(color), 0.75),
      width: dashed ? 2 : 1,
      dash: dashed ? [6, 4] : undefined,
      points: dashed ? { show: true, size: 6, width: 1.5, stroke: lineColor(color), fill: "#ffffff" } : { show: false },
      spanGaps: false,
      value: (_u, _v, _si, idx) => (idx === null ? "—" : formatNumber(raw[idx])),
    });
  });
  const opts: uPlot.Options = { ...baseOpts(width, COMPONENT_HEIGHT, "value"), series };
  opts.scales = { x: { time: false }, y: { range: flatSafeRange } };
  return new uPlot(opts, data, target);
}
