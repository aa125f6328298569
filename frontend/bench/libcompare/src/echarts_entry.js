import * as echarts from "echarts/core";
import { LineChart } from "echarts/charts";
import { GridComponent, TooltipComponent, DataZoomComponent, LegendComponent, AxisPointerComponent } from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";
import { COLORS, makeData } from "./data.js";
echarts.use([LineChart, GridComponent, TooltipComponent, DataZoomComponent, LegendComponent, AxisPointerComponent, CanvasRenderer]);
export function draw(n, host) {
  const d = makeData(n);
  const t0 = performance.now();
  const charts = [];
  const mk = (w, h) => { const el = document.createElement("div"); el.style.width = w + "px"; el.style.height = h + "px"; host.appendChild(el); return echarts.init(el, null, { renderer: "canvas" }); };
  const stack = mk(1100, 320);
  stack.setOption({
    animation: false, tooltip: { trigger: "axis" }, legend: {}, dataZoom: [{ type: "inside" }],
    xAxis: { type: "value" }, yAxis: { type: "value" },
    series: [...d.contribs.map((col, i) => ({ name: "c" + i, type: "line", stack: "s", areaStyle: {}, showSymbol: false, sampling: "lttb", color: COLORS[i], data: col.map((v, j) => [j, v]) })),
      { name: "total", type: "line", showSymbol: false, color: "#000", data: d.total.map((v, j) => [j, v]) }],
  });
  charts.push(stack);
  for (let c = 0; c < 10; c++) {
    const ch = mk(360, 200);
    ch.setOption({ animation: false, tooltip: { trigger: "axis" }, xAxis: { type: "value" }, yAxis: { type: "value", scale: true },
      series: [{ type: "line", showSymbol: false, color: COLORS[c], data: d.comps[c].map((v, j) => [j, v]) },
        { type: "line", color: COLORS[c], lineStyle: { type: "dashed" }, connectNulls: true, data: d.val[c].map((v, j) => [j, v]).filter((p) => p[1] !== null) }] });
    charts.push(ch);
  }
  echarts.connect(charts);
  return { charts, t0 };
}
export function hover(charts) {
  const el = charts[0].getDom().querySelector("canvas"); const r = el.getBoundingClientRect();
  const times = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    el.dispatchEvent(new MouseEvent("mousemove", { clientX: r.left + 60 + (i * 7) % (r.width - 120), clientY: r.top + 100, bubbles: true }));
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b); return times[100];
}
