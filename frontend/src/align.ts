// Aligning series logged at different steps (train every step, val every epoch) on one x axis.

/** The sorted union of several sorted lists of steps. */
export function unionSteps(lists: readonly (readonly number[])[]): number[] {
  const all = new Set<number>();
  for (const l of lists) for (const s of l) all.add(s);
  return Array.from(all).sort((a, b) => a - b);
}

/**
 * `column` (aligned with the sorted `steps`) re-indexed onto the sorted `union`: `undefined`
 * where the column has no such step, its own value (a number, or null) elsewhere.
 */
export function alignColumn(
  steps: readonly number[],
  column: readonly (number | null)[],
  union: readonly number[],
): (number | null | undefined)[] {
  const out: (number | null | undefined)[] = new Array(union.length).fill(undefined);
  let j = 0;
  for (let i = 0; i < union.length && j < steps.length; i++) {
    const s = union[i]!;
    while (j < steps.length && steps[j]! < s) j++;
    if (j < steps.length && steps[j] === s) out[i] = column[j] ?? null;
  }
  return out;
}

/**
 * `alignColumn` for uPlot: steps the column does not have, and values not logged (`null`),
 * become `undefined`, which uPlot skips over (the line joins the neighbouring points);
 * non-finite values become `null`, which uPlot draws as a gap (with `spanGaps: false`).
 */
export function alignForPlot(
  steps: readonly number[],
  column: readonly (number | null)[],
  union: readonly number[],
): (number | null | undefined)[] {
  return alignColumn(steps, column, union).map(plotValue);
}

/** One value for uPlot: finite → itself, absent → undefined (spanned), non-finite → null (gap). */
export function plotValue(v: number | null | undefined): number | null | undefined {
  if (v === null || v === undefined) return undefined;
  return Number.isFinite(v) ? v : null;
}
