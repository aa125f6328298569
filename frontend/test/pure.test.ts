// Unit tests of the pure modules (run with `npm test`: esbuild bundles, node's runner runs).
import assert from "node:assert/strict";
import { test } from "node:test";

import { alignColumn, alignForPlot, unionSteps } from "../src/align";
import { type Breakdown, decodeBinary, decodeBreakdown, decodeNumber } from "../src/api";
import { formatNumber } from "../src/format";
import { OKABE_ITO, assignColors, lineColor } from "../src/palette";
import { chooseSplits, groupRuns } from "../src/runs";
import { contributions, stackLayers, totalLine } from "../src/stack";

function breakdown(partial: Partial<Breakdown>): Breakdown {
  return {
    run: "r", name: "loss", split: "train", components: [], steps: [], wallTimes: [],
    values: {}, weights: {}, total: null, numSteps: 0, ...partial,
  };
}

test("decodeNumber turns TensorBoard's strings into non-finite numbers", () => {
  assert.equal(decodeNumber(1.5), 1.5);
  assert.ok(Number.isNaN(decodeNumber("NaN")));
  assert.equal(decodeNumber("Infinity"), Infinity);
  assert.equal(decodeNumber("-Infinity"), -Infinity);
  assert.equal(decodeNumber(null), null);
  assert.equal(decodeNumber("1.5"), null);
});

test("decodeBreakdown decodes columns and keeps absent values null", () => {
  const b = decodeBreakdown({
    run: "<img src=x>", name: "loss", split: "train", components: ["box", "__proto__"],
    steps: [0, 1, 2], wall_times: [1, 2, 3],
    values: { box: [1, "NaN", null], ["__proto__"]: [2, 2, "-Infinity"] },
    weights: { box: [2, 2, null] }, total: null,
  });
  assert.equal(b.run, "<img src=x>");
  assert.deepEqual(b.values.box, [1, NaN, null]);
  assert.deepEqual(b.values["__proto__"], [2, 2, -Infinity]);
  assert.deepEqual(b.weights["__proto__"], [null, null, null]);
  assert.equal(b.total, null);
  assert.deepEqual(decodeBreakdown({ steps: [0, 1], total: [3, "Infinity"] }).total, [3, Infinity]);
});

/** A binary answer (the server's wire.py layout) of one entry with the given columns. */
function binaryAnswer(entry: Record<string, unknown>, columns: ArrayBufferView[]): ArrayBuffer {
  const header = new TextEncoder().encode(JSON.stringify({ breakdowns: [entry] }));
  const start = Math.ceil((8 + header.length) / 8) * 8;
  const sizes = columns.map((c) => Math.ceil(c.byteLength / 8) * 8);
  const buf = new ArrayBuffer(start + sizes.reduce((a, x) => a + x, 0));
  const bytes = new Uint8Array(buf);
  bytes.set([68, 76, 66, 49]); // "DLB1"
  new DataView(buf).setUint32(4, header.length, true);
  bytes.set(header, 8);
  let at = start;
  columns.forEach((c, i) => {
    bytes.set(new Uint8Array(c.buffer, c.byteOffset, c.byteLength), at);
    at += sizes[i]!;
  });
  return buf;
}

test("decodeBinary reads typed columns, constant columns and presence masks", () => {
  const entry = {
    run: "<b>r</b>", name: "loss", split: "train", components: ["box", "toString"], num_steps: 9, n: 3,
    columns: [
      { field: "steps", component: null, dtype: "i4", offset: 0 },
      { field: "wall_times", component: null, dtype: "f8", offset: 16 },
      { field: "values", component: "box", dtype: "f4", offset: 40 },
      { field: "weights", component: "box", const: 7.5 },
      { field: "values", component: "toString", dtype: "f8", offset: 56 },
      { field: "weights", component: "toString", const: 1 },
      { field: "present", component: "toString", dtype: "u1", offset: 80 },
    ],
  };
  const buf = binaryAnswer(entry, [
    new Int32Array([0, 5, 2 ** 31 - 1]), new Float64Array([1e9, 1e9 + 0.25, 1e9 + 1]),
    new Float32Array([0.5, NaN, Infinity]), new Float64Array([0.1, 0.2, 0.3]), new Uint8Array([1, 0, 1]),
  ]);
  const [b] = decodeBinary(buf).map(decodeBreakdown);
  assert.ok(b);
  assert.equal(b.run, "<b>r</b>");
  assert.deepEqual(b.steps, [0, 5, 2 ** 31 - 1]);
  assert.deepEqual(b.wallTimes, [1e9, 1e9 + 0.25, 1e9 + 1]);
  assert.deepEqual(b.values["box"], [0.5, NaN, Infinity]);
  assert.deepEqual(b.weights["box"], [7.5, 7.5, 7.5]);
  assert.deepEqual(b.values["toString"], [0.1, null, 0.3]);
  assert.deepEqual(b.weights["toString"], [1, null, 1]);
  assert.equal(b.total, null);
  assert.equal(b.numSteps, 9);
});

test("decodeBinary rejects what is not a binary answer, and columns past its end", () => {
  assert.throws(() => decodeBinary(new TextEncoder().encode('{"a": 1}').buffer), /malformed/);
  const entry = { run: "r", components: [], n: 4, columns: [{ field: "steps", component: null, dtype: "f8", offset: 0 }] };
  assert.throws(() => decodeBinary(binaryAnswer(entry, [new Float64Array([1])])), /malformed/);
});

test("contributions are weight × value; a missing weight counts as 1", () => {
  const b = breakdown({
    components: ["a", "b"], steps: [0, 1],
    values: { a: [2, null], b: [3, 4] }, weights: { a: [0.5, null], b: [null, 2] },
  });
  assert.deepEqual({ ...contributions(b) }, { a: [1, null], b: [3, 8] });
});

test("stackLayers stacks positive parts up and negative parts down, apart", () => {
  const contribs = { a: [1, 1, 1], b: [2, -1, null], c: [-3, -3, -3] };
  const layers = stackLayers(["a", "b", "c"], contribs, 3);
  assert.deepEqual(
    layers.map((l) => [l.component, l.sign, l.below, l.edge]),
    [
      ["a", 1, -1, [1, 1, 1]],
      ["b", 1, 0, [3, 1, 1]],
      ["b", -1, -1, [0, -1, 0]],
      ["c", -1, 2, [-3, -4, -3]],
    ],
  );
});

test("stackLayers leaves a gap where a contribution is non-finite or nothing is logged", () => {
  const contribs = { a: [1, NaN, null, 1], b: [1, 1, null, Infinity] };
  const layers = stackLayers(["a", "b"], contribs, 4);
  assert.deepEqual(layers.map((l) => l.edge), [[1, null, null, null], [2, null, null, null]]);
});

test("a non-finite value does not give a component a layer of its sign", () => {
  const layers = stackLayers(["a"], { a: [1, -Infinity, 2] }, 3);
  assert.deepEqual(layers.map((l) => [l.sign, l.edge]), [[1, [1, null, 2]]]);
});

test("a component that is always zero or absent still gets a (flat) layer", () => {
  const layers = stackLayers(["a", "z"], { a: [1, 2], z: [0, null] }, 2);
  assert.deepEqual(layers.map((l) => [l.component, l.edge]), [["a", [1, 2]], ["z", [1, 2]]]);
});

test("totalLine: the logged total, else the sum of contributions", () => {
  const b = breakdown({ components: ["a"], steps: [0, 1], values: { a: [1, 2] }, weights: { a: [2, 2] } });
  assert.deepEqual(totalLine(b, contributions(b)), { total: [2, 4], logged: false });
  const logged = { ...b, total: [5, null] };
  assert.deepEqual(totalLine(logged, contributions(logged)), { total: [5, null], logged: true });
});

test("alignment on the union of steps: missing steps are undefined, non-finite are null", () => {
  const union = unionSteps([[0, 1, 2, 3], [1, 3, 5]]);
  assert.deepEqual(union, [0, 1, 2, 3, 5]);
  assert.deepEqual(alignColumn([1, 3, 5], [10, null, NaN], union), [undefined, 10, undefined, null, NaN]);
  assert.deepEqual(alignForPlot([1, 3, 5], [10, null, NaN], union), [undefined, 10, undefined, undefined, null]);
});

test("chooseSplits: train, then val/validation/eval, then any other split", () => {
  assert.deepEqual(chooseSplits(["test", "train", "validation"]), { train: "train", val: "validation", stack: "train" });
  assert.deepEqual(chooseSplits(["eval", "train", "val"]), { train: "train", val: "val", stack: "train" });
  assert.deepEqual(chooseSplits(["train", "val_coco"]), { train: "train", val: "val_coco", stack: "train" });
  assert.deepEqual(chooseSplits(["val"]), { train: null, val: "val", stack: "val" });
  assert.deepEqual(chooseSplits([]), { train: null, val: null, stack: null });
});

test("groupRuns groups by run, keeping names, splits and components", () => {
  const s = (run: string, name: string, split: string, components: string[]) => ({ run, name, split, components, source: "detloss" });
  const groups = groupRuns([
    s("a", "aux", "train", ["x"]), s("a", "loss", "train", ["box"]), s("a", "loss", "val", ["box", "cls"]),
    s("b", "loss", "train", ["box"]),
  ]);
  assert.equal(groups.length, 2);
  assert.deepEqual(groups[0]!.names, ["aux", "loss"]);
  assert.deepEqual(groups[0]!.splits.get("loss"), ["train", "val"]);
  assert.deepEqual(groups[0]!.components.get("loss"), ["box", "cls"]);
});

test("colours depend on the set of names, not their order, and differ while the palette lasts", () => {
  const a = assignColors(["box", "cls", "dfl", "l1"]);
  const b = assignColors(["l1", "dfl", "cls", "box"]);
  assert.deepEqual(Array.from(a.entries()).sort(), Array.from(b.entries()).sort());
  assert.equal(new Set(a.values()).size, 4);
  const many = assignColors(Array.from({ length: 10 }, (_, i) => `c${i}`));
  const firstSeven = ["c0", "c1", "c2", "c3", "c4", "c5", "c6"].map((c) => many.get(c));
  assert.equal(new Set(firstSeven).size, OKABE_ITO.length);
  assert.equal(many.size, 10);
});

test("formatNumber", () => {
  assert.equal(formatNumber(null), "—");
  assert.equal(formatNumber(NaN), "NaN");
  assert.equal(formatNumber(-Infinity), "-∞");
  assert.equal(formatNumber(0.123456), "0.1235");
  assert.equal(formatNumber(1234567), "1.235e+6");
});

test("lineColor darkens only light colours", () => {
  assert.equal(lineColor("#0072B2"), "#0072B2");
  assert.notEqual(lineColor("#F0E442"), "#F0E442");
});
