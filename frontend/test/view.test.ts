// Unit tests of smoothing, the view transforms, URL state and export formats.
import assert from "node:assert/strict";
import { test } from "node:test";

import { type Breakdown, decodeAttribution } from "../src/api";
import { csvCell, csvRow, fileName, pathData, xmlEscape } from "../src/exportfmt";
import { formatDuration, formatSigned, formatStep } from "../src/format";
import { DEFAULT_SMOOTHING, smooth } from "../src/smoothing";
import { decodeState, defaultState, encodeState, joinHash, splitHash } from "../src/state";
import {
  compareModel,
  componentModel,
  effectiveWeights,
  interpolate,
  loggedWeight,
  sortOrder,
  stackModel,
  stepRange,
  xValues,
} from "../src/transform";

function breakdown(partial: Partial<Breakdown>): Breakdown {
  return {
    run: "r", name: "loss", split: "train", components: [], steps: [], wallTimes: [],
    values: {}, weights: {}, total: null, numSteps: 0, ...partial,
  };
}

const close = (a: number | null | undefined, b: number, eps = 1e-12) =>
  assert.ok(a !== null && a !== undefined && Math.abs(a - b) <= eps, `${a} ≉ ${b}`);

test("smoothing is TensorBoard's debiased EMA (hand-computed values)", () => {
  assert.equal(DEFAULT_SMOOTHING, 0.6);
  // w = 0.6 over [1, 2, 3]:
  //   last = 0.4          debias 1 - 0.6   = 0.4   → 1
  //   last = 0.24 + 0.8 = 1.04,  debias 1 - 0.36  = 0.64  → 1.625
  //   last = 0.624 + 1.2 = 1.824, debias 1 - 0.216 = 0.784 → 2.326530612...
  const s = smooth([1, 2, 3], 0.6);
  close(s[0], 1);
  close(s[1], 1.625);
  close(s[2], 1.824 / 0.784);
  // w = 0.5 over [4, 0]: 2/0.5 = 4; (1 + 0)/0.75 = 1.3333
  const t = smooth([4, 0], 0.5);
  close(t[0], 4);
  close(t[1], 1 / 0.75);
});

test("smoothing: weight 0 is the identity, constant series are unchanged, non-finite and absent pass through", () => {
  assert.deepEqual(smooth([1, 5, 2], 0), [1, 5, 2]);
  assert.deepEqual(smooth([3, 3, null, 3], 0.9), [3, 3, null, 3]);
  // NaN passes through and does not count: the next point continues the average.
  const s = smooth([1, NaN, 2, null, 3], 0.6);
  assert.ok(Number.isNaN(s[1]!));
  assert.equal(s[3], null);
  close(s[0], 1);
  close(s[2], 1.625);
  close(s[4], 1.824 / 0.784);
  assert.equal(smooth([1, Infinity, 1], 0.5)[1], Infinity);
  // Out-of-range weights are clamped like TensorBoard's: w = 1 keeps last at 0.
  assert.deepEqual(smooth([1, 2], 1), [0, 0]);
  assert.deepEqual(smooth([1, 2], -3), [1, 2]);
});

const bd = breakdown({
  components: ["box", "cls"],
  steps: [0, 1, 2],
  wallTimes: [100, 110, 130],
  values: { box: [1, 2, 3], cls: [4, null, 2] },
  weights: { box: [2, 2, 2], cls: [0.5, null, 1] },
  total: [6, 4, 9],
  numSteps: 3,
});

test("what-if weights replace the logged ones where a value is logged", () => {
  assert.deepEqual({ ...effectiveWeights(bd, { cls: 3 }) }, { box: [2, 2, 2], cls: [3, null, 3] });
  assert.deepEqual(loggedWeight(bd, "cls"), { last: 1, min: 0.5, max: 1 });
});

test("stackModel: absolute, 100% (top of stack is 1), hidden, what-if", () => {
  const opts = { overrides: {}, hidden: new Set<string>(), share: false, smoothing: 0 };
  const m = stackModel(bd, opts);
  assert.deepEqual(m.top, [4, 4, 8]);
  assert.deepEqual(m.lines.map((l) => l.label), ["total (logged)"]);
  assert.deepEqual(m.lines[0]!.column, [6, 4, 9]);
  const share = stackModel(bd, { ...opts, share: true });
  share.top.forEach((v) => close(v, 1));
  close(share.lines[0]!.column[0], 6 / 4);
  const hidden = stackModel(bd, { ...opts, hidden: new Set(["cls"]) });
  assert.deepEqual(hidden.shown, ["box"]);
  assert.deepEqual(hidden.top, [2, 4, 6]);
  const w = stackModel(bd, { ...opts, overrides: { box: 1 } });
  assert.ok(w.whatIf);
  assert.deepEqual(w.top, [3, 2, 5]);
  assert.deepEqual(w.lines.map((l) => [l.label, l.dashed]), [
    ["total, re-weighted (Σ weight × value)", false],
    ["total (logged)", true],
  ]);
  assert.deepEqual(w.lines[0]!.column, [3, 2, 5]);
  // Smoothing applies to each band before stacking.
  const s = stackModel(bd, { ...opts, smoothing: 0.6 });
  close(s.top[1], smooth([2, 4, 6], 0.6)[1]!); // cls is not logged at step 1: adds nothing
});

test("x values: step, relative and wall time; sortOrder", () => {
  assert.deepEqual(xValues([0, 1, 2], [100, 110, 130], "step"), [0, 1, 2]);
  assert.deepEqual(xValues([0, 1, 2], [100, 110, 130], "relative"), [0, 10, 30]);
  assert.deepEqual(xValues([0, 1, 2], [100, 110, 130], "wall"), [100, 110, 130]);
  assert.equal(sortOrder([1, 2, 3]), null);
  assert.deepEqual(sortOrder([3, 1, 2]), [1, 2, 0]);
  assert.deepEqual(stepRange([0, 10, 20, 30], [0, 10, 20, 30], 5, 25), [10, 20]);
  assert.equal(stepRange([0, 10], [0, 10], 2, 8), null);
});

test("train vs val: union of steps, gap interpolated inside val's range only", () => {
  assert.deepEqual(interpolate([10, 20], [1, 3], [0, 10, 15, 20, 25]), [null, 1, 2, 3, null]);
  const train = breakdown({ components: ["a"], steps: [0, 1, 2, 3], wallTimes: [0, 1, 2, 3], values: { a: [4, 3, 2, 1] }, weights: { a: [1, 1, 1, 1] } });
  const val = breakdown({ split: "val", components: ["a"], steps: [1, 3], wallTimes: [1.5, 3.5], values: { a: [5, 6] }, weights: { a: [1, 1] } });
  const m = componentModel("a", [train, val], 0);
  assert.deepEqual(m.steps, [0, 1, 2, 3]);
  assert.deepEqual(m.splits[1]!.raw, [undefined, 5, undefined, 6]);
  assert.deepEqual(m.gap, [null, 5, 5.5, 6]);
});

test("compare: runs aligned on the union of their x values", () => {
  const a = breakdown({ run: "a", components: ["c"], steps: [0, 2], wallTimes: [0, 2], values: { c: [1, 2] }, weights: { c: [2, 2] } });
  const b = breakdown({ run: "b", components: ["c"], steps: [1, 2], wallTimes: [5, 6], values: { c: [3, 4] }, weights: { c: [1, 1] } });
  const m = compareModel([a, b], "c", "contribution", "step", 0);
  assert.deepEqual(m.x, [0, 1, 2]);
  assert.deepEqual(m.lines.map((l) => l.raw), [[2, undefined, 4], [undefined, 3, 4]]);
  const rel = compareModel([a, b], "c", "value", "relative", 0);
  assert.deepEqual(rel.x, [0, 1, 2]);
});

test("URL state round-trips, encodes user strings, ignores junk", () => {
  const s = defaultState();
  s.run = "<img src=x onerror=alert(1)>&x=1";
  s.name = "loss";
  s.smoothing = 0.25;
  s.x = "relative";
  s.share = true;
  s.log = true;
  s.hidden = ["a,b", "<script>"];
  s.weights = { "box&y": 3.5 };
  s.compare = ["r1", "r 2"];
  s.component = "cls";
  s.metric = "contribution";
  s.zoom = [10, 200.5];
  s.auto = false;
  const enc = encodeState(s);
  assert.ok(!enc.includes("<") && !enc.includes(" "), enc);
  assert.deepEqual(decodeState(enc), s);
  assert.equal(encodeState(defaultState()), "");
  assert.deepEqual(decodeState("smoothing=abc&x=bogus&zoom=5~1&%E0%A4%A=1"), defaultState());
  assert.deepEqual(splitHash("#detloss&run=a"), { tab: "detloss", params: "run=a" });
  assert.equal(joinHash("detloss", ""), "#detloss");
});

test("exports escape user strings: XML, CSV formulas, file names", () => {
  assert.equal(xmlEscape(`<script>"&'`), "&lt;script&gt;&quot;&amp;&apos;");
  assert.equal(csvCell("=HYPERLINK()"), "'=HYPERLINK()");
  assert.equal(csvCell("@x"), "'@x");
  assert.equal(csvCell("-1+1"), "'-1+1");
  assert.equal(csvCell(-1.5), "-1.5");
  assert.equal(csvCell(NaN), "NaN");
  assert.equal(csvCell('a,"b"'), '"a,""b"""');
  assert.equal(csvRow(["x", 1, null]), "x,1,");
  assert.equal(fileName(["<img src=x>", "loss", "train"], "csv"), "img_src_x-loss-train.csv");
  assert.equal(pathData([[0, 0], [1.234, 2], null, [3, 4]]), "M0 0L1.23 2M3 4");
});

test("formatting", () => {
  assert.equal(formatSigned(-0.42), "−0.42");
  assert.equal(formatSigned(0.1), "+0.1");
  assert.equal(formatStep(12000), "12k");
  assert.equal(formatDuration(90), "1.5m");
  assert.equal(formatDuration(7200), "2h");
});

test("decodeAttribution decodes non-finite strings and parts", () => {
  const a = decodeAttribution({
    run: "r", name: "loss", split: "train", from_step: 2, to_step: 8, total_from: 1, total_to: "NaN", delta: -0.5,
    parts: [{ component: "box", value_effect: -0.4, weight_effect: -0.1, delta: -0.5, share: 1 }], logged_delta: null,
  });
  assert.equal(a.parts[0]!.component, "box");
  assert.ok(Number.isNaN(a.totalTo!));
  assert.equal(a.loggedDelta, null);
});

test("URL state: components named __proto__, constructor, toString are names like any other", () => {
  const s = defaultState();
  s.run = "<img src=x onerror=alert(1)>";
  s.hidden = ["__proto__", "a,b"];
  s.weights = { ["__proto__"]: 3, constructor: 2, toString: 0.5, "\u202Eevil": 1 };
  s.compare = ["hasOwnProperty", "x&y=z"];
  const back = decodeState(encodeState(s));
  assert.equal(back.run, s.run);
  assert.deepEqual(back.hidden, s.hidden);
  assert.deepEqual(back.compare, s.compare);
  assert.deepEqual(Object.keys(back.weights).sort(), ["__proto__", "constructor", "toString", "\u202Eevil"].sort());
  assert.equal(back.weights["__proto__"], 3);
  assert.equal(Object.getPrototypeOf(back.weights), Object.prototype);
  assert.equal(back.weights.constructor, 2);
});

test("names: control and format characters are shown as ⟨U+XXXX⟩, emoji joiners and RTL letters kept", async () => {
  const { shownName, clippedName } = await import("../src/names");
  assert.equal(shownName("invoice\u202Egnp.exe"), "invoice⟨U+202E⟩gnp.exe");
  assert.equal(shownName("box\u200Bloss"), "box⟨U+200B⟩loss");
  assert.equal(shownName("a\u200Db\uFEFFc\u00AD"), "a⟨U+200D⟩b⟨U+FEFF⟩c⟨U+00AD⟩");
  assert.equal(shownName("tab\there\r\n\u2028\x07\x7F"), "tab⟨U+0009⟩here⟨U+000D⟩⟨U+000A⟩⟨U+2028⟩⟨U+0007⟩⟨U+007F⟩");
  const family = "\u{1F468}\u200D\u{1F469}\u200D\u{1F467} \u{1F44D}\u{1F3FD}";
  assert.equal(shownName(family), family);
  assert.equal(shownName("\u05d4\u05e4\u05e1\u05d3 <script>"), "\u05d4\u05e4\u05e1\u05d3 <script>");
  assert.equal(clippedName("x".repeat(10_000)).length, 120);
  assert.ok(clippedName("x".repeat(10_000)).endsWith("…"));
  // Cut on code points: an astral character is never split in half.
  assert.equal(Array.from(clippedName("\u{1F525}".repeat(200), 10)).length, 10);
  assert.equal(clippedName("\u{1F525}".repeat(200), 10), "\u{1F525}".repeat(9) + "…");
});

test("xmlEscape: what XML 1.0 forbids is replaced, markup escaped", () => {
  assert.equal(xmlEscape("a\x07b\x00c\uFFFE\uD800d\tok"), "a\uFFFDb\uFFFDc\uFFFD\uFFFDd\tok");
  assert.equal(xmlEscape("<svg onload='x'>&amp;"), "&lt;svg onload=&apos;x&apos;&gt;&amp;amp;");
  assert.equal(xmlEscape("\u{1F525}"), "\u{1F525}");
});
