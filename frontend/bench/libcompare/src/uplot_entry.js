import uPlot from "uplot";
import css from "uplot/dist/uPlot.min.css";
import { COLORS, makeData } from "./data.js";
export function draw(n, host) {
  const st = document.createElement("style"); st.textContent = css; document.head.appendChild(st);
  const d = makeData(n);
  const t0 = performance.now();
  const series = [{}];
  const bands = [];
  d.edges.forEach((e, i) => {
    series.push({ label: "c" + i, stroke: COLORS[i], fill: COLORS[i] + "99", points: { show: false } });
    if (i > 0) bands.push({ series: [i + 1, i], fill: COLORS[i] + "99" });
  });
  series[1].fillTo = 0;
  series.push({ label: "total", stroke: "#000", width: 1.5, points: { show: false } });
  const charts = [];
  const sync = { key: "b" };
  charts.push(new uPlot({ width: 1100, height: 320, series, bands, cursor: { sync }, scales: { x: { time: false } } }, [d.steps, ...d.edges, d.total], host));
  for (let c = 0; c < 10; c++) {
    charts.push(new uPlot({ width: 360, height: 200, cursor: { sync }, scales: { x: { time: false } },
      series: [{}, { stroke: COLORS[c], points: { show: false } }, { stroke: COLORS[c], dash: [6, 4], points: { show: true } }] },
      [d.steps, d.comps[c], d.val[c]], host));
  }
  return { charts, t0 };
}
export function hover(charts) {
  const over = charts[0].over; const r = over.getBoundingClientRect();
  const times = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    over.dispatchEvent(new MouseEvent("mousemove", { clientX: r.left + 1 + (i * 7) % (r.width - 2), clientY: r.top + 50, bubbles: true }));
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b); return times[100];
}
