// How user strings (run, loss, split and component names, and server messages that quote
// them) are shown. The data keeps the raw names (state, URLs, requests, CSV/JSON exports);
// the screen and the SVG export show them through shownName():
//
// - Control characters (C0, C1, DEL), format characters (bidi overrides and isolates U+202A–
//   U+202E, U+2066–U+2069, zero-width U+200B–U+200F, U+2060, U+FEFF, soft hyphen, ...) and the
//   line/paragraph separators U+2028/U+2029 are shown as ⟨U+XXXX⟩: two runs that differ only by
//   an invisible character look different, and an RLO in a name cannot reverse what follows.
//   A zero-width joiner between emoji stays (it makes one emoji of several). Title attributes
//   (the browser's own tooltips) get the same text: an RLO there would reverse it too.
// - Every name is put in a <bdi> (nameElement): right-to-left text in a name does not reorder
//   the text around it. A long name is cut by CSS (ellipsis, at most a few lines) and its full
//   text is in the element's title.

const INVISIBLE = /[\p{Cc}\p{Cf}\u2028\u2029]/gu;
const EMOJI_LEFT = /[\p{So}\p{Sk}\uFE0F]/u;
const EMOJI = /\p{So}/u;

/** The text shown for a user string: invisible and control characters as ⟨U+XXXX⟩. */
export function shownName(s: string): string {
  if (!/[\p{Cc}\p{Cf}\u2028\u2029]/u.test(s)) return s;
  return s.replace(INVISIBLE, (ch: string, offset: number) => {
    if (ch === "\u200D") {
      const prev = s[offset - 1] ?? "";
      const next = String.fromCodePoint(s.codePointAt(offset + 1) ?? 0);
      const prevCp = offset >= 2 && /[\uDC00-\uDFFF]/.test(prev) ? s.slice(offset - 2, offset) : prev;
      if (EMOJI_LEFT.test(prevCp) && EMOJI.test(next)) return ch;
    }
    return `⟨U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}⟩`;
  });
}

/** shownName, cut to `max` characters (code points) with an ellipsis: for <option> and SVG. */
export function clippedName(s: string, max = 120): string {
  const shown = shownName(s);
  const cps = Array.from(shown);
  return cps.length <= max ? shown : `${cps.slice(0, max - 1).join("")}…`;
}

/** A name on screen: an isolated <bdi>, cut by CSS if long, the whole (shown) name in its title. */
export function nameElement(raw: string, extraClass = ""): HTMLElement {
  const el = document.createElement("bdi");
  el.className = extraClass ? `detloss-name ${extraClass}` : "detloss-name";
  const shown = shownName(raw);
  el.setAttribute("title", shown);
  el.textContent = shown;
  return el;
}

/** An <option> for a name: value the raw name, text shown and cut, the whole shown name in its title. */
export function nameOption(raw: string, selected: boolean): HTMLOptionElement {
  const o = new Option(clippedName(raw), raw, false, selected);
  o.title = shownName(raw);
  o.dir = "auto";
  return o;
}

/** Own properties only: a component named "constructor" or "__proto__" is a name, not a key of Object. */
export function own<T>(o: Record<string, T>, k: string): T | undefined {
  return Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined;
}
