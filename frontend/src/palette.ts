// Okabe–Ito colours (safe for the common colour-vision deficiencies), keyed by component name.

/** Okabe–Ito without black, which is kept for the total. */
export const OKABE_ITO = [
  "#0072B2", // blue
  "#E69F00", // orange
  "#009E73", // bluish green
  "#CC79A7", // reddish purple
  "#56B4E9", // sky blue
  "#D55E00", // vermillion
  "#F0E442", // yellow
] as const;

export const TOTAL_COLOR = "#000000";

/** FNV-1a over UTF-16 code units: a small, stable string hash. */
export function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * A colour per name that depends only on the name and the set of names drawn together, not on
 * their order: names are taken in sorted order, each gets the colour its hash points at, or the
 * next free one. So a name keeps its colour from run to run unless another name of the same run
 * wants the same colour, and names drawn together differ while the palette lasts (7 names);
 * past that it is reused.
 */
export function assignColors(names: Iterable<string>, palette: readonly string[] = OKABE_ITO): Map<string, string> {
  const sorted = Array.from(new Set(names)).sort();
  const out = new Map<string, string>();
  let used = new Set<number>();
  for (const name of sorted) {
    if (used.size >= palette.length) used = new Set();
    let k = hashName(name) % palette.length;
    while (used.has(k)) k = (k + 1) % palette.length;
    used.add(k);
    out.set(name, palette[k]!);
  }
  return out;
}

/** `#RRGGBB` with an alpha, as `rgba(...)`. */
export function withAlpha(hex: string, alpha: number): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) return hex;
  return `rgba(${parseInt(m[1]!, 16)},${parseInt(m[2]!, 16)},${parseInt(m[3]!, 16)},${alpha})`;
}

/**
 * The colour to draw a thin line in: light colours (Okabe–Ito yellow) are darkened so a line
 * stays visible on white; fills keep the palette colour.
 */
export function lineColor(hex: string): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) return hex;
  const [r, g, b] = [m[1]!, m[2]!, m[3]!].map((x) => parseInt(x, 16)) as [number, number, number];
  const luma = (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
  if (luma < 0.7) return hex;
  const k = 0.72;
  const to2 = (x: number) => Math.round(x * k).toString(16).padStart(2, "0");
  return `#${to2(r)}${to2(g)}${to2(b)}`;
}
