// The view's state, and its encoding in TensorBoard's URL hash after the tab's id:
//   #detloss&run=yolo&name=loss&smoothing=0.6&x=step&share=1&hide=cls&w.box=5&zoom=100~500
// Every key and value is encoded with encodeURIComponent (names are user strings).

import { DEFAULT_SMOOTHING, MAX_SMOOTHING, clampSmoothing } from "./smoothing";
import { METRICS, type Metric, X_MODES, type XMode } from "./transform";

export interface ViewState {
  run: string | null;
  name: string | null;
  /** The split of the stacked chart (null: train, else the first). */
  split: string | null;
  smoothing: number;
  x: XMode;
  share: boolean;
  log: boolean;
  hidden: string[];
  /** What-if weights, per component. */
  weights: Record<string, number>;
  /** Runs on the comparison chart, and what it shows. */
  compare: string[];
  component: string | null;
  compareSplit: string | null;
  metric: Metric;
  /** The zoomed x range (in the x axis' units), or null. */
  zoom: [number, number] | null;
  auto: boolean;
  filter: string;
}

export function defaultState(): ViewState {
  return {
    run: null,
    name: null,
    split: null,
    smoothing: DEFAULT_SMOOTHING,
    x: "step",
    share: false,
    log: false,
    hidden: [],
    weights: {},
    compare: [],
    component: null,
    compareSplit: null,
    metric: "value",
    zoom: null,
    auto: true,
    filter: "",
  };
}

const enc = encodeURIComponent;

function dec(s: string): string | null {
  try {
    return decodeURIComponent(s.replace(/\+/g, "%20"));
  } catch {
    return null;
  }
}

/** Lists (hidden components, compared runs) are joined with "," after encoding each item. */
function encList(items: readonly string[]): string {
  return items.map(enc).join(",");
}

function decList(s: string): string[] {
  return s === "" ? [] : s.split(",").map((x) => dec(x)).filter((x): x is string => x !== null);
}

/** The parameters after the tab id, in a stable order; defaults are left out. */
export function encodeState(s: ViewState): string {
  const d = defaultState();
  const parts: string[] = [];
  const put = (k: string, v: string) => parts.push(`${enc(k)}=${v}`);
  if (s.run !== null) put("run", enc(s.run));
  if (s.name !== null) put("name", enc(s.name));
  if (s.split !== null) put("split", enc(s.split));
  if (s.smoothing !== d.smoothing) put("smoothing", String(s.smoothing));
  if (s.x !== d.x) put("x", s.x);
  if (s.share) put("share", "1");
  if (s.log) put("log", "1");
  if (s.hidden.length) put("hide", encList(s.hidden));
  for (const c of Object.keys(s.weights).sort()) put(`w.${c}`, String(s.weights[c]));
  if (s.compare.length) put("compare", encList(s.compare));
  if (s.component !== null) put("component", enc(s.component));
  if (s.compareSplit !== null) put("csplit", enc(s.compareSplit));
  if (s.metric !== d.metric) put("metric", s.metric);
  if (s.zoom) put("zoom", `${s.zoom[0]}~${s.zoom[1]}`);
  if (!s.auto) put("auto", "0");
  if (s.filter !== "") put("filter", enc(s.filter));
  return parts.join("&");
}

/** Parses the parameters of a hash (with or without the leading "#tab&"); unknown keys are ignored. */
export function decodeState(params: string): ViewState {
  const s = defaultState();
  for (const part of params.split("&")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const key = dec(part.slice(0, eq));
    const raw = part.slice(eq + 1);
    if (key === null) continue;
    const val = dec(raw);
    if (val === null) continue;
    switch (key) {
      case "run":
        s.run = val;
        break;
      case "name":
        s.name = val;
        break;
      case "split":
        s.split = val;
        break;
      case "smoothing": {
        const v = Number(val);
        if (val !== "" && Number.isFinite(v)) s.smoothing = Math.min(clampSmoothing(v), MAX_SMOOTHING);
        break;
      }
      case "x":
        if ((X_MODES as readonly string[]).includes(val)) s.x = val as XMode;
        break;
      case "share":
        s.share = val === "1";
        break;
      case "log":
        s.log = val === "1";
        break;
      case "hide":
        s.hidden = decList(raw);
        break;
      case "compare":
        s.compare = decList(raw);
        break;
      case "component":
        s.component = val;
        break;
      case "csplit":
        s.compareSplit = val;
        break;
      case "metric":
        if ((METRICS as readonly string[]).includes(val)) s.metric = val as Metric;
        break;
      case "zoom": {
        const m = /^(-?[\d.e+-]+)~(-?[\d.e+-]+)$/i.exec(val);
        if (m) {
          const a = Number(m[1]);
          const b = Number(m[2]);
          if (Number.isFinite(a) && Number.isFinite(b) && a < b) s.zoom = [a, b];
        }
        break;
      }
      case "auto":
        s.auto = val !== "0";
        break;
      case "filter":
        s.filter = val;
        break;
      default:
        if (key.startsWith("w.") && key.length > 2) {
          const v = Number(val);
          // defineProperty: a component named "__proto__" is a key like any other.
          if (val !== "" && Number.isFinite(v)) Object.defineProperty(s.weights, key.slice(2), { value: v, enumerable: true, writable: true, configurable: true });
        }
    }
  }
  return s;
}

/** Splits TensorBoard's hash ("#detloss&a=b") into the tab id and our parameters. */
export function splitHash(hash: string): { tab: string; params: string } {
  const h = hash.startsWith("#") ? hash.slice(1) : hash;
  const amp = h.indexOf("&");
  return amp < 0 ? { tab: h, params: "" } : { tab: h.slice(0, amp), params: h.slice(amp + 1) };
}

export function joinHash(tab: string, params: string): string {
  return `#${tab}${params ? `&${params}` : ""}`;
}

/**
 * The window whose URL TensorBoard shows: the parent page when it is same-origin (the tab
 * runs in TensorBoard's iframe), else our own.
 */
function urlWindow(): Window {
  try {
    if (window.parent !== window && window.parent.location.href) return window.parent;
  } catch {
    // Cross-origin parent: keep the state in our own URL.
  }
  return window;
}

export const TAB_ID = "detloss";

export function readUrlState(): ViewState {
  const { tab, params } = splitHash(urlWindow().location.hash);
  return tab === TAB_ID || tab === "" ? decodeState(params) : defaultState();
}

/** Rewrites the URL (history.replaceState: no new history entry, no hashchange). */
export function writeUrlState(s: ViewState): void {
  const w = urlWindow();
  const { tab } = splitHash(w.location.hash);
  // Only while our tab is the one shown: never overwrite another tab's URL.
  if (tab !== TAB_ID && tab !== "") return;
  const hash = joinHash(TAB_ID, encodeState(s));
  if (w.location.hash === hash) return;
  const url = w.location.href.split("#")[0] + hash;
  try {
    w.history.replaceState(w.history.state, "", url);
  } catch {
    // A sandboxed or detached parent: the state stays unsaved.
  }
}
