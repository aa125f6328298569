// Text formats of exports: XML escaping for SVG, spreadsheet-safe CSV cells, file names.

/** Escapes text for XML character data and attribute values. */
export function xmlEscape(s: string): string {
  return s
    .replace(XML_ILLEGAL, "\uFFFD")
    .replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!);
}

/** What XML 1.0 forbids even as a character reference: C0 controls but tab/LF/CR, U+FFFE/U+FFFF, lone surrogates. */
const XML_ILLEGAL = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * One CSV cell (RFC 4180 quoting). Numbers are written as numbers; a text cell a spreadsheet
 * would read as a formula (starting with = + - @, a tab or a carriage return) gets a leading '.
 */
export function csvCell(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : Number.isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";
  let s = v;
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvRow(cells: readonly (string | number | null | undefined)[]): string {
  return cells.map(csvCell).join(",");
}

/** A file name from user strings: letters, digits, . _ - kept, anything else → _. */
export function fileName(parts: readonly string[], ext: string): string {
  const base = parts
    .map((p) => p.replace(/[^\w.-]+/g, "_").replace(/^[._]+|[._]+$/g, ""))
    .filter((p) => p !== "")
    .join("-")
    .slice(0, 120);
  return `${base || "detloss"}.${ext}`;
}

/** SVG path data through points (null: a gap), coordinates rounded to 0.01 px. */
export function pathData(points: readonly ([number, number] | null)[]): string {
  const out: string[] = [];
  let pen = false;
  for (const p of points) {
    if (p === null) {
      pen = false;
      continue;
    }
    out.push(`${pen ? "L" : "M"}${r2(p[0])} ${r2(p[1])}`);
    pen = true;
  }
  return out.join("");
}

function r2(v: number): string {
  return String(Math.round(v * 100) / 100);
}
