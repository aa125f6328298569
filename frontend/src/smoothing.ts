// TensorBoard's smoothing: the debiased exponential moving average of its scalar charts
// (`classicSmoothing` in tensorboard/webapp/widgets/line_chart_v2/lib/data_transformer.ts),
// with the same slider semantics: a weight in [0, 1) (the slider stops at 0.999), default 0.6.

export const DEFAULT_SMOOTHING = 0.6;
export const MAX_SMOOTHING = 0.999;
export const SMOOTHING_STEP = 0.001;

/** A smoothing weight as TensorBoard takes it: non-finite → 0, clamped to [0, 1]. */
export function clampSmoothing(weight: number): number {
  if (!Number.isFinite(weight)) return 0;
  return Math.max(0, Math.min(weight, 1));
}

/**
 * The debiased EMA of one series, point for point:
 *   last = last × w + (1 − w) × y;  n += 1;  smoothed = last / (1 − wⁿ)   (w = 1: last / 1)
 * starting from last = 0, n = 0. As in TensorBoard, a non-finite point passes through
 * unchanged and neither updates the average nor counts in n, and a constant series is returned
 * as it is. Our columns also have `null` (not logged at this step): it stays null and is skipped
 * like a step that does not exist.
 */
export function smooth(column: readonly (number | null)[], weight: number): (number | null)[] {
  const w = clampSmoothing(weight);
  let first: number | null = null;
  let constant = true;
  for (const v of column) {
    if (v === null) continue;
    if (first === null) first = v;
    // TensorBoard compares with ==, so a NaN makes the series non-constant.
    else if (!(v === first)) {
      constant = false;
      break;
    }
  }
  if (constant || w === 0) return column.slice();
  let last = 0;
  let n = 0;
  return column.map((v) => {
    if (v === null) return null;
    if (!Number.isFinite(v)) return v;
    last = last * w + (1 - w) * v;
    n++;
    const debias = w === 1 ? 1 : 1 - Math.pow(w, n);
    return last / debias;
  });
}
