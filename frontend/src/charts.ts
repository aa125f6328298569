// uPlot charts of the tab: one wrapper class over uPlot that adds what TensorBoard users expect
// and uPlot leaves to its host — a tooltip table, keyboard cursor, step ranges marked on the
// plot (warnings, the explained range), zoom reported to the app (to sync every chart), and
// PNG / SVG export (SVG as vector paths built from the shown data, never a bitmap).
//
// Every user string (series labels, titles) reaches the page through textContent and the
// exported SVG through XML escaping. uPlot's own legend is off: the app draws its legends.

import uPlot from "uplot";

import { h } from "./dom";
import { pathData, xmlEscape } from "./exportfmt";
import { clippedName, nameElement } from "./names";
import { formatDuration, formatStep } from "./format";
import type { Theme } from "./theme";
import type { XMode } from "./transform";

/** Every chart shares this cursor-sync key: hovering one moves the cursor in all. */
export const SYNC_KEY = "detloss";

export const STACK_HEIGHT = 320;
export const COMPONENT_HEIGHT = 200;
export const COMPARE_HEIGHT = 300;

const FONT_FAMILY = "Roboto, system-ui, -apple-system, 'Segoe UI', sans-serif";
const AXIS_FONT = `11px ${FONT_FAMILY}`;

/** Tick increments for the step axis: whole steps only (1, 2, 5, 10, 20, 50, ...). */
const STEP_INCREMENTS: number[] = [];
for (let p = 1; p <= 1e12; p *= 10) STEP_INCREMENTS.push(p, 2 * p, 5 * p);

/** Tick increments for relative time, in seconds. */
const DURATION_INCREMENTS = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400,
  7 * 86400, 14 * 86400, 30 * 86400, 90 * 86400, 365 * 86400,
];

export type Cell = (number | null | undefined)[];

export interface SeriesSpec {
  label: string;
  /** Stroke colour (and marker colour). */
  color: string;
  width?: number;
  fill?: string;
  /** Fill down (or up) to y = 0. */
  fillTo0?: boolean;
  dash?: number[];
  /** Draw the line (default true). */
  line?: boolean;
  /** Draw a marker at every point (e.g. val, logged at its own cadence). */
  markers?: boolean;
  /** undefined: no point here (the line joins its neighbours); null: a gap. */
  data: Cell;
  /** Listed in the exported SVG's legend (default true). */
  key?: boolean;
}

export interface BandSpec {
  /** Indices into `series`. */
  upper: number;
  lower: number;
  fill: string;
  /** uPlot's fill direction: -1 towards the lower series (default), 1 towards the upper. */
  dir?: 1 | -1;
}

export interface TooltipRow {
  color: string | null;
  label: string;
  cells: string[];
  strong?: boolean;
}

export interface Tooltip {
  title: string;
  head: string[];
  rows: TooltipRow[];
}

export interface ChartSpec {
  id: string;
  /** Used for the ARIA label and exports. */
  title: string;
  yLabel: string;
  xMode: XMode;
  log: boolean;
  height: number;
  x: number[];
  series: SeriesSpec[];
  bands?: BandSpec[];
  yRange: "zero" | "flat" | "auto";
  tooltip: (idx: number) => Tooltip | null;
}

/** A step range marked on a chart (in x-axis units). */
export interface MarkedRange {
  from: number;
  to: number;
  className: string;
  label: string;
}

function xLabel(mode: XMode): string {
  return mode === "step" ? "step" : mode === "relative" ? "relative time" : "wall time";
}

function xAxis(mode: XMode, theme: Theme): uPlot.Axis {
  const base: uPlot.Axis = {
    label: xLabel(mode),
    font: AXIS_FONT,
    labelFont: AXIS_FONT,
    labelSize: 18,
    size: 36,
    stroke: theme.axis,
    grid: { stroke: theme.grid, width: 1 },
    ticks: { stroke: theme.grid, width: 1 },
  };
  if (mode === "step") return { ...base, incrs: STEP_INCREMENTS, values: (_u, splits) => splits.map(formatStep) };
  if (mode === "relative") return { ...base, incrs: DURATION_INCREMENTS, values: (_u, splits) => splits.map(formatDuration) };
  return base;
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

let liveCharts = 0;

export class Chart {
  readonly root: HTMLElement;
  readonly plot: uPlot;
  private readonly tip: HTMLElement;
  private readonly rangeLayer: HTMLElement;
  private ranges: MarkedRange[] = [];
  private active = false;
  /** The x range last set by the app (or the full range): setScale hooks that match it are ours. */
  private expected: [number, number];
  /** Called when the user zooms (drag) or resets (double-click): null = the full range. */
  onZoom: ((range: [number, number] | null) => void) | null = null;

  constructor(
    host: HTMLElement,
    readonly spec: ChartSpec,
    width: number,
    readonly theme: Theme,
    zoom: [number, number] | null,
  ) {
    liveCharts++;
    this.root = h("figure", {
      class: "detloss-plot",
      attrs: {
        tabindex: "0",
        role: "group",
        "data-chart-id": spec.id,
        "aria-label": `Chart: ${spec.title}. Arrow keys move the cursor, Home and End jump to the ends.`,
      },
    });
    this.tip = h("div", { class: "detloss-tooltip", attrs: { role: "status", "aria-live": "off" } });
    this.tip.hidden = true;
    this.rangeLayer = h("div", { class: "detloss-ranges", attrs: { "aria-hidden": "true" } });
    host.appendChild(this.root);

    const full = this.fullRange();
    this.expected = zoom ?? full;
    const series: uPlot.Series[] = [{ label: xLabel(spec.xMode) }];
    spec.series.forEach((s) => {
      const line = s.line !== false;
      const out: uPlot.Series = {
        label: s.label,
        stroke: s.color,
        width: s.width ?? 1,
        spanGaps: false,
        points: s.markers
          ? { show: true, size: 7, width: 1.5, stroke: s.color, fill: theme.background }
          : { show: false },
      };
      if (!line) out.paths = () => null;
      if (s.fill) out.fill = s.fill;
      if (s.fillTo0) out.fillTo = 0;
      if (s.dash) out.dash = s.dash;
      series.push(out);
    });
    const bands: uPlot.Band[] = (spec.bands ?? []).map((b) => ({ series: [b.upper + 1, b.lower + 1], fill: b.fill, dir: b.dir ?? -1 }));
    const yScale: uPlot.Scale = spec.log
      ? { distr: 3 }
      : { range: spec.yRange === "zero" ? rangeWithZero : spec.yRange === "flat" ? flatSafeRange : undefined };
    const opts: uPlot.Options = {
      width,
      height: spec.height,
      series,
      bands,
      legend: { show: false },
      cursor: {
        sync: { key: SYNC_KEY, setSeries: false },
        drag: { x: true, y: false, setScale: true },
        y: false,
        points: { size: 6 },
      },
      scales: { x: { time: spec.xMode === "wall" }, y: yScale },
      axes: [
        xAxis(spec.xMode, theme),
        {
          label: spec.yLabel,
          font: AXIS_FONT,
          labelFont: AXIS_FONT,
          labelSize: 18,
          size: 60,
          stroke: theme.axis,
          grid: { stroke: theme.grid, width: 1 },
          ticks: { stroke: theme.grid, width: 1 },
        },
      ],
      hooks: {
        setCursor: [(u) => this.updateTooltip(u)],
        setScale: [(u, key) => key === "x" && this.scaleChanged(u)],
        draw: [() => this.placeRanges()],
      },
    };
    const data = [spec.x, ...spec.series.map((s) => s.data)] as unknown as uPlot.AlignedData;
    this.plot = new uPlot(opts, data, this.root);
    this.plot.over.appendChild(this.rangeLayer);
    this.root.appendChild(this.tip);
    if (zoom) this.plot.setScale("x", { min: zoom[0], max: zoom[1] });

    this.plot.over.addEventListener("mouseenter", () => this.setActive(true));
    this.plot.over.addEventListener("mouseleave", () => this.setActive(false));
    this.root.addEventListener("focus", () => this.setActive(true));
    this.root.addEventListener("blur", () => this.setActive(false));
    this.root.addEventListener("keydown", (e) => this.onKey(e));
  }

  get id(): string {
    return this.spec.id;
  }

  /** The x range of the data (null-safe for an empty chart). */
  fullRange(): [number, number] {
    const x = this.spec.x;
    if (x.length === 0) return [0, 1];
    return [x[0]!, x[x.length - 1]!];
  }

  /** The x range shown. */
  visibleRange(): [number, number] {
    const s = this.plot.scales.x;
    return [s?.min ?? this.fullRange()[0], s?.max ?? this.fullRange()[1]];
  }

  /** Zooms to `range` (null: the full range), without reporting it back. */
  setZoom(range: [number, number] | null): void {
    const target = range ?? this.fullRange();
    const [a, b] = this.visibleRange();
    this.expected = target;
    if (Math.abs(a - target[0]) < 1e-9 && Math.abs(b - target[1]) < 1e-9) return;
    if (range === null) {
      // Let uPlot pad a single point or a flat range the way it does on its own.
      this.plot.setData(this.plot.data, true);
      const [fa, fb] = this.visibleRange();
      this.expected = [fa, fb];
    } else this.plot.setScale("x", { min: target[0], max: target[1] });
  }

  private scaleChanged(u: uPlot): void {
    const min = u.scales.x?.min;
    const max = u.scales.x?.max;
    if (min === undefined || max === undefined || min === null || max === null) return;
    const [ea, eb] = this.expected;
    const tol = Math.max(1e-9, Math.abs(eb - ea) * 1e-9);
    if (Math.abs(min - ea) <= tol && Math.abs(max - eb) <= tol) return;
    this.expected = [min, max];
    const [fa, fb] = this.fullRange();
    const isFull = min <= fa && max >= fb;
    this.onZoom?.(isFull ? null : [min, max]);
  }

  setWidth(width: number): void {
    if (Math.abs(width - this.plot.width) >= 1) this.plot.setSize({ width, height: this.plot.height });
  }

  /** Marks step ranges on the plot (warnings, the explained range). */
  setRanges(ranges: MarkedRange[]): void {
    this.ranges = ranges;
    this.placeRanges();
  }

  private placeRanges(): void {
    const layer = this.rangeLayer;
    while (layer.firstChild) layer.removeChild(layer.firstChild);
    const u = this.plot;
    const width = u.over.clientWidth || u.bbox.width;
    for (const r of this.ranges) {
      let a = u.valToPos(r.from, "x");
      let b = u.valToPos(r.to, "x");
      if (!Number.isFinite(a) || !Number.isFinite(b)) continue;
      if (b < a) [a, b] = [b, a];
      if (b < 0 || a > width) continue;
      a = Math.max(0, a);
      b = Math.min(width, b);
      const div = h("div", { class: `detloss-range ${r.className}`, attrs: { title: r.label } });
      div.style.left = `${a}px`;
      div.style.width = `${Math.max(2, b - a)}px`;
      layer.appendChild(div);
    }
  }

  private setActive(on: boolean): void {
    this.active = on;
    if (!on) this.tip.hidden = true;
    else this.updateTooltip(this.plot);
  }

  private updateTooltip(u: uPlot): void {
    const idx = u.cursor.idx;
    if (!this.active || idx === null || idx === undefined) {
      this.tip.hidden = true;
      return;
    }
    const t = this.spec.tooltip(idx);
    if (!t) {
      this.tip.hidden = true;
      return;
    }
    fillTooltip(this.tip, t);
    this.tip.hidden = false;
    const over = u.over.getBoundingClientRect();
    const root = this.root.getBoundingClientRect();
    const left = (u.cursor.left ?? 0) + over.left - root.left;
    const tipW = this.tip.offsetWidth;
    const x = left + 14 + tipW > root.width ? Math.max(0, left - 14 - tipW) : left + 14;
    this.tip.style.left = `${x}px`;
    this.tip.style.top = `${Math.max(0, over.top - root.top + 4)}px`;
  }

  private onKey(e: KeyboardEvent): void {
    const u = this.plot;
    const n = this.spec.x.length;
    if (n === 0) return;
    let idx = u.cursor.idx ?? -1;
    const step = e.shiftKey ? 10 : 1;
    if (e.key === "ArrowRight") idx = idx < 0 ? 0 : Math.min(n - 1, idx + step);
    else if (e.key === "ArrowLeft") idx = idx < 0 ? n - 1 : Math.max(0, idx - step);
    else if (e.key === "Home") idx = 0;
    else if (e.key === "End") idx = n - 1;
    else if (e.key === "Escape") {
      this.tip.hidden = true;
      return;
    } else return;
    e.preventDefault();
    const left = u.valToPos(this.spec.x[idx]!, "x");
    u.setCursor({ left, top: u.over.clientHeight / 2 });
    this.setActive(true);
  }

  /** The plot as a PNG (the chart's canvas on the theme's background). */
  async png(): Promise<Blob> {
    const src = this.plot.ctx.canvas;
    const canvas = document.createElement("canvas");
    canvas.width = src.width;
    canvas.height = src.height;
    const ctx = canvas.getContext("2d")!;
    ctx.fillStyle = this.theme.background;
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(src, 0, 0);
    return new Promise((resolve, reject) =>
      canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("the browser could not encode a PNG"))), "image/png"),
    );
  }

  /** The chart as SVG: vector paths and text from the shown data, axes, a title and a key. */
  svg(title: string): string {
    return chartSvg(this.plot, this.spec, this.theme, title);
  }

  destroy(): void {
    liveCharts--;
    this.plot.destroy();
    this.root.remove();
  }
}

export function liveChartCount(): number {
  return liveCharts;
}

function fillTooltip(el: HTMLElement, t: Tooltip): void {
  while (el.firstChild) el.removeChild(el.firstChild);
  el.appendChild(h("div", { class: "detloss-tooltip-title" }, t.title));
  const table = h("table", {});
  const head = h("tr", {}, h("th", {}, ""), ...t.head.map((c) => h("th", {}, c)));
  table.appendChild(h("thead", {}, head));
  const body = h("tbody", {});
  for (const r of t.rows) {
    const sw = h("span", { class: "detloss-swatch", attrs: { "aria-hidden": "true" } });
    if (r.color) sw.style.backgroundColor = r.color;
    const tr = h(
      "tr",
      r.strong ? { class: "detloss-tooltip-strong" } : {},
      h("th", { attrs: { scope: "row" } }, r.color ? sw : null, nameElement(r.label)),
      ...r.cells.map((c) => h("td", {}, c)),
    );
    body.appendChild(tr);
  }
  table.appendChild(body);
  el.appendChild(table);
}

// -- SVG export ---------------------------------------------------------------------------------

interface AxisInternals {
  _splits?: number[] | null;
  _values?: (string | number | null)[] | null;
}

function num(v: number): string {
  return String(Math.round(v * 100) / 100);
}

/**
 * The chart as an SVG document. Geometry comes from uPlot's scales (valToPos) and the data
 * the chart shows; tick positions and labels are uPlot's own (its axes' computed splits).
 */
export function chartSvg(u: uPlot, spec: ChartSpec, theme: Theme, title: string): string {
  const ratio = u.ctx.canvas.width / Math.max(1, u.width);
  const L = u.bbox.left / ratio;
  const T = u.bbox.top / ratio;
  const W = u.bbox.width / ratio;
  const H = u.bbox.height / ratio;
  const titleH = 22;
  const keys = spec.series.filter((s) => s.key !== false);
  const perRow = Math.max(1, Math.floor(u.width / 180));
  const legendH = Math.ceil(keys.length / perRow) * 16 + 8;
  const width = u.width;
  const height = u.height + titleH + legendH;
  // Names as on screen (invisible characters as ⟨U+XXXX⟩), cut: a picture of the chart.
  title = clippedName(title, 400);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${xmlEscape(FONT_FAMILY)}" font-size="11">`,
  );
  out.push(`<title>${xmlEscape(title)}</title>`);
  out.push(`<rect width="100%" height="100%" fill="${xmlEscape(theme.background)}"/>`);
  out.push(`<text x="8" y="15" font-size="13" fill="${xmlEscape(theme.text)}">${xmlEscape(title)}</text>`);
  out.push(`<g transform="translate(0 ${titleH})">`);
  out.push(`<defs><clipPath id="plot"><rect x="${num(L)}" y="${num(T)}" width="${num(W)}" height="${num(H)}"/></clipPath></defs>`);

  const X = (v: number) => L + u.valToPos(v, "x");
  const Y = (v: number) => T + u.valToPos(v, "y");
  const okY = (v: number | null | undefined): v is number =>
    v !== null && v !== undefined && Number.isFinite(v) && (!spec.log || v > 0);

  // Grid and ticks.
  const [xa, ya] = u.axes as unknown as [AxisInternals, AxisInternals];
  const xSplits = xa._splits ?? [];
  const ySplits = ya._splits ?? [];
  out.push(`<g stroke="${xmlEscape(theme.grid)}" stroke-width="1">`);
  for (const s of xSplits) if (Number.isFinite(X(s))) out.push(`<line x1="${num(X(s))}" y1="${num(T)}" x2="${num(X(s))}" y2="${num(T + H)}"/>`);
  for (const s of ySplits) if (Number.isFinite(Y(s))) out.push(`<line x1="${num(L)}" y1="${num(Y(s))}" x2="${num(L + W)}" y2="${num(Y(s))}"/>`);
  out.push("</g>");
  out.push(`<g fill="${xmlEscape(theme.axis)}">`);
  xSplits.forEach((s, i) => {
    const label = xa._values?.[i];
    if (label === null || label === undefined || !Number.isFinite(X(s))) return;
    out.push(`<text x="${num(X(s))}" y="${num(T + H + 14)}" text-anchor="middle">${xmlEscape(String(label))}</text>`);
  });
  ySplits.forEach((s, i) => {
    const label = ya._values?.[i];
    if (label === null || label === undefined || !Number.isFinite(Y(s))) return;
    out.push(`<text x="${num(L - 6)}" y="${num(Y(s) + 4)}" text-anchor="end">${xmlEscape(String(label))}</text>`);
  });
  out.push(`<text x="${num(L + W / 2)}" y="${num(T + H + 32)}" text-anchor="middle">${xmlEscape(xLabel(spec.xMode))}</text>`);
  out.push(
    `<text transform="translate(12 ${num(T + H / 2)}) rotate(-90)" text-anchor="middle">${xmlEscape(spec.yLabel)}</text>`,
  );
  out.push("</g>");

  // Fills (to zero and bands), then lines and markers, clipped to the plot.
  out.push('<g clip-path="url(#plot)">');
  const x = spec.x;
  const zeroY = spec.log ? T + H : Math.min(T + H, Math.max(T, Y(0)));
  spec.series.forEach((s) => {
    if (!s.fill || !s.fillTo0) return;
    for (const seg of segments(x, s.data, null, okY)) {
      const top = seg.map((i) => `${num(X(x[i]!))} ${num(Y(s.data[i] as number))}`);
      const first = seg[0]!;
      const last = seg[seg.length - 1]!;
      out.push(
        `<path d="M${num(X(x[first]!))} ${num(zeroY)}L${top.join("L")}L${num(X(x[last]!))} ${num(zeroY)}Z" fill="${xmlEscape(s.fill)}" stroke="none"/>`,
      );
    }
  });
  for (const b of spec.bands ?? []) {
    const up = spec.series[b.upper]?.data ?? [];
    const lo = spec.series[b.lower]?.data ?? [];
    for (const seg of segments(x, up, lo, okY)) {
      const fwd = seg.map((i) => `${num(X(x[i]!))} ${num(Y(up[i] as number))}`);
      const back = seg
        .slice()
        .reverse()
        .map((i) => `${num(X(x[i]!))} ${num(Y(lo[i] as number))}`);
      out.push(`<path d="M${fwd.join("L")}L${back.join("L")}Z" fill="${xmlEscape(b.fill)}" stroke="none"/>`);
    }
  }
  spec.series.forEach((s) => {
    if (s.line !== false) {
      const pts: ([number, number] | null)[] = [];
      s.data.forEach((v, i) => {
        if (v === undefined) return;
        pts.push(okY(v) ? [X(x[i]!), Y(v)] : null);
      });
      const dash = s.dash ? ` stroke-dasharray="${s.dash.join(" ")}"` : "";
      out.push(
        `<path d="${pathData(pts)}" fill="none" stroke="${xmlEscape(s.color)}" stroke-width="${s.width ?? 1}"${dash} stroke-linejoin="round"/>`,
      );
    }
    if (s.markers) {
      out.push(`<g fill="${xmlEscape(theme.background)}" stroke="${xmlEscape(s.color)}" stroke-width="1.5">`);
      s.data.forEach((v, i) => {
        if (okY(v)) out.push(`<circle cx="${num(X(x[i]!))}" cy="${num(Y(v))}" r="3"/>`);
      });
      out.push("</g>");
    }
  });
  out.push("</g>");
  out.push(`<rect x="${num(L)}" y="${num(T)}" width="${num(W)}" height="${num(H)}" fill="none" stroke="${xmlEscape(theme.grid)}"/>`);

  // Key.
  out.push(`<g transform="translate(8 ${num(u.height + 8)})" fill="${xmlEscape(theme.text)}">`);
  keys.forEach((s, i) => {
    const cx = (i % perRow) * 180;
    const cy = Math.floor(i / perRow) * 16;
    out.push(`<rect x="${cx}" y="${cy}" width="10" height="10" fill="${xmlEscape(s.fill ?? s.color)}" stroke="${xmlEscape(s.color)}"/>`);
    out.push(`<text x="${cx + 14}" y="${cy + 9}">${xmlEscape(clippedName(s.label, 200))}</text>`);
  });
  out.push("</g></g></svg>");
  return out.join("\n");
}

/** Runs of consecutive indices where `a` (and `b`, if given) are drawable; undefined is skipped. */
function segments(
  x: readonly number[],
  a: Cell,
  b: Cell | null,
  ok: (v: number | null | undefined) => v is number,
): number[][] {
  const out: number[][] = [];
  let cur: number[] = [];
  for (let i = 0; i < x.length; i++) {
    const va = a[i];
    const vb = b ? b[i] : 0;
    if (va === undefined || vb === undefined) continue;
    if (ok(va) && (b === null || ok(vb))) cur.push(i);
    else if (cur.length) {
      out.push(cur);
      cur = [];
    }
  }
  if (cur.length) out.push(cur);
  return out.filter((s) => s.length > 0);
}
