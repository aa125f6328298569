// The backend's HTTP API (docs/API.md), seen from the tab's iframe.
//
// Every URL is relative: the iframe's <base href> points at the plugin's route prefix, which
// TensorBoard may put behind --path_prefix and /experiment/<id>/.

import { formatNumber } from "./format";

/** One entry of `GET runs`: a (run, loss name, split) with detloss data. */
export interface SeriesInfo {
  run: string;
  name: string;
  split: string;
  components: string[];
  source: string;
}

/**
 * A decoded `breakdown` answer. Arrays are aligned with `steps`. `null` means "not logged at
 * this step"; non-finite numbers (the JSON strings "NaN", "Infinity", "-Infinity") are decoded
 * to the numbers NaN, Infinity and -Infinity.
 */
export interface Breakdown {
  run: string;
  name: string;
  split: string;
  components: string[];
  steps: number[];
  wallTimes: number[];
  values: Record<string, (number | null)[]>;
  weights: Record<string, (number | null)[]>;
  /** The logged total, or null if the series never logged one. */
  total: (number | null)[] | null;
  /** How many steps the series has (more than `steps.length` when downsampled for display). */
  numSteps: number;
}

/** A failed request, with the server's message (4xx bodies are text or JSON). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** A JSON number, one of the strings TensorBoard uses for non-finite numbers, or null. */
export function decodeNumber(v: unknown): number | null {
  if (typeof v === "number") return v;
  if (v === "NaN") return NaN;
  if (v === "Infinity") return Infinity;
  if (v === "-Infinity") return -Infinity;
  return null;
}

export function decodeColumn(v: unknown, length: number): (number | null)[] {
  const out: (number | null)[] = new Array(length).fill(null);
  if (Array.isArray(v)) for (let i = 0; i < length && i < v.length; i++) out[i] = decodeNumber(v[i]);
  return out;
}

function str(v: unknown): string {
  return typeof v === "string" ? v : String(v ?? "");
}

function strList(v: unknown): string[] {
  return Array.isArray(v) ? v.map(str) : [];
}

/** Validates and decodes one breakdown object from the server. */
export function decodeBreakdown(raw: unknown): Breakdown {
  if (raw === null || typeof raw !== "object") throw new ApiError("malformed breakdown", 0);
  const r = raw as Record<string, unknown>;
  const steps = Array.isArray(r.steps) ? r.steps.map((s) => Number(decodeNumber(s))) : [];
  const n = steps.length;
  const components = strList(r.components);
  const rv = (r.values ?? {}) as Record<string, unknown>;
  const rw = (r.weights ?? {}) as Record<string, unknown>;
  const values: Record<string, (number | null)[]> = Object.create(null);
  const weights: Record<string, (number | null)[]> = Object.create(null);
  for (const c of components) {
    values[c] = decodeColumn(Object.prototype.hasOwnProperty.call(rv, c) ? rv[c] : null, n);
    weights[c] = decodeColumn(Object.prototype.hasOwnProperty.call(rw, c) ? rw[c] : null, n);
  }
  return {
    run: str(r.run),
    name: str(r.name),
    split: str(r.split),
    components,
    steps,
    wallTimes: decodeColumn(r.wall_times, n).map((t) => t ?? NaN),
    values,
    weights,
    total: Array.isArray(r.total) ? decodeColumn(r.total, n) : null,
    numSteps: typeof r.num_steps === "number" ? r.num_steps : n,
  };
}

function decodeSeriesInfo(raw: unknown): SeriesInfo {
  const r = (raw ?? {}) as Record<string, unknown>;
  return {
    run: str(r.run),
    name: str(r.name),
    split: str(r.split),
    components: strList(r.components),
    source: str(r.source),
  };
}

/** The message of an error response: its text, or the `error`/`message` field of JSON. */
async function errorMessage(res: Response): Promise<string> {
  let text = "";
  try {
    text = await res.text();
  } catch {
    // The body could not be read: fall back to the status line.
  }
  const type = res.headers.get("content-type") ?? "";
  if (type.includes("json")) {
    try {
      const j = JSON.parse(text) as unknown;
      if (typeof j === "string") text = j;
      else if (j && typeof j === "object") {
        const o = j as Record<string, unknown>;
        const m = o.error ?? o.message;
        if (m !== undefined) text = typeof m === "string" ? m : JSON.stringify(m);
      }
    } catch {
      // Not JSON after all: keep the text.
    }
  }
  text = text.trim();
  return `${res.status} ${res.statusText}${text ? `: ${text}` : ""}`.trim();
}

interface BinaryColumn {
  field: string;
  component: string | null;
  dtype?: "i4" | "f4" | "f8" | "u1";
  offset?: number;
  const?: number;
}

const BINARY_TYPES = { i4: Int32Array, f4: Float32Array, f8: Float64Array, u1: Uint8Array } as const;

/**
 * Decodes a `format=binary` answer (docs/API.md, "Binary answers"; the server's wire.py) into
 * the same objects a JSON answer parses to, so one `decodeBreakdown` reads both.
 */
export function decodeBinary(buf: ArrayBuffer): unknown[] {
  const bytes = new Uint8Array(buf);
  if (bytes.length < 8 || String.fromCharCode(...bytes.subarray(0, 4)) !== "DLB1") {
    throw new ApiError("malformed binary answer", 0);
  }
  const length = new DataView(buf).getUint32(4, true);
  if (8 + length > bytes.length) throw new ApiError("malformed binary answer", 0);
  let header: { breakdowns?: unknown };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as { breakdowns?: unknown };
  } catch {
    throw new ApiError("malformed binary answer", 0);
  }
  const start = Math.ceil((8 + length) / 8) * 8;
  const entries = Array.isArray(header.breakdowns) ? header.breakdowns : [];
  return entries.map((e: unknown) => {
    const entry = (e ?? {}) as Record<string, unknown>;
    const n = typeof entry.n === "number" ? entry.n : 0;
    const columns = new Map<string, ArrayLike<number>>();
    for (const raw of Array.isArray(entry.columns) ? entry.columns : []) {
      const d = raw as BinaryColumn;
      const key = `${d.field}\u0000${d.component ?? ""}`;
      if (typeof d.const === "number") {
        columns.set(key, new Array<number>(n).fill(d.const));
      } else if (d.dtype && d.dtype in BINARY_TYPES && typeof d.offset === "number") {
        const type = BINARY_TYPES[d.dtype];
        const at = start + d.offset;
        if (at + n * type.BYTES_PER_ELEMENT > bytes.length) throw new ApiError("malformed binary answer", 0);
        columns.set(key, new type(buf, at, n));
      }
    }
    const column = (field: string, component: string | null) => columns.get(`${field}\u0000${component ?? ""}`);
    const withMask = (field: string, mask: string, component: string | null): (number | null)[] | null => {
      const values = column(field, component);
      if (!values) return null;
      const present = column(mask, component);
      return Array.from({ length: n }, (_, i) => (present && !present[i] ? null : values[i]!));
    };
    const components = Array.isArray(entry.components) ? entry.components.map(String) : [];
    const values: Record<string, unknown> = Object.create(null);
    const weights: Record<string, unknown> = Object.create(null);
    for (const c of components) {
      values[c] = withMask("values", "present", c);
      weights[c] = withMask("weights", "present", c);
    }
    return {
      run: entry.run,
      name: entry.name,
      split: entry.split,
      components,
      steps: Array.from(column("steps", null) ?? []),
      wall_times: Array.from(column("wall_times", null) ?? []),
      values,
      weights,
      total: withMask("total", "total_present", null),
      num_steps: entry.num_steps,
    };
  });
}

/** A 2xx answer of `url` (ApiError with the server's message otherwise). */
async function fetchOk(url: string, init?: RequestInit): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (e) {
    throw new ApiError(`could not reach the server (${String(e)})`, 0);
  }
  if (!res.ok) throw new ApiError(await errorMessage(res), res.status);
  return res;
}

async function fetchBinary(url: string, init?: RequestInit): Promise<unknown[]> {
  return decodeBinary(await (await fetchOk(url, init)).arrayBuffer());
}

async function fetchJson(url: string, init?: RequestInit): Promise<unknown> {
  const res = await fetchOk(url, init);
  try {
    return (await res.json()) as unknown;
  } catch {
    throw new ApiError(`malformed JSON from ${url}`, res.status);
  }
}

/** `GET runs`. */
export async function fetchRuns(): Promise<SeriesInfo[]> {
  const raw = await fetchJson("./runs");
  if (!Array.isArray(raw)) throw new ApiError("malformed answer from ./runs", 0);
  return raw.map(decodeSeriesInfo);
}

/** The URL of `GET breakdown` (relative to the plugin's route prefix). */
export function breakdownUrl(
  run: string,
  split: string,
  name?: string,
  opts: { maxPoints?: number; format?: "json" | "csv" | "binary" } = {},
): string {
  const q = new URLSearchParams({ run, split });
  if (name !== undefined) q.set("name", name);
  if (opts.maxPoints !== undefined) q.set("max_points", String(Math.max(2, Math.round(opts.maxPoints))));
  if (opts.format !== undefined) q.set("format", opts.format);
  return `./breakdown?${q.toString()}`;
}

/**
 * `GET breakdown` for one (run, split, name), downsampled for display to `maxPoints` if given
 * (then in the binary format: typed columns, lossless, no JSON to build or parse).
 */
export async function fetchBreakdown(run: string, split: string, name?: string, maxPoints?: number): Promise<Breakdown> {
  if (maxPoints === undefined) return decodeBreakdown(await fetchJson(breakdownUrl(run, split, name)));
  const [raw] = await fetchBinary(breakdownUrl(run, split, name, { maxPoints, format: "binary" }));
  if (raw === undefined) throw new ApiError("empty binary answer", 0);
  return decodeBreakdown(raw);
}

export type Severity = "info" | "warning" | "error";

/** One finding of the `warnings` route. `component` null means the total. */
export interface Warning {
  kind: string;
  severity: Severity;
  component: string | null;
  split: string;
  startStep: number;
  endStep: number;
  message: string;
  evidence: [string, number | string][];
}

function decodeWarning(raw: unknown): Warning {
  const r = (raw ?? {}) as Record<string, unknown>;
  const sev = str(r.severity);
  const ev = r.evidence && typeof r.evidence === "object" ? (r.evidence as Record<string, unknown>) : {};
  const evidence: [string, number | string][] = Object.entries(ev).map(([k, v]) => [k, evidenceValue(v)]);
  const start = Number(decodeNumber(r.start_step) ?? 0);
  return {
    kind: str(r.kind),
    severity: sev === "error" || sev === "warning" ? sev : "info",
    component: r.component === null || r.component === undefined ? null : str(r.component),
    split: str(r.split),
    startStep: start,
    endStep: Number(decodeNumber(r.end_step) ?? start),
    message: str(r.message),
    evidence,
  };
}

/** An evidence value: a number, else text; lists and objects (per component) as one line of text. */
export function evidenceValue(v: unknown): number | string {
  const n = decodeNumber(v);
  if (n !== null) return n;
  if (Array.isArray(v)) return v.map((x) => String(evidenceValue(x))).join(", ");
  if (v !== null && typeof v === "object") {
    return Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => {
        const e = evidenceValue(x);
        return `${k} ${typeof e === "number" ? formatNumber(e) : e}`;
      })
      .join(", ");
  }
  return str(v);
}

/** `GET warnings` for one run (and loss name). */
export async function fetchWarnings(run: string, name?: string): Promise<Warning[]> {
  const q = new URLSearchParams({ run });
  if (name !== undefined) q.set("name", name);
  const raw = (await fetchJson(`./warnings?${q.toString()}`)) as Record<string, unknown> | null;
  const list = raw && Array.isArray(raw.warnings) ? raw.warnings : [];
  return list.map(decodeWarning);
}

export interface AttributionPart {
  component: string;
  valueEffect: number | null;
  weightEffect: number | null;
  delta: number | null;
  share: number | null;
}

/** `GET attribution`: what moved the total between two steps. */
export interface Attribution {
  run: string;
  name: string;
  split: string;
  fromStep: number;
  toStep: number;
  totalFrom: number | null;
  totalTo: number | null;
  delta: number | null;
  parts: AttributionPart[];
  loggedDelta: number | null;
}

export function decodeAttribution(raw: unknown): Attribution {
  const r = (raw ?? {}) as Record<string, unknown>;
  const parts = Array.isArray(r.parts) ? r.parts : [];
  return {
    run: str(r.run),
    name: str(r.name),
    split: str(r.split),
    fromStep: Number(decodeNumber(r.from_step) ?? 0),
    toStep: Number(decodeNumber(r.to_step) ?? 0),
    totalFrom: decodeNumber(r.total_from),
    totalTo: decodeNumber(r.total_to),
    delta: decodeNumber(r.delta),
    loggedDelta: decodeNumber(r.logged_delta),
    parts: parts.map((p) => {
      const o = (p ?? {}) as Record<string, unknown>;
      return {
        component: str(o.component),
        valueEffect: decodeNumber(o.value_effect),
        weightEffect: decodeNumber(o.weight_effect),
        delta: decodeNumber(o.delta),
        share: decodeNumber(o.share),
      };
    }),
  };
}

export async function fetchAttribution(run: string, split: string, from: number, to: number, name?: string): Promise<Attribution> {
  const q = new URLSearchParams({ run, split, from: String(from), to: String(to) });
  if (name !== undefined) q.set("name", name);
  return decodeAttribution(await fetchJson(`./attribution?${q.toString()}`));
}

/**
 * `POST breakdown_multirun`: one split of several runs in one request. Runs that do not log
 * that split (or name) are absent from the answer.
 */
export async function fetchSplit(
  runs: string[],
  split: string,
  name?: string,
  maxPoints?: number,
): Promise<Map<string, Breakdown>> {
  const body = new URLSearchParams();
  for (const r of runs) body.append("runs", r);
  body.set("split", split);
  if (name !== undefined) body.set("name", name);
  if (maxPoints !== undefined) body.set("max_points", String(Math.max(2, Math.round(maxPoints))));
  const out = new Map<string, Breakdown>();
  if (maxPoints !== undefined) {
    body.set("format", "binary");
    const answers = await fetchBinary("./breakdown_multirun", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8" },
      body: body.toString(),
    });
    for (const raw of answers) {
      const b = decodeBreakdown(raw);
      out.set(b.run, b);
    }
    return out;
  }
  const raw = await fetchJson("./breakdown_multirun", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8" },
    body: body.toString(),
  });
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ApiError("malformed answer from ./breakdown_multirun", 0);
  }
  for (const [run, b] of Object.entries(raw as Record<string, unknown>)) out.set(run, decodeBreakdown(b));
  return out;
}
