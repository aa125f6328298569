// The backend's HTTP API (docs/API.md), seen from the tab's iframe.
//
// Every URL is relative: the iframe's <base href> points at the plugin's route prefix, which
// TensorBoard may put behind --path_prefix and /experiment/<id>/.

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

async function fetchJson(url: string, init?: RequestInit): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (e) {
    throw new ApiError(`could not reach the server (${String(e)})`, 0);
  }
  if (!res.ok) throw new ApiError(await errorMessage(res), res.status);
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

/** `GET breakdown` for one (run, split, name). */
export async function fetchBreakdown(run: string, split: string, name?: string): Promise<Breakdown> {
  const q = new URLSearchParams({ run, split });
  if (name !== undefined) q.set("name", name);
  return decodeBreakdown(await fetchJson(`./breakdown?${q.toString()}`));
}

/**
 * `POST breakdown_multirun`: one split of several runs in one request. Runs that do not log
 * that split (or name) are absent from the answer.
 */
export async function fetchSplit(
  runs: string[],
  split: string,
  name?: string,
): Promise<Map<string, Breakdown>> {
  const body = new URLSearchParams();
  for (const r of runs) body.append("runs", r);
  body.set("split", split);
  if (name !== undefined) body.set("name", name);
  const raw = await fetchJson("./breakdown_multirun", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8" },
    body: body.toString(),
  });
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ApiError("malformed answer from ./breakdown_multirun", 0);
  }
  const out = new Map<string, Breakdown>();
  for (const [run, b] of Object.entries(raw as Record<string, unknown>)) out.set(run, decodeBreakdown(b));
  return out;
}
