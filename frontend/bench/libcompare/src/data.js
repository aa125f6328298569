// Our data shape: one run, 10 components × N steps (train), weights, and val every 250 steps.
export function makeData(n, k = 10) {
  let seed = 1;
  const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const steps = Array.from({ length: n }, (_, i) => i);
  const comps = [];
  for (let c = 0; c < k; c++) {
    const a = 0.2 + rnd();
    comps.push(steps.map((s) => 0.1 + a * Math.exp((-3 * s) / n) * (1 + 0.05 * (rnd() - 0.5))));
  }
  const weights = comps.map((_, c) => 1 + (c % 3));
  const contribs = comps.map((col, c) => col.map((v) => v * weights[c]));
  const edges = [];
  let acc = new Array(n).fill(0);
  for (const col of contribs) {
    acc = acc.map((v, i) => v + col[i]);
    edges.push(acc.slice());
  }
  const val = comps.map((col) => col.map((v, i) => (i % 250 === 249 ? v * 1.1 : null)));
  return { steps, comps, contribs, edges, val, total: acc };
}
export const COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#0072B2", "#E69F00", "#009E73"];
