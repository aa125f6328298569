// Number, step, duration and date formatting.

/** A compact number: "—" when absent, "NaN"/"∞"/"-∞" for non-finite values. */
export function formatNumber(v: number | null | undefined): string {
  if (v === null || v === undefined) return "—";
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "∞";
  if (v === -Infinity) return "-∞";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(3);
  return String(Number(v.toPrecision(4)));
}

/** A share as a percentage: "74.1%". */
export function formatPercent(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return formatNumber(v);
  return `${(v * 100).toFixed(Math.abs(v) >= 0.1 ? 1 : 2)}%`;
}

/** A signed number: "+0.12", "−0.42" (a real minus sign). */
export function formatSigned(v: number | null | undefined): string {
  const s = formatNumber(v);
  if (v === null || v === undefined || Number.isNaN(v)) return s;
  return v > 0 ? `+${s}` : v < 0 ? `−${s.slice(1)}` : s;
}

/** A step with thousands separators: 12,000. */
export function formatStepLong(v: number): string {
  return v.toLocaleString("en-US");
}

/** A step axis tick: 950, 12k, 1.5M. */
export function formatStep(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(4))}M`;
  if (a >= 1e4) return `${Number((v / 1e3).toPrecision(4))}k`;
  return String(Number(v.toPrecision(6)));
}

/** Seconds as TensorBoard's relative axis shows them: 45s, 12m, 3.5h, 2d. */
export function formatDuration(seconds: number): string {
  const a = Math.abs(seconds);
  const sign = seconds < 0 ? "-" : "";
  if (a < 60) return `${sign}${Number(a.toPrecision(3))}s`;
  if (a < 3600) return `${sign}${Number((a / 60).toPrecision(3))}m`;
  if (a < 86400) return `${sign}${Number((a / 3600).toPrecision(3))}h`;
  return `${sign}${Number((a / 86400).toPrecision(3))}d`;
}

/** A wall time (seconds since the epoch) in local time: 2026-01-01 00:05:12. */
export function formatWallTime(seconds: number): string {
  if (!Number.isFinite(seconds)) return "—";
  const d = new Date(seconds * 1000);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
