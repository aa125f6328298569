// Light and dark theme, following TensorBoard's: its page (our same-origin parent) puts
// `dark-mode` on <body>. Watched live with a MutationObserver.

export interface Theme {
  dark: boolean;
  /** Axis text and ticks. */
  axis: string;
  grid: string;
  /** The total line over the stack. */
  total: string;
  /** Chart background for PNG/SVG exports. */
  background: string;
  text: string;
}

export const LIGHT: Theme = {
  dark: false,
  axis: "#424242",
  grid: "rgba(0,0,0,0.08)",
  total: "#000000",
  background: "#ffffff",
  text: "#212121",
};

export const DARK: Theme = {
  dark: true,
  axis: "#bdbdbd",
  grid: "rgba(255,255,255,0.10)",
  total: "#ffffff",
  background: "#303030",
  text: "#e0e0e0",
};

function parentBody(): HTMLElement | null {
  try {
    if (window.parent !== window) return window.parent.document.body;
  } catch {
    // Cross-origin parent: no theme to follow.
  }
  return null;
}

/** Whether TensorBoard shows its dark theme (or, outside TensorBoard, the OS prefers dark). */
export function isDark(): boolean {
  const body = parentBody();
  if (body) return body.classList.contains("dark-mode");
  return typeof matchMedia === "function" && matchMedia("(prefers-color-scheme: dark)").matches;
}

/** Calls `onChange(dark)` whenever TensorBoard switches theme. */
export function watchTheme(onChange: (dark: boolean) => void): void {
  const body = parentBody();
  let dark = isDark();
  const check = () => {
    const now = isDark();
    if (now !== dark) {
      dark = now;
      onChange(now);
    }
  };
  if (body && typeof MutationObserver !== "undefined") {
    new MutationObserver(check).observe(body, { attributes: true, attributeFilter: ["class"] });
  } else if (typeof matchMedia === "function") {
    matchMedia("(prefers-color-scheme: dark)").addEventListener?.("change", check);
  }
}
