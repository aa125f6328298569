// Pure functions behind the stacked weighted-contributions chart.
//
// Conventions: in a data column `null` means "not logged at this step"; NaN and ±Infinity are
// logged non-finite values. In a stack edge `null` means "cannot be drawn here" (a gap).

import type { Breakdown } from "./api";

export type Column = (number | null)[];

/** weight × value; a missing weight counts as 1 (the writer's default), a missing value as absent. */
export function contribution(weight: number | null | undefined, value: number | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  return (weight ?? 1) * value;
}

/** Per component, weight × value at every step. */
export function contributions(b: Breakdown): Record<string, Column> {
  const out: Record<string, Column> = Object.create(null);
  for (const c of b.components) {
    const v = b.values[c] ?? [];
    const w = b.weights[c] ?? [];
    out[c] = b.steps.map((_, i) => contribution(w[i], v[i]));
  }
  return out;
}

/** Σ contributions per step: null where nothing was logged, NaN/±Inf propagate. */
export function sumColumns(columns: Column[], length: number): Column {
  const out: Column = new Array(length).fill(null);
  for (let i = 0; i < length; i++) {
    let acc: number | null = null;
    for (const col of columns) {
      const v = col[i];
      if (v !== null && v !== undefined) acc = (acc ?? 0) + v;
    }
    out[i] = acc;
  }
  return out;
}

/** One stacked layer: the part of a component's contribution of one sign, as a cumulative edge. */
export interface Layer {
  component: string;
  /** +1: stacked upwards from 0 with the other positive parts; -1: downwards with the negative ones. */
  sign: 1 | -1;
  /** The cumulative edge (this layer's outer boundary); null = gap. */
  edge: Column;
  /** Index in the returned list of the layer this one sits on, or -1 for the zero baseline. */
  below: number;
}

/**
 * Cumulative sums for a stacked-band chart, keeping positive and negative contributions apart:
 * positive parts stack upwards from 0 and negative parts downwards from 0, each in component
 * order, so bands never overlap whatever the signs. A component gets a positive layer unless it
 * is only ever negative, and a negative layer if it is ever negative. An absent contribution
 * adds nothing (a zero-height band); a step where any contribution is non-finite is a gap in
 * every layer, as is a step where nothing was logged.
 */
export function stackLayers(components: string[], contribs: Record<string, Column>, length: number): Layer[] {
  const hasPos = new Map<string, boolean>();
  const hasNeg = new Map<string, boolean>();
  for (const c of components) {
    const col = contribs[c] ?? [];
    // Non-finite values are gaps, whatever their sign: they do not make a layer.
    hasPos.set(c, col.some((v) => v !== null && Number.isFinite(v) && v > 0));
    hasNeg.set(c, col.some((v) => v !== null && Number.isFinite(v) && v < 0));
  }
  const layers: Layer[] = [];
  let lastPos = -1;
  for (const c of components) {
    if (hasPos.get(c) || !hasNeg.get(c)) {
      layers.push({ component: c, sign: 1, edge: new Array(length).fill(null), below: lastPos });
      lastPos = layers.length - 1;
    }
  }
  let lastNeg = -1;
  for (const c of components) {
    if (hasNeg.get(c)) {
      layers.push({ component: c, sign: -1, edge: new Array(length).fill(null), below: lastNeg });
      lastNeg = layers.length - 1;
    }
  }
  for (let i = 0; i < length; i++) {
    let drawable = false;
    for (const c of components) {
      const v = contribs[c]?.[i];
      if (v === null || v === undefined) continue;
      if (!Number.isFinite(v)) {
        drawable = false;
        break;
      }
      drawable = true;
    }
    if (!drawable) continue; // every edge stays null: a gap
    let pos = 0;
    let neg = 0;
    for (const layer of layers) {
      const v = contribs[layer.component]?.[i] ?? 0;
      if (layer.sign === 1) {
        pos += Math.max(v, 0);
        layer.edge[i] = pos;
      } else {
        neg += Math.min(v, 0);
        layer.edge[i] = neg;
      }
    }
  }
  return layers;
}

/** The total to draw over the stack: the logged one if there is one, else Σ weight × value. */
export function totalLine(b: Breakdown, contribs: Record<string, Column>): { total: Column; logged: boolean } {
  if (b.total !== null) return { total: b.total.slice(), logged: true };
  return {
    total: sumColumns(
      b.components.map((c) => contribs[c] ?? []),
      b.steps.length,
    ),
    logged: false,
  };
}
