// The Loss Breakdown tab. TensorBoard imports this module in the tab's iframe and calls
// render() with no arguments.
//
// Data flow: `runs` → run list; the selected run's splits → `breakdown` (downsampled to the
// chart width) → transform.ts (what-if weights, smoothing, shares, x axis) → charts.ts (uPlot).
// The view's state lives in `ViewState` and in TensorBoard's URL hash (state.ts).

import uplotCss from "uplot/dist/uPlot.min.css";

import {
  type Attribution,
  type Breakdown,
  type SeriesInfo,
  type Warning,
  ApiError,
  breakdownUrl,
  fetchAttribution,
  fetchBreakdown,
  fetchRuns,
  fetchSplit,
  fetchWarnings,
} from "./api";
import {
  COMPARE_HEIGHT,
  COMPONENT_HEIGHT,
  Chart,
  type ChartSpec,
  type MarkedRange,
  STACK_HEIGHT,
  type SeriesSpec,
  type Tooltip,
  type TooltipRow,
} from "./charts";
import { append, clear, h, injectStyle } from "./dom";
import { fileName } from "./exportfmt";
import { clippedName, nameElement, nameOption, own, shownName } from "./names";
import { formatDuration, formatNumber, formatPercent, formatSigned, formatStepLong, formatWallTime } from "./format";
import { OKABE_ITO, assignColors, lineColor, withAlpha } from "./palette";
import { type RunGroup, chooseSplits, defaultName, groupRuns, matchesFilter } from "./runs";
import { MAX_SMOOTHING, SMOOTHING_STEP } from "./smoothing";
import { type ViewState, readUrlState, writeUrlState } from "./state";
import appCss from "./style.css";
import { DARK, LIGHT, type Theme, isDark, watchTheme } from "./theme";
import {
  METRICS,
  type Metric,
  type StackModel,
  type XMode,
  compareModel,
  componentModel,
  loggedWeight,
  permute,
  sortOrder,
  stackModel,
  stepRange,
  xValues,
} from "./transform";

const PYTORCH_EXAMPLE = 'detloss.summary.write({"box": box, "cls": cls}, step=step, writer=writer)';
const TF_EXAMPLE = 'detloss.summary.write({"box": box, "cls": cls}, step=step)  # inside writer.as_default()';

/** The most points per series asked for when zoomed in. */
const MAX_POINTS = 20_000;

/** Auto-reload period (TensorBoard's own is 30 s). */
export const AUTO_RELOAD_MS = 30_000;

const METRIC_LABELS: Record<Metric, string> = {
  value: "value",
  contribution: "weight × value",
  weight: "weight",
};

const X_LABELS: Record<XMode, string> = { step: "Step", relative: "Relative", wall: "Wall" };

/** The selected run's data: one breakdown per split it logs for the selected loss name. */
interface Loaded {
  run: string;
  name: string;
  splits: Map<string, Breakdown>;
  /** The split the stacked chart shows, and the train / val pair of the component charts. */
  stackSplit: string;
  pair: string[];
  /** The `max_points` asked for. */
  points: number;
}

interface CompareLoaded {
  key: string;
  runs: Breakdown[];
}

let firstChartMarked = false;
/** Views whose first drawing was marked (Performance API: `detloss:<view>-drawn`). */
const marked = new Set<string>();

class App {
  private state: ViewState = readUrlState();
  private theme: Theme = isDark() ? DARK : LIGHT;

  // -- sidebar --
  private readonly filterInput = h("input", {
    id: "detloss-filter",
    class: "detloss-input detloss-filter",
    attrs: { type: "search", placeholder: "Filter runs (substring)", "aria-label": "Filter runs", autocomplete: "off" },
  });
  private readonly reloadButton = h(
    "button",
    { id: "detloss-reload", class: "detloss-button", attrs: { type: "button", "aria-label": "Reload runs and data" } },
    "Reload",
  );
  private readonly autoInput = h("input", { id: "detloss-auto", attrs: { type: "checkbox" } });
  private readonly autoRow = h(
    "label",
    { class: "detloss-check", attrs: { title: `Checks for new data every ${AUTO_RELOAD_MS / 1000} s` } },
    this.autoInput,
    `Auto-reload (${AUTO_RELOAD_MS / 1000} s)`,
  );
  private readonly updated = h("p", { id: "detloss-updated", class: "detloss-muted detloss-small" });
  private readonly runCount = h("p", { id: "detloss-run-count", class: "detloss-run-count" });
  private readonly runList = h("ul", { id: "detloss-run-list", class: "detloss-run-list", attrs: { "aria-label": "Runs" } });
  private readonly nameSelect = h("select", {
    id: "detloss-name",
    class: "detloss-input detloss-name-select",
    attrs: { "aria-label": "Loss name" },
  });
  private readonly nameRow = h(
    "label",
    { class: "detloss-name-row" },
    h("span", { class: "detloss-name-label" }, "Loss"),
    this.nameSelect,
  );

  // -- status --
  private readonly errorBox = h("div", { id: "detloss-error", class: "detloss-error", attrs: { role: "alert" } });
  private readonly statusBox = h("div", { id: "detloss-status", class: "detloss-status", attrs: { role: "status" } });
  private readonly emptyBox = h("div", { id: "detloss-empty", class: "detloss-empty" });

  // -- toolbar --
  private readonly smoothingRange = h("input", {
    id: "detloss-smoothing",
    attrs: {
      type: "range",
      min: "0",
      max: String(MAX_SMOOTHING),
      step: String(SMOOTHING_STEP),
      "aria-label": "Smoothing",
    },
  });
  private readonly smoothingNumber = h("input", {
    id: "detloss-smoothing-value",
    class: "detloss-input detloss-number",
    attrs: {
      type: "number",
      min: "0",
      max: String(MAX_SMOOTHING),
      step: String(SMOOTHING_STEP),
      "aria-label": "Smoothing value",
    },
  });
  private readonly xSelect = h("select", { id: "detloss-xaxis", class: "detloss-input", attrs: { "aria-label": "Horizontal axis" } });
  private readonly logInput = h("input", { id: "detloss-log", attrs: { type: "checkbox" } });
  private readonly shareInput = h("input", { id: "detloss-share", attrs: { type: "checkbox" } });
  private readonly resetZoomButton = h(
    "button",
    { id: "detloss-reset-zoom", class: "detloss-button", attrs: { type: "button" } },
    "Reset zoom",
  );
  private readonly exportBox = h("div", { id: "detloss-export", class: "detloss-export" });
  /** What the export links were made for (run, loss name, splits). */
  private exportKey = "";

  // -- view --
  private readonly title = h("h1", { id: "detloss-title", class: "detloss-title" });
  private readonly subtitle = h("p", { id: "detloss-subtitle", class: "detloss-subtitle" });
  private readonly warningsList = h("ul", { id: "detloss-warnings", class: "detloss-warnings" });
  private readonly warningsCaption = h("span", { id: "detloss-warnings-caption", class: "detloss-caption" });
  private readonly splitSelect = h("select", { id: "detloss-split", class: "detloss-input", attrs: { "aria-label": "Split of the stacked chart" } });
  private readonly stackCaption = h("span", { id: "detloss-stack-caption", class: "detloss-caption" });
  private readonly legend = h("div", { id: "detloss-legend", class: "detloss-legend", attrs: { role: "group", "aria-label": "Components (click to hide or show)" } });
  private readonly stackHost = h("div", { class: "detloss-chart" });
  private readonly stackBox = h("div", { id: "detloss-stack", class: "detloss-stack" }, this.legend, this.stackHost);
  private readonly explainButton = h(
    "button",
    { id: "detloss-explain", class: "detloss-button", attrs: { type: "button" } },
    "What moved the total? (visible range)",
  );
  private readonly attributionBox = h("div", { id: "detloss-attribution", class: "detloss-attribution", attrs: { "aria-live": "polite" } });
  private readonly whatIfRows = h("div", { id: "detloss-whatif-rows", class: "detloss-whatif-rows" });
  private readonly whatIfReset = h(
    "button",
    { id: "detloss-whatif-reset", class: "detloss-button", attrs: { type: "button" } },
    "Reset to logged weights",
  );
  private readonly componentsCaption = h("span", { id: "detloss-components-caption", class: "detloss-caption" });
  private readonly componentsBox = h("div", { id: "detloss-components", class: "detloss-components" });
  private readonly compareComponent = h("select", { id: "detloss-compare-component", class: "detloss-input", attrs: { "aria-label": "Component to compare" } });
  private readonly compareSplit = h("select", { id: "detloss-compare-split", class: "detloss-input", attrs: { "aria-label": "Split to compare" } });
  private readonly compareMetric = h("select", { id: "detloss-compare-metric", class: "detloss-input", attrs: { "aria-label": "Quantity to compare" } });
  private readonly compareHint = h("p", { id: "detloss-compare-hint", class: "detloss-hint" });
  private readonly compareLegend = h("div", { id: "detloss-compare-legend", class: "detloss-legend detloss-legend-static" });
  private readonly compareBox = h("div", { id: "detloss-compare", class: "detloss-chart" });
  private readonly view = h("div", { id: "detloss-view", class: "detloss-view" });

  private root: HTMLElement | null = null;
  private groups: RunGroup[] = [];
  private runsSignature = "";
  private runColors = new Map<string, string>();
  private componentColors = new Map<string, string>();
  private buttons = new Map<string, HTMLButtonElement>();
  private loaded: Loaded | null = null;
  private compare: CompareLoaded | null = null;
  private warnings: Warning[] | null = null;
  private warningsError: string | null = null;
  private attribution: Attribution | null = null;
  /**
   * Whether the server has the diagnostics routes: assumed until one answers 404 (then the
   * warnings panel shows its empty state and the attribution button is disabled).
   */
  private routes = { warnings: true, attribution: true };
  private model: StackModel | null = null;
  private stackChart: Chart | null = null;
  private componentCharts = new Map<string, Chart>();
  private compareChart: Chart | null = null;
  private focusRange: { chart: string; range: MarkedRange } | null = null;
  /** Bumped by every data load: an answer for an older load is dropped. */
  private generation = 0;
  private compareGeneration = 0;
  private frame = 0;
  private dirty = new Set<"stack" | "components" | "compare" | "legend" | "whatif" | "warnings">();
  private resizeFrame = 0;
  private urlTimer = 0;
  private refineTimer = 0;
  private autoTimer = 0;
  private checking = false;

  constructor(private readonly host: HTMLElement) {}

  start(): void {
    clear(this.host);
    const sidebar = h(
      "aside",
      { id: "detloss-sidebar", class: "detloss-sidebar", attrs: { "aria-label": "Runs" } },
      h("div", { class: "detloss-sidebar-head" }, h("h2", {}, "Runs"), this.reloadButton),
      this.autoRow,
      this.updated,
      this.filterInput,
      this.runCount,
      h("p", { class: "detloss-muted detloss-small" }, "Click a run to show it; tick runs to compare them."),
      this.runList,
    );
    const toolbar = h(
      "div",
      { id: "detloss-toolbar", class: "detloss-toolbar", attrs: { role: "toolbar", "aria-label": "Chart settings" } },
      h(
        "label",
        { class: "detloss-field", attrs: { title: "TensorBoard's smoothing: a debiased exponential moving average" } },
        "Smoothing",
        this.smoothingRange,
        this.smoothingNumber,
      ),
      h("label", { class: "detloss-field" }, "X axis", this.xSelect),
      h("label", { class: "detloss-check" }, this.shareInput, "100% stacked"),
      h("label", { class: "detloss-check" }, this.logInput, "Log scale (train vs val, compare)"),
      this.resetZoomButton,
      this.exportBox,
    );
    const main = h(
      "main",
      { id: "detloss-main", class: "detloss-main" },
      this.errorBox,
      this.statusBox,
      this.emptyBox,
      this.view,
    );
    append(
      this.view,
      h("header", { class: "detloss-view-head" }, this.title, this.subtitle),
      toolbar,
      h(
        "section",
        { id: "detloss-warnings-section", class: "detloss-section", attrs: { "aria-labelledby": "detloss-warnings-heading" } },
        h("h2", { id: "detloss-warnings-heading" }, "Warnings ", this.warningsCaption),
        this.warningsList,
      ),
      h(
        "section",
        { id: "detloss-stack-section", class: "detloss-section", attrs: { "aria-labelledby": "detloss-stack-heading" } },
        h(
          "div",
          { class: "detloss-section-head" },
          h("h2", { id: "detloss-stack-heading" }, "Stacked weighted contributions ", this.stackCaption),
          h("label", { class: "detloss-field" }, "Split", this.splitSelect),
          this.chartExportButtons("stack"),
        ),
        h(
          "p",
          { class: "detloss-hint" },
          "Each band is one component's weight × value; the line is the total. A total off the top of the stack " +
            "means the logged total is not the weighted sum. Drag to zoom, double-click to reset; click a component to hide it.",
        ),
        this.stackBox,
        h("div", { class: "detloss-row" }, this.explainButton),
        this.attributionBox,
      ),
      h(
        "section",
        { id: "detloss-components-section", class: "detloss-section", attrs: { "aria-labelledby": "detloss-components-heading" } },
        h("h2", { id: "detloss-components-heading" }, "Train vs val per component ", this.componentsCaption),
        h(
          "p",
          { class: "detloss-hint" },
          "Unweighted values, each chart on its own scale. Train solid, validation dashed with a marker at each logged step; " +
            "the shaded area is the gap between them.",
        ),
        this.componentsBox,
      ),
      h(
        "section",
        { id: "detloss-whatif-section", class: "detloss-section", attrs: { "aria-labelledby": "detloss-whatif-heading" } },
        h("div", { class: "detloss-section-head" }, h("h2", { id: "detloss-whatif-heading" }, "What-if weights"), this.whatIfReset),
        h(
          "p",
          { class: "detloss-hint", id: "detloss-whatif-note" },
          "Re-sums the logged component values under other weights and redraws the stack. " +
            "This is a re-weighting of the logged values, not a prediction of another training run: " +
            "with other weights the model would have learned differently.",
        ),
        this.whatIfRows,
      ),
      h(
        "section",
        { id: "detloss-compare-section", class: "detloss-section", attrs: { "aria-labelledby": "detloss-compare-heading" } },
        h(
          "div",
          { class: "detloss-section-head" },
          h("h2", { id: "detloss-compare-heading" }, "Compare runs"),
          h("label", { class: "detloss-field" }, "Component", this.compareComponent),
          h("label", { class: "detloss-field" }, "Split", this.compareSplit),
          h("label", { class: "detloss-field" }, "Show", this.compareMetric),
          this.chartExportButtons("compare"),
        ),
        this.compareHint,
        this.compareLegend,
        this.compareBox,
      ),
    );
    this.root = h("div", { id: "detloss-app", class: "detloss" }, sidebar, main);
    append(this.host, this.root);
    this.applyTheme();
    this.errorBox.hidden = true;
    this.emptyBox.hidden = true;
    this.view.hidden = true;

    for (const m of ["step", "relative", "wall"] as XMode[]) this.xSelect.add(new Option(X_LABELS[m], m));
    for (const m of METRICS) this.compareMetric.add(new Option(METRIC_LABELS[m], m));
    this.syncControls();
    this.bindControls();

    watchTheme(() => {
      this.theme = isDark() ? DARK : LIGHT;
      this.applyTheme();
      this.schedule("stack", "components", "compare", "legend");
    });
    if (typeof ResizeObserver !== "undefined") new ResizeObserver(() => this.scheduleResize()).observe(main);
    else window.addEventListener("resize", () => this.scheduleResize());
    this.exposeDebugHook();
    void this.loadRuns();
    this.setAuto(this.state.auto);
  }

  private applyTheme(): void {
    this.root?.classList.toggle("detloss-dark", this.theme.dark);
    document.documentElement.style.colorScheme = this.theme.dark ? "dark" : "light";
    document.body.style.background = this.theme.dark ? "#303030" : "#ffffff";
  }

  /** Sets every control from the state (after reading the URL). */
  private syncControls(): void {
    const s = this.state;
    this.filterInput.value = s.filter;
    this.smoothingRange.value = String(s.smoothing);
    this.smoothingNumber.value = String(s.smoothing);
    this.xSelect.value = s.x;
    this.logInput.checked = s.log;
    this.shareInput.checked = s.share;
    this.autoInput.checked = s.auto;
    this.compareMetric.value = s.metric;
  }

  private bindControls(): void {
    this.filterInput.addEventListener("input", () => {
      this.state.filter = this.filterInput.value;
      this.applyFilter();
      this.saveUrl();
    });
    this.reloadButton.addEventListener("click", () => void this.loadRuns());
    this.autoInput.addEventListener("change", () => this.setAuto(this.autoInput.checked));
    this.nameSelect.addEventListener("change", () => {
      if (this.state.run) this.select(this.state.run, this.nameSelect.value);
    });
    const setSmoothing = (v: number, from: HTMLInputElement) => {
      if (!Number.isFinite(v)) return;
      const s = Math.max(0, Math.min(MAX_SMOOTHING, v));
      this.state.smoothing = s;
      if (from !== this.smoothingRange) this.smoothingRange.value = String(s);
      if (from !== this.smoothingNumber) this.smoothingNumber.value = String(s);
      this.schedule("stack", "components", "compare");
      this.saveUrl();
    };
    this.smoothingRange.addEventListener("input", () => setSmoothing(Number(this.smoothingRange.value), this.smoothingRange));
    this.smoothingNumber.addEventListener("change", () => setSmoothing(Number(this.smoothingNumber.value), this.smoothingNumber));
    this.xSelect.addEventListener("change", () => {
      this.state.x = this.xSelect.value as XMode;
      this.state.zoom = null; // the old range is in other units
      this.focusRange = null;
      this.schedule("stack", "components", "compare", "warnings");
      this.saveUrl();
    });
    this.logInput.addEventListener("change", () => {
      this.state.log = this.logInput.checked;
      this.schedule("components", "compare");
      this.saveUrl();
    });
    this.shareInput.addEventListener("change", () => {
      this.state.share = this.shareInput.checked;
      this.schedule("stack");
      this.saveUrl();
    });
    this.resetZoomButton.addEventListener("click", () => this.setZoom(null, null));
    this.splitSelect.addEventListener("change", () => {
      this.state.split = this.splitSelect.value;
      this.attribution = null;
      if (this.state.run && this.state.name) void this.loadData();
      this.saveUrl();
    });
    this.explainButton.addEventListener("click", () => void this.explain());
    this.whatIfReset.addEventListener("click", () => {
      this.state.weights = {};
      this.schedule("stack", "whatif");
      this.saveUrl();
    });
    this.compareComponent.addEventListener("change", () => {
      this.state.component = this.compareComponent.value;
      this.schedule("compare");
      this.saveUrl();
    });
    this.compareSplit.addEventListener("change", () => {
      this.state.compareSplit = this.compareSplit.value;
      void this.loadCompare();
      this.saveUrl();
    });
    this.compareMetric.addEventListener("change", () => {
      this.state.metric = this.compareMetric.value as Metric;
      this.schedule("compare");
      this.saveUrl();
    });
  }

  private chartExportButtons(which: "stack" | "compare" | string): HTMLElement {
    const png = h("button", { class: "detloss-button detloss-small-button detloss-png", attrs: { type: "button", "data-chart": which } }, "PNG");
    const svg = h("button", { class: "detloss-button detloss-small-button detloss-svg", attrs: { type: "button", "data-chart": which } }, "SVG");
    png.addEventListener("click", () => void this.exportChart(which, "png"));
    svg.addEventListener("click", () => void this.exportChart(which, "svg"));
    return h("span", { class: "detloss-chart-export", attrs: { role: "group", "aria-label": "Download chart" } }, png, svg);
  }

  private chartById(id: string): Chart | null {
    if (id === "stack") return this.stackChart;
    if (id === "compare") return this.compareChart;
    if (id.startsWith("component:")) return this.componentCharts.get(id.slice("component:".length)) ?? null;
    return null;
  }

  private async exportChart(id: string, format: "png" | "svg"): Promise<void> {
    const chart = this.chartById(id);
    if (!chart) return;
    const title = this.chartTitle(id);
    const name = fileName([this.state.run ?? "", this.state.name ?? "", id.replace(":", "-")], format);
    try {
      if (format === "png") downloadBlob(await chart.png(), name);
      else downloadBlob(new Blob([chart.svg(title)], { type: "image/svg+xml" }), name);
    } catch (e) {
      this.showError(`Could not export the chart: ${messageOf(e)}`);
    }
  }

  private chartTitle(id: string): string {
    const l = this.loaded;
    if (!l) return id;
    if (id === "stack") return `${l.run} · ${l.name} · ${l.stackSplit} · weighted contributions${this.state.share ? " (share)" : ""}`;
    if (id === "compare") return `${this.state.component ?? ""} · ${METRIC_LABELS[this.state.metric]} · ${this.compareSplit.value}`;
    return `${l.run} · ${id.slice("component:".length)} · ${l.pair.join(" vs ")}`;
  }

  // -- status -----------------------------------------------------------------------------

  private showError(message: string | null): void {
    this.errorBox.textContent = message ?? "";
    this.errorBox.hidden = message === null;
  }

  private showStatus(message: string): void {
    this.statusBox.textContent = message;
  }

  private saveUrl(): void {
    if (this.urlTimer) clearTimeout(this.urlTimer);
    this.urlTimer = window.setTimeout(() => {
      this.urlTimer = 0;
      writeUrlState(this.state);
    }, 100);
  }

  // -- runs -------------------------------------------------------------------------------

  private async loadRuns(): Promise<void> {
    this.showStatus("Loading runs…");
    this.showError(null);
    let series: SeriesInfo[];
    try {
      series = await fetchRuns();
    } catch (e) {
      this.showStatus("");
      this.showError(`Could not load the runs: ${messageOf(e)}`);
      return;
    }
    this.runsSignature = JSON.stringify(series);
    this.groups = groupRuns(series);
    this.runColors = assignColors(this.groups.map((g) => g.run));
    this.showStatus("");
    this.markUpdated();
    this.renderRunList();
    if (this.groups.length === 0) {
      this.loaded = null;
      this.hideView();
      this.showEmpty();
      return;
    }
    this.emptyBox.hidden = true;
    const wanted = this.state.run;
    const group =
      (wanted !== null ? this.groups.find((g) => g.run === wanted) : undefined) ??
      this.groups.find((g) => matchesFilter(g.run, this.state.filter)) ??
      this.groups[0]!;
    const name = this.state.name !== null && group.names.includes(this.state.name) ? this.state.name : defaultName(group);
    this.select(group.run, name, true);
  }

  private markUpdated(): void {
    const d = new Date();
    const p = (n: number) => String(n).padStart(2, "0");
    this.updated.textContent = `Updated ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  }

  private showEmpty(): void {
    clear(this.emptyBox);
    append(
      this.emptyBox,
      h("h1", { class: "detloss-title" }, "No loss breakdown logged yet"),
      h(
        "p",
        {},
        "Log the parts of your loss each step with ",
        h("code", {}, "import tensorboard_plugin_detloss as detloss"),
        ", then:",
      ),
      h("pre", { attrs: { "aria-label": "PyTorch example" } }, h("code", { id: "detloss-example-pytorch" }, `# PyTorch (SummaryWriter)\n${PYTORCH_EXAMPLE}`)),
      h("pre", { attrs: { "aria-label": "TensorFlow example" } }, h("code", { id: "detloss-example-tf" }, `# TensorFlow\n${TF_EXAMPLE}`)),
      h(
        "p",
        { id: "detloss-empty-import" },
        "Loss scalars that YOLO, Detectron2, MMDetection, the TF Object Detection API or Keras already log to TensorBoard show up here without any change. With TensorBoard logging off, Ultralytics keeps only ",
        h("code", {}, "results.csv"),
        " and MMDetection only ",
        h("code", {}, "scalars.json"),
        ": run ",
        h("code", {}, "detloss import LOGDIR"),
        " to write them as TensorBoard scalars, then reload.",
      ),
    );
    this.emptyBox.hidden = false;
  }

  private renderRunList(): void {
    clear(this.runList);
    this.buttons.clear();
    for (const g of this.groups) {
      const splits = Array.from(new Set(g.names.flatMap((n) => g.splits.get(n) ?? [])));
      const meta = [g.names.length > 1 ? `${g.names.length} losses · ` : "", ...joined(splits.map((x) => nameElement(x)), ", ")];
      const swatch = h("span", { class: "detloss-swatch detloss-run-swatch", attrs: { "aria-hidden": "true" } });
      swatch.style.backgroundColor = lineColor(this.runColors.get(g.run) ?? "#888888");
      const button = h(
        "button",
        { class: "detloss-run", attrs: { type: "button", "data-run": g.run, "aria-pressed": "false", title: shownName(g.run) } },
        h("span", { class: "detloss-run-name" }, swatch, nameElement(g.run)),
        h("span", { class: "detloss-run-meta" }, ...meta),
      );
      button.addEventListener("click", () => {
        const name = this.state.run === g.run && this.state.name !== null ? this.state.name : defaultName(g);
        this.select(g.run, name);
      });
      const check = h("input", {
        class: "detloss-compare-toggle",
        attrs: { type: "checkbox", "data-run": g.run, "aria-label": `Compare ${g.run}`, title: "Compare on one chart" },
      });
      check.checked = this.state.compare.includes(g.run);
      check.addEventListener("change", () => {
        const set = new Set(this.state.compare);
        if (check.checked) set.add(g.run);
        else set.delete(g.run);
        // Keep the run list's order.
        this.state.compare = this.groups.map((x) => x.run).filter((r) => set.has(r));
        void this.loadCompare();
        this.saveUrl();
      });
      this.buttons.set(g.run, button);
      append(this.runList, h("li", { class: "detloss-run-item", attrs: { "data-run": g.run } }, check, button));
    }
    // Compared runs that no longer exist are dropped.
    const known = new Set(this.groups.map((g) => g.run));
    this.state.compare = this.state.compare.filter((r) => known.has(r));
    this.applyFilter();
  }

  private applyFilter(): void {
    const filter = this.state.filter;
    let shown = 0;
    for (const li of Array.from(this.runList.children) as HTMLElement[]) {
      const visible = matchesFilter(li.getAttribute("data-run") ?? "", filter);
      li.hidden = !visible;
      if (visible) shown++;
    }
    const total = this.groups.length;
    this.runCount.textContent =
      total === 0 ? "" : shown === total ? `${total} run${total === 1 ? "" : "s"}` : `${shown} of ${total} runs`;
  }

  // -- selection and data -----------------------------------------------------------------

  private select(run: string, name: string, keepView = false): void {
    const group = this.groups.find((g) => g.run === run);
    if (!group) return;
    const changed = this.state.run !== run || this.state.name !== name;
    // Clicking the run already shown keeps it (the Reload button fetches again).
    if (!changed && !keepView && this.loaded?.run === run && this.loaded.name === name) return;
    this.state.run = run;
    this.state.name = name;
    if (changed && !keepView) {
      this.state.split = null;
      this.state.weights = {};
      this.state.zoom = null;
      this.attribution = null;
      this.focusRange = null;
    }
    for (const [r, b] of this.buttons) b.setAttribute("aria-pressed", r === run ? "true" : "false");
    if (group.names.length > 1) {
      clear(this.nameSelect);
      for (const n of group.names) this.nameSelect.add(nameOption(n, n === name));
      this.nameSelect.value = name;
      const li = this.buttons.get(run)?.parentElement;
      if (li && this.nameRow.parentElement !== li) li.appendChild(this.nameRow);
    } else {
      this.nameRow.remove();
    }
    this.saveUrl();
    // The selected run first: the comparison (up to every run) would compete with it for the
    // server, which reads runs one after another.
    void this.loadData().finally(() => void this.loadCompare());
  }

  /** Points to ask the server for: about one per pixel of the widest chart. */
  private basePoints(): number {
    const w = this.stackHost.clientWidth || this.view.clientWidth || 1000;
    return Math.max(200, Math.min(4000, Math.round(w)));
  }

  /**
   * Points per series to ask for: about one per pixel of the zoomed range (the server has no
   * range parameter, so a zoom to 10% asks for 10× the points of the whole series), capped.
   */
  private maxPoints(): number {
    const base = this.basePoints();
    const z = this.state.zoom;
    const b = this.stackBreakdown();
    if (!z || !b || b.steps.length < 2) return base;
    const x = xValues(b.steps, b.wallTimes, this.state.x);
    const frac = (z[1] - z[0]) / (x[x.length - 1]! - x[0]!);
    if (!(frac > 0 && frac < 1)) return base;
    return Math.min(MAX_POINTS, Math.ceil(base / frac));
  }

  /** After a zoom: fetches the series again at a finer resolution if the drawn one is too coarse. */
  private scheduleRefine(): void {
    if (this.refineTimer) clearTimeout(this.refineTimer);
    this.refineTimer = window.setTimeout(() => {
      this.refineTimer = 0;
      const l = this.loaded;
      if (!l) return;
      const coarse = Array.from(l.splits.values()).some((b) => b.numSteps > b.steps.length);
      if (coarse && this.maxPoints() > l.points * 1.5) void this.loadData(false);
    }, 300);
  }

  private async loadData(refreshWarnings = true): Promise<void> {
    const run = this.state.run;
    const name = this.state.name;
    const group = this.groups.find((g) => g.run === run);
    if (!group || run === null || name === null) return;
    const generation = ++this.generation;
    const splits = group.splits.get(name) ?? [];
    const choice = chooseSplits(splits);
    const stackSplit = this.state.split !== null && splits.includes(this.state.split) ? this.state.split : choice.stack;
    this.showError(null);
    if (stackSplit === null) {
      this.hideView();
      this.showError("This run has no split for this loss.");
      return;
    }
    const pair = [choice.train ?? stackSplit];
    if (choice.val !== null && choice.val !== pair[0]) pair.push(choice.val);
    const wanted = Array.from(new Set([stackSplit, ...pair]));
    this.showStatus("Loading…");
    const maxPoints = this.maxPoints();
    let answers: Breakdown[];
    try {
      answers = await Promise.all(wanted.map((s) => fetchBreakdown(run, s, name, maxPoints)));
    } catch (e) {
      if (generation !== this.generation) return;
      this.showStatus("");
      this.hideView();
      this.showError(`Could not load ${clippedName(run)}: ${shownName(messageOf(e))}`);
      return;
    }
    if (generation !== this.generation) return;
    if (!marked.has("data")) {
      marked.add("data");
      performance.mark("detloss:data-loaded");
    }
    this.showStatus("");
    this.loaded = { run, name, splits: new Map(answers.map((b) => [b.split, b])), stackSplit, pair, points: maxPoints };
    clear(this.splitSelect);
    for (const s of splits) this.splitSelect.add(nameOption(s, s === stackSplit));
    this.splitSelect.value = stackSplit;
    this.view.hidden = false;
    clear(this.title);
    append(this.title, nameElement(run));
    clear(this.subtitle);
    append(this.subtitle, "loss: ", nameElement(name), " · splits: ", ...joined(splits.map((x) => nameElement(x)), ", "));
    this.renderExportLinks();
    this.schedule("stack", "components", "legend", "whatif", "warnings", "compare");
    // Diagnostics read every step on the server: asked for once the charts are on screen.
    if (this.routes.warnings && refreshWarnings) requestAnimationFrame(() => void this.loadWarnings(generation));
    if (this.state.zoom) this.scheduleRefine();
  }

  private async loadWarnings(generation: number): Promise<void> {
    const l = this.loaded;
    if (!l) return;
    this.warnings = null;
    this.warningsError = null;
    try {
      const list = await fetchWarnings(l.run, l.name);
      if (generation !== this.generation) return;
      this.warnings = list;
    } catch (e) {
      if (generation !== this.generation) return;
      // The run is in the run list: a 404 means this server has no warnings route.
      if (e instanceof ApiError && e.status === 404) {
        this.routes = { warnings: false, attribution: false };
        this.updateExplainButton();
      } else this.warningsError = shownName(messageOf(e));
    }
    this.schedule("warnings");
  }

  /** The splits the comparison can show: those of the compared runs (else the selected run's). */
  private compareSplits(): string[] {
    const runs = this.state.compare.length ? this.state.compare : this.state.run ? [this.state.run] : [];
    const name = this.state.name ?? "loss";
    const out: string[] = [];
    for (const r of runs) {
      const g = this.groups.find((x) => x.run === r);
      const n = g && (g.names.includes(name) ? name : defaultName(g));
      for (const s of (n && g?.splits.get(n)) || []) if (!out.includes(s)) out.push(s);
    }
    return out;
  }

  private async loadCompare(): Promise<void> {
    const runs = this.state.compare;
    const splits = this.compareSplits();
    clear(this.compareSplit);
    const split =
      this.state.compareSplit !== null && splits.includes(this.state.compareSplit)
        ? this.state.compareSplit
        : (chooseSplits(splits).train ?? splits[0] ?? "train");
    for (const s of splits) this.compareSplit.add(nameOption(s, s === split));
    this.compareSplit.value = split;
    if (runs.length === 0) {
      this.compare = null;
      this.schedule("compare");
      return;
    }
    const name = this.state.name ?? undefined;
    const key = JSON.stringify([runs, split, name]);
    const generation = ++this.compareGeneration;
    try {
      const answer = await fetchSplit(runs, split, name, this.maxPoints());
      if (generation !== this.compareGeneration) return;
      this.compare = { key, runs: runs.map((r) => answer.get(r)).filter((b): b is Breakdown => b !== undefined) };
    } catch (e) {
      if (generation !== this.compareGeneration) return;
      this.compare = { key, runs: [] };
      this.compareHint.textContent = `Could not load the runs to compare: ${shownName(messageOf(e))}`;
      return;
    }
    this.schedule("compare");
  }

  private renderExportLinks(): void {
    const l = this.loaded;
    const splits = l ? Array.from(new Set([l.stackSplit, ...l.pair])) : [];
    // Unchanged links are left in place: a reload or a refine redraws the charts, and a link
    // replaced under the pointer would swallow the click that was about to download it.
    const key = l ? JSON.stringify([l.run, l.name, splits]) : "";
    if (key === this.exportKey && key !== "") return;
    this.exportKey = key;
    clear(this.exportBox);
    if (!l) return;
    const links: HTMLElement[] = [];
    for (const split of splits) {
      for (const format of ["csv", "json"] as const) {
        const a = h(
          "a",
          {
            class: "detloss-download",
            attrs: {
              href: breakdownUrl(l.run, split, l.name, { format }),
              download: fileName([l.run, l.name, split], format),
              "data-format": format,
              "data-split": split,
              title: `Every logged step of ${clippedName(split)} (not downsampled, not smoothed, logged weights)`,
            },
          },
          `${format.toUpperCase()} (`,
          nameElement(split),
          ")",
        );
        links.push(a);
      }
    }
    append(this.exportBox, h("span", { class: "detloss-muted" }, "Download full data:"), ...links);
  }

  // -- drawing ----------------------------------------------------------------------------

  private schedule(...parts: ("stack" | "components" | "compare" | "legend" | "whatif" | "warnings")[]): void {
    for (const p of parts) this.dirty.add(p);
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      if (!marked.has("frame")) {
        marked.add("frame");
        performance.mark("detloss:first-frame");
      }
      const dirty = new Set(this.dirty);
      this.dirty.clear();
      try {
        if (dirty.has("legend")) this.renderLegend();
        if (dirty.has("whatif")) this.renderWhatIf();
        if (dirty.has("stack")) this.drawStack();
        if (dirty.has("components")) this.drawComponents();
        if (dirty.has("compare")) this.drawCompare();
        for (const [id, chart] of [["stack", this.stackChart], ["components", this.componentCharts.size ? 1 : null], ["compare", this.compareChart]] as const) {
          if (chart && !marked.has(id)) {
            marked.add(id);
            performance.mark(`detloss:${id}-drawn`);
          }
        }
        if (dirty.has("warnings") || dirty.has("stack") || dirty.has("components")) this.renderWarnings();
      } catch (e) {
        this.showError(`Could not draw: ${messageOf(e)}`);
      }
    });
  }

  private hideView(): void {
    this.stackChart?.destroy();
    this.stackChart = null;
    for (const c of this.componentCharts.values()) c.destroy();
    this.componentCharts.clear();
    clear(this.componentsBox);
    this.view.hidden = true;
  }

  private stackBreakdown(): Breakdown | null {
    const l = this.loaded;
    return l ? (l.splits.get(l.stackSplit) ?? null) : null;
  }

  /** All components of the loaded splits, in order of first appearance. */
  private components(): string[] {
    const out: string[] = [];
    for (const b of this.loaded?.splits.values() ?? []) for (const c of b.components) if (!out.includes(c)) out.push(c);
    return out;
  }

  private renderLegend(): void {
    clear(this.legend);
    const comps = this.components();
    this.componentColors = assignColors(comps);
    const hidden = new Set(this.state.hidden);
    for (const c of comps) {
      const sw = h("span", { class: "detloss-swatch", attrs: { "aria-hidden": "true" } });
      sw.style.backgroundColor = this.componentColors.get(c) ?? "#888888";
      const b = h(
        "button",
        {
          class: "detloss-legend-item",
          attrs: { type: "button", "data-component": c, "aria-pressed": hidden.has(c) ? "false" : "true", title: `Hide or show ${c}` },
        },
        sw,
        nameElement(c),
      );
      b.addEventListener("click", () => {
        const set = new Set(this.state.hidden);
        if (set.has(c)) set.delete(c);
        else set.add(c);
        this.state.hidden = comps.filter((x) => set.has(x)).concat(Array.from(set).filter((x) => !comps.includes(x)));
        this.schedule("stack", "components", "legend");
        this.saveUrl();
      });
      this.legend.appendChild(b);
    }
  }

  private drawStack(): void {
    const b = this.stackBreakdown();
    this.stackChart?.destroy();
    this.stackChart = null;
    if (!b) return;
    const s = this.state;
    const model = stackModel(b, {
      overrides: s.weights,
      hidden: new Set(s.hidden),
      share: s.share,
      smoothing: s.smoothing,
    });
    this.model = model;
    const xRaw = xValues(b.steps, b.wallTimes, s.x);
    const order = sortOrder(xRaw);
    const x = permute(xRaw, order);
    const P = <T>(col: readonly T[]) => permute(col, order);
    const twoSided = new Set(model.shown.filter((c) => model.layers.filter((l) => l.component === c).length > 1));
    const series: SeriesSpec[] = [];
    const bands: { upper: number; lower: number; fill: string; dir?: 1 | -1 }[] = [];
    model.layers.forEach((layer, i) => {
      const color = this.componentColors.get(layer.component) ?? "#888888";
      const fill = withAlpha(color, layer.sign === 1 ? 0.6 : 0.35);
      const spec: SeriesSpec = {
        label: layer.sign === -1 && twoSided.has(layer.component) ? `${layer.component} (negative part)` : layer.component,
        color: lineColor(color),
        fill,
        data: P(layer.edge).map((v) => (v === null ? null : Number.isFinite(v) ? v : null)),
      };
      if (layer.below < 0) spec.fillTo0 = true;
      else bands.push({ upper: i, lower: layer.below, fill, dir: layer.sign === 1 ? -1 : 1 });
      series.push(spec);
    });
    model.lines.forEach((line) => {
      const spec: SeriesSpec = {
        label: line.label,
        color: this.theme.total,
        width: line.dashed ? 1.25 : 1.75,
        data: P(line.column).map((v) => (v === null ? undefined : Number.isFinite(v) ? v : null)),
      };
      if (line.dashed) spec.dash = [5, 4];
      series.push(spec);
    });
    const drawnTop = P(model.top);
    const contribsShown: Record<string, (number | null)[]> = Object.create(null);
    for (const c of model.shown) contribsShown[c] = P(model.contribs[c] ?? []);
    const steps = P(b.steps);
    const walls = P(b.wallTimes);
    const tooltip = (idx: number): Tooltip | null => {
      const i = order ? order[idx]! : idx;
      const sum = model.sum[i] ?? null;
      const rows: TooltipRow[] = model.shown.map((c) => {
        const v = model.values[c]?.[i] ?? null;
        const w = model.weights[c]?.[i] ?? null;
        const ct = model.contribs[c]?.[i] ?? null;
        const share = ct !== null && sum !== null && sum !== 0 ? ct / sum : null;
        return {
          color: this.componentColors.get(c) ?? null,
          label: c,
          cells: [formatNumber(v), formatNumber(w), formatNumber(ct), formatPercent(share)],
        };
      });
      rows.push({ color: null, label: model.whatIf ? "total, re-weighted" : "Σ weight × value", cells: ["", "", formatNumber(sum), "100%"], strong: true });
      if (model.logged) rows.push({ color: null, label: "total (logged)", cells: ["", "", formatNumber(model.logged[i]), ""] });
      if (s.smoothing > 0 || s.share) {
        rows.push({ color: null, label: s.share ? "top of stack (share)" : "top of stack (smoothed)", cells: ["", "", formatNumber(drawnTop[idx]), ""] });
      }
      return {
        title: this.pointTitle(steps[idx]!, walls[idx]!, b),
        head: ["value", "weight", "weight × value", "share"],
        rows,
      };
    };
    const spec: ChartSpec = {
      id: "stack",
      title: `${b.run} ${b.split}: stacked weighted contributions`,
      yLabel: s.share ? "share of the total" : "weight × value",
      xMode: s.x,
      log: false,
      height: STACK_HEIGHT,
      x,
      series,
      bands,
      yRange: "zero",
      tooltip,
    };
    this.stackChart = this.makeChart(this.stackHost, spec);
    const lastTop = [...drawnTop].reverse().find((v) => v !== null && v !== undefined);
    this.stackBox.setAttribute("data-top-of-stack", lastTop === undefined || lastTop === null ? "" : String(lastTop));
    clear(this.stackCaption);
    append(
      this.stackCaption,
      "(",
      nameElement(b.split),
      `, ${formatStepLong(b.numSteps)} steps${b.numSteps > b.steps.length ? `, ${formatStepLong(b.steps.length)} drawn` : ""}${
        model.whatIf ? ", what-if weights" : ""
      })`,
    );
    this.updateExplainButton();
    this.placeRanges();
  }

  private pointTitle(step: number, wall: number, b: Breakdown): string {
    const t0 = b.wallTimes.find((t) => Number.isFinite(t));
    const rel = t0 !== undefined && Number.isFinite(wall) ? ` · ${formatDuration(wall - t0)}` : "";
    return `step ${formatStepLong(step)}${Number.isFinite(wall) ? ` · ${formatWallTime(wall)}` : ""}${rel}`;
  }

  private makeChart(host: HTMLElement, spec: ChartSpec): Chart {
    const chart = new Chart(host, spec, widthOf(host), this.theme, this.state.zoom);
    chart.onZoom = (range) => this.setZoom(range, chart);
    if (!firstChartMarked) {
      firstChartMarked = true;
      performance.mark("detloss:first-chart");
    }
    return chart;
  }

  private setZoom(range: [number, number] | null, from: Chart | null): void {
    this.state.zoom = range;
    for (const c of this.allCharts()) if (c !== from) c.setZoom(range);
    if (from && range === null) from.setZoom(null);
    this.saveUrl();
    this.scheduleRefine();
  }

  private allCharts(): Chart[] {
    const out: Chart[] = [];
    if (this.stackChart) out.push(this.stackChart);
    out.push(...this.componentCharts.values());
    if (this.compareChart) out.push(this.compareChart);
    return out;
  }

  private drawComponents(): void {
    for (const c of this.componentCharts.values()) c.destroy();
    this.componentCharts.clear();
    clear(this.componentsBox);
    const l = this.loaded;
    if (!l) return;
    const s = this.state;
    const pair = l.pair.map((p) => l.splits.get(p)).filter((b): b is Breakdown => b !== undefined);
    clear(this.componentsCaption);
    append(this.componentsCaption, "(", ...joined(l.pair.map((p) => nameElement(p)), " vs "), ")");
    const hidden = new Set(s.hidden);
    const cells: { c: string; host: HTMLElement; present: Breakdown[] }[] = [];
    for (const c of this.components()) {
      const present = pair.filter((b) => b.components.includes(c));
      const missing = pair.filter((b) => !b.components.includes(c)).map((b) => b.split);
      const host = h("div", { class: "detloss-chart" });
      const swatch = h("span", { class: "detloss-swatch", attrs: { "aria-hidden": "true" } });
      swatch.style.backgroundColor = this.componentColors.get(c) ?? "#888888";
      const cell = h(
        "div",
        { class: "detloss-component-chart", attrs: { "data-component": c } },
        h(
          "div",
          { class: "detloss-component-head" },
          h(
            "h3",
            { class: "detloss-component-title" },
            swatch,
            nameElement(c, "detloss-component-name"),
            missing.length ? h("span", { class: "detloss-caption" }, " (not in ", ...joined(missing.map((m) => nameElement(m)), ", "), ")") : null,
          ),
          this.chartExportButtons(`component:${c}`),
        ),
        this.componentKey(present),
        host,
      );
      cell.hidden = hidden.has(c);
      this.componentsBox.appendChild(cell);
      if (!cell.hidden && present.length) cells.push({ c, host, present });
    }
    for (const { c, host, present } of cells) this.componentCharts.set(c, this.makeChart(host, this.componentSpec(c, present)));
    this.placeRanges();
  }

  private componentKey(present: Breakdown[]): HTMLElement {
    const key = h("div", { class: "detloss-key detloss-muted detloss-small", attrs: { "aria-hidden": "true" } });
    present.forEach((b, i) => append(key, h("span", { class: i === 0 ? "detloss-key-train" : "detloss-key-val" }, nameElement(b.split))));
    return key;
  }

  private componentSpec(c: string, present: Breakdown[]): ChartSpec {
    const s = this.state;
    const m = componentModel(c, present, s.smoothing);
    const xRaw = xValues(m.steps, m.wallTimes, s.x);
    const order = sortOrder(xRaw);
    const x = permute(xRaw, order);
    const color = lineColor(this.componentColors.get(c) ?? "#888888");
    const logSafe = (v: number | null | undefined) => (s.log && v !== null && v !== undefined && v <= 0 ? null : v);
    const col = (v: readonly (number | null | undefined)[]) => permute(v, order).map((y) => (y === null ? null : y === undefined ? undefined : Number.isFinite(y) ? logSafe(y) : null));
    const smoothing = s.smoothing > 0;
    const series: SeriesSpec[] = [];
    const bands: { upper: number; lower: number; fill: string }[] = [];
    const [train, val] = m.splits;
    let trainLine = -1;
    if (train) {
      if (smoothing) series.push({ label: `${train.split} (raw)`, color: withAlpha(color, 0.3), data: col(train.raw), key: false });
      series.push({ label: train.split, color, width: 1.5, data: col(smoothing ? train.smoothed : train.raw) });
      trainLine = series.length - 1;
    }
    if (val) {
      series.push({
        label: val.split,
        color,
        width: 1.5,
        dash: [6, 4],
        markers: true,
        line: !smoothing,
        data: col(val.raw),
      });
      if (smoothing) series.push({ label: `${val.split} (smoothed)`, color, width: 1.5, dash: [6, 4], data: col(val.smoothed), key: false });
      if (m.gap && trainLine >= 0) {
        // An invisible line: uPlot builds a band's fill from the paths of both of its series.
        series.push({ label: "gap", color: "rgba(0,0,0,0)", width: 0, data: col(m.gap), key: false });
        // uPlot fills a band from the later series towards the earlier one.
        bands.push({ upper: series.length - 1, lower: trainLine, fill: withAlpha(this.componentColors.get(c) ?? "#888888", 0.2) });
      }
    }
    const steps = permute(m.steps, order);
    const walls = permute(m.wallTimes, order);
    const rawP = m.splits.map((sp) => ({ split: sp.split, raw: permute(sp.raw, order), smoothed: permute(sp.smoothed, order) }));
    return {
      id: `component:${c}`,
      title: `${c}: ${present.map((b) => b.split).join(" vs ")}`,
      yLabel: "value",
      xMode: s.x,
      log: s.log,
      height: COMPONENT_HEIGHT,
      x,
      series,
      bands,
      yRange: "flat",
      tooltip: (idx) => ({
        title: this.pointTitle(steps[idx]!, walls[idx]!, present[0]!),
        head: smoothing ? ["value", "smoothed"] : ["value"],
        rows: rawP.map((sp) => ({
          color: color,
          label: sp.split,
          cells: smoothing ? [formatNumber(sp.raw[idx]), formatNumber(sp.smoothed[idx])] : [formatNumber(sp.raw[idx])],
        })),
      }),
    };
  }

  private drawCompare(): void {
    this.compareChart?.destroy();
    this.compareChart = null;
    clear(this.compareLegend);
    const s = this.state;
    // The component list: every component of the compared runs (else of the selected run).
    const comps: string[] = [];
    for (const b of this.compare?.runs ?? []) for (const c of b.components) if (!comps.includes(c)) comps.push(c);
    if (comps.length === 0) for (const c of this.components()) comps.push(c);
    const component = s.component !== null && comps.includes(s.component) ? s.component : (comps[0] ?? null);
    clear(this.compareComponent);
    for (const c of comps) this.compareComponent.add(nameOption(c, c === component));
    if (component !== null) this.compareComponent.value = component;
    if (!this.compare || this.compare.runs.length === 0 || component === null) {
      this.compareHint.textContent = this.compare
        ? "None of the ticked runs logs this split."
        : "Tick runs in the run list to compare one component across them on one chart.";
      return;
    }
    const runs = this.compare.runs;
    clear(this.compareHint);
    append(
      this.compareHint,
      `${runs.length} run${runs.length === 1 ? "" : "s"}: ${METRIC_LABELS[s.metric]} of `,
      nameElement(component),
      " (",
      nameElement(this.compareSplit.value),
      ").",
    );
    const m = compareModel(runs, component, s.metric, s.x, s.smoothing);
    const smoothing = s.smoothing > 0;
    const sorted = this.groups.map((g) => g.run).sort();
    const series: SeriesSpec[] = [];
    const logSafe = (v: number | null | undefined) =>
      v === null ? null : v === undefined ? undefined : !Number.isFinite(v) || (s.log && v <= 0) ? null : v;
    for (const line of m.lines) {
      const color = lineColor(this.runColors.get(line.run) ?? "#888888");
      // Past the palette's 7 colours, a dash pattern tells runs of the same colour apart.
      const cycle = Math.floor(Math.max(0, sorted.indexOf(line.run)) / OKABE_ITO.length);
      const dash = cycle === 0 ? undefined : [[6, 3], [2, 3], [8, 3, 2, 3]][(cycle - 1) % 3];
      if (smoothing) series.push({ label: `${line.run} (raw)`, color: withAlpha(color, 0.25), data: line.raw.map(logSafe), key: false });
      const spec: SeriesSpec = { label: line.run, color, width: 1.5, data: (smoothing ? line.smoothed : line.raw).map(logSafe) };
      if (dash) spec.dash = dash;
      series.push(spec);
      const sw = h("span", { class: "detloss-swatch", attrs: { "aria-hidden": "true" } });
      sw.style.backgroundColor = color;
      this.compareLegend.appendChild(h("span", { class: "detloss-legend-item", attrs: { "data-run": line.run } }, sw, nameElement(line.run)));
    }
    this.compareChart = this.makeChart(this.compareBox, {
      id: "compare",
      title: `${component}: ${METRIC_LABELS[s.metric]} across runs`,
      yLabel: METRIC_LABELS[s.metric],
      xMode: s.x,
      log: s.log,
      height: COMPARE_HEIGHT,
      x: m.x,
      series,
      yRange: "flat",
      tooltip: (idx) => ({
        title: s.x === "step" ? `step ${formatStepLong(m.x[idx]!)}` : s.x === "wall" ? formatWallTime(m.x[idx]!) : formatDuration(m.x[idx]!),
        head: smoothing ? ["value", "smoothed"] : ["value"],
        rows: m.lines
          .filter((l) => l.raw[idx] !== undefined)
          .map((l) => ({
            color: this.runColors.get(l.run) ?? null,
            label: l.run,
            cells: smoothing ? [formatNumber(l.raw[idx]), formatNumber(l.smoothed[idx])] : [formatNumber(l.raw[idx])],
          })),
      }),
    });
  }

  // -- what-if ----------------------------------------------------------------------------

  private renderWhatIf(): void {
    clear(this.whatIfRows);
    const b = this.stackBreakdown();
    if (!b) return;
    for (const c of b.components) {
      const logged = loggedWeight(b, c);
      const max = Math.max(1, Math.ceil(logged.max * 4));
      const current = own(this.state.weights, c) ?? logged.last;
      const range = h("input", {
        class: "detloss-whatif-range",
        attrs: { type: "range", min: "0", max: String(max), step: String(max / 400), "aria-label": `What-if weight of ${c}` },
      });
      const number = h("input", {
        class: "detloss-input detloss-number detloss-whatif-value",
        attrs: { type: "number", step: "any", "aria-label": `What-if weight of ${c} (number)` },
      });
      range.value = String(current);
      number.value = String(current);
      const set = (v: number, from: HTMLInputElement) => {
        if (!Number.isFinite(v)) return;
        this.state.weights = { ...this.state.weights, [c]: v };
        if (from !== range) range.value = String(v);
        if (from !== number) number.value = String(v);
        row.classList.add("detloss-whatif-changed");
        this.schedule("stack");
        this.saveUrl();
      };
      range.addEventListener("input", () => set(Number(range.value), range));
      number.addEventListener("change", () => set(Number(number.value), number));
      const loggedText =
        logged.min === logged.max ? `logged ${formatNumber(logged.last)}` : `logged ${formatNumber(logged.min)} … ${formatNumber(logged.max)} (schedule)`;
      const sw = h("span", { class: "detloss-swatch", attrs: { "aria-hidden": "true" } });
      sw.style.backgroundColor = this.componentColors.get(c) ?? "#888888";
      const row = h(
        "div",
        { class: "detloss-whatif-row", attrs: { "data-component": c } },
        h("span", { class: "detloss-whatif-name" }, sw, nameElement(c)),
        h("span", { class: "detloss-muted detloss-small" }, loggedText),
        range,
        number,
      );
      if (Object.prototype.hasOwnProperty.call(this.state.weights, c)) row.classList.add("detloss-whatif-changed");
      this.whatIfRows.appendChild(row);
    }
  }

  // -- warnings and attribution -----------------------------------------------------------

  /** A step's x value on the charts, through the breakdown that has (or is nearest to) it. */
  private stepToX(step: number, b: Breakdown | null): number {
    if (this.state.x === "step" || !b || b.steps.length === 0) return step;
    let lo = 0;
    let hi = b.steps.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (b.steps[mid]! < step) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0 && Math.abs(b.steps[lo - 1]! - step) < Math.abs(b.steps[lo]! - step)) lo--;
    const x = xValues(b.steps, b.wallTimes, this.state.x);
    return x[lo]!;
  }

  private renderWarnings(): void {
    clear(this.warningsList);
    const l = this.loaded;
    if (!this.routes.warnings) {
      this.warningsCaption.textContent = "";
      this.warningsList.appendChild(
        h("li", { class: "detloss-warnings-empty detloss-muted" }, "Diagnostics are not available from this server yet."),
      );
      this.placeRanges();
      return;
    }
    const list = this.warnings ?? [];
    this.warningsCaption.textContent = this.warnings === null ? "" : `(${list.length})`;
    if (list.length === 0) {
      const text = this.warningsError
        ? `Could not load the warnings: ${this.warningsError}`
        : this.warnings === null
          ? "Loading…"
          : "No warnings for this run.";
      this.warningsList.appendChild(h("li", { class: "detloss-warnings-empty detloss-muted" }, text));
    }
    const order = { error: 0, warning: 1, info: 2 } as const;
    const sorted = list.slice().sort((a, b) => order[a.severity] - order[b.severity] || a.startStep - b.startStep);
    for (const w of sorted) {
      const where = [
        w.component === null ? "total" : nameElement(w.component),
        " · ",
        nameElement(w.split),
        ` · steps ${formatStepLong(w.startStep)}–${formatStepLong(w.endStep)}`,
      ];
      const evidence = h(
        "dl",
        { class: "detloss-evidence" },
        ...w.evidence.flatMap(([k, v]) => [h("dt", {}, shownName(k)), h("dd", {}, typeof v === "number" ? formatNumber(v) : shownName(v))]),
      );
      const button = h(
        "button",
        {
          class: `detloss-warning detloss-severity-${w.severity}`,
          attrs: { type: "button", "data-kind": w.kind, "data-component": w.component ?? "", title: "Show on the chart" },
        },
        h("span", { class: "detloss-badge" }, w.severity),
        h("span", { class: "detloss-warning-message" }, shownName(w.message)),
        h("span", { class: "detloss-warning-where detloss-muted" }, ...where),
        w.evidence.length ? evidence : null,
      );
      button.addEventListener("click", () => this.focusWarning(w));
      this.warningsList.appendChild(h("li", {}, button));
    }
    if (!l) return;
    this.placeRanges();
  }

  private focusWarning(w: Warning): void {
    const l = this.loaded;
    if (!l) return;
    const chartId = w.component !== null && this.componentCharts.has(w.component) ? `component:${w.component}` : "stack";
    const b = l.splits.get(w.split) ?? this.stackBreakdown();
    const range: MarkedRange = {
      from: this.stepToX(w.startStep, b),
      to: this.stepToX(w.endStep, b),
      className: "detloss-range-focus",
      label: shownName(w.message),
    };
    this.focusRange = { chart: chartId, range };
    this.placeRanges();
    const chart = this.chartById(chartId);
    const target = (chartId === "stack" ? this.stackBox : chart?.root.closest(".detloss-component-chart")) as HTMLElement | null;
    if (target) {
      target.scrollIntoView({ block: "center" });
      target.classList.remove("detloss-flash");
      void target.offsetWidth;
      target.classList.add("detloss-flash");
    }
    chart?.root.focus({ preventScroll: true });
  }

  /** Puts warning ranges, the explained range and the focused warning on the charts. */
  private placeRanges(): void {
    const l = this.loaded;
    const per = new Map<string, MarkedRange[]>();
    const add = (id: string, r: MarkedRange) => {
      const list = per.get(id) ?? [];
      list.push(r);
      per.set(id, list);
    };
    if (l && this.warnings) {
      for (const w of this.warnings) {
        const b = l.splits.get(w.split) ?? this.stackBreakdown();
        const r = {
          from: this.stepToX(w.startStep, b),
          to: this.stepToX(w.endStep, b),
          className: `detloss-range-${w.severity}`,
          label: shownName(w.message),
        };
        if (w.component === null) add("stack", r);
        else if (this.componentCharts.has(w.component)) add(`component:${w.component}`, r);
        else add("stack", r);
      }
    }
    if (l && this.attribution && this.attribution.split === l.stackSplit) {
      const b = this.stackBreakdown();
      add("stack", {
        from: this.stepToX(this.attribution.fromStep, b),
        to: this.stepToX(this.attribution.toStep, b),
        className: "detloss-range-explained",
        label: "explained range",
      });
    }
    if (this.focusRange) add(this.focusRange.chart, this.focusRange.range);
    for (const c of this.allCharts()) c.setRanges(per.get(c.id) ?? []);
  }

  private updateExplainButton(): void {
    const ok = this.routes.attribution && this.stackChart !== null;
    this.explainButton.disabled = !ok;
    this.explainButton.title = this.routes.attribution
      ? "Splits the change of the total between the first and last visible steps into its components"
      : "Needs the server's attribution route (not available yet)";
  }

  private async explain(): Promise<void> {
    const b = this.stackBreakdown();
    const chart = this.stackChart;
    const l = this.loaded;
    if (!b || !chart || !l) return;
    const x = xValues(b.steps, b.wallTimes, this.state.x);
    const [lo, hi] = chart.visibleRange();
    const r = stepRange(b.steps, x, lo, hi);
    clear(this.attributionBox);
    if (!r || r[0] === r[1]) {
      this.attributionBox.textContent = "Zoom to a range of at least two steps first.";
      return;
    }
    this.attributionBox.textContent = "Explaining…";
    try {
      this.attribution = await fetchAttribution(l.run, l.stackSplit, r[0], r[1], l.name);
    } catch (e) {
      this.attribution = null;
      if (e instanceof ApiError && e.status === 404 && /not found/i.test(e.message) && !/run|split|step/i.test(e.message)) {
        this.routes.attribution = false;
        this.updateExplainButton();
      }
      this.attributionBox.textContent = `Could not explain this range: ${shownName(messageOf(e))}`;
      return;
    }
    this.renderAttribution();
    this.placeRanges();
  }

  private renderAttribution(): void {
    clear(this.attributionBox);
    const a = this.attribution;
    if (!a) return;
    const head = h(
      "p",
      { class: "detloss-attribution-head" },
      h("strong", {}, `total ${formatSigned(a.delta)}`),
      ` from step ${formatStepLong(a.fromStep)} to ${formatStepLong(a.toStep)} (${formatNumber(a.totalFrom)} → ${formatNumber(a.totalTo)})`,
      a.loggedDelta !== null && a.delta !== null && Math.abs(a.loggedDelta - a.delta) > 1e-9 * Math.max(1, Math.abs(a.delta))
        ? ` · the logged total moved ${formatSigned(a.loggedDelta)}`
        : "",
    );
    const maxAbs = Math.max(1e-300, ...a.parts.map((p) => Math.abs(p.delta ?? 0)));
    const list = h("ol", { class: "detloss-waterfall", attrs: { "aria-label": "Change of the total by component" } });
    for (const p of a.parts) {
      const d = p.delta ?? 0;
      const bar = h("span", { class: `detloss-bar ${d < 0 ? "detloss-bar-neg" : "detloss-bar-pos"}`, attrs: { "aria-hidden": "true" } });
      bar.style.width = `${(Math.abs(d) / maxAbs) * 50}%`;
      bar.style.backgroundColor = this.componentColors.get(p.component) ?? "#888888";
      const li = h(
        "li",
        { class: "detloss-waterfall-row", attrs: { "data-component": p.component } },
        h("span", { class: "detloss-waterfall-name" }, nameElement(p.component)),
        h("span", { class: "detloss-waterfall-delta" }, formatSigned(p.delta)),
        h("span", { class: "detloss-waterfall-share detloss-muted" }, p.share === null ? "" : `(${formatPercent(p.share)})`),
        h("span", { class: "detloss-waterfall-track" }, bar),
        h(
          "span",
          { class: "detloss-waterfall-detail detloss-muted detloss-small" },
          `value ${formatSigned(p.valueEffect)} · weight ${formatSigned(p.weightEffect)}`,
        ),
      );
      list.appendChild(li);
    }
    append(this.attributionBox, head, list);
  }

  // -- auto-reload ------------------------------------------------------------------------

  private setAuto(on: boolean): void {
    this.state.auto = on;
    this.autoInput.checked = on;
    if (this.autoTimer) clearInterval(this.autoTimer);
    this.autoTimer = on ? window.setInterval(() => void this.check(), AUTO_RELOAD_MS) : 0;
    this.saveUrl();
  }

  /** Redraws only when the run list or a shown series' number of steps changed. */
  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const series = await fetchRuns();
      if (JSON.stringify(series) !== this.runsSignature) {
        await this.loadRuns();
        return;
      }
      const l = this.loaded;
      if (l) {
        const probes = await Promise.all(Array.from(l.splits.keys()).map((s) => fetchBreakdown(l.run, s, l.name, 2)));
        if (probes.some((p) => p.numSteps !== l.splits.get(p.split)?.numSteps)) await this.loadData();
      }
      const c = this.compare;
      if (c && c.runs.length) {
        const split = c.runs[0]!.split;
        const probe = await fetchSplit(
          c.runs.map((b) => b.run),
          split,
          this.state.name ?? undefined,
          2,
        );
        if (c.runs.some((b) => probe.get(b.run)?.numSteps !== b.numSteps)) await this.loadCompare();
      }
      this.markUpdated();
    } catch {
      // A failed poll is retried at the next tick; the reload button shows errors.
    } finally {
      this.checking = false;
    }
  }

  private scheduleResize(): void {
    if (this.resizeFrame) return;
    this.resizeFrame = requestAnimationFrame(() => {
      this.resizeFrame = 0;
      this.stackChart?.setWidth(widthOf(this.stackHost));
      for (const c of this.componentCharts.values()) {
        const host = c.root.parentElement;
        if (host) c.setWidth(widthOf(host));
      }
      this.compareChart?.setWidth(widthOf(this.compareBox));
    });
  }

  /**
   * Test-only hook (`window.__detloss`), used by tests/test_tab.py to find where a step is drawn
   * and what a chart holds. Not an API: it may change with any release.
   */
  private exposeDebugHook(): void {
    const app = this;
    (window as unknown as Record<string, unknown>).__detloss = {
      state: () => JSON.parse(JSON.stringify(app.state)) as unknown,
      charts: () => app.allCharts().map((c) => c.id),
      chart: (id: string) => {
        const c = app.chartById(id);
        if (!c) return null;
        return {
          x: c.spec.x,
          series: c.spec.series.map((s) => ({ label: s.label, data: s.data.map((v) => (v === undefined ? "absent" : v)) })),
          visible: c.visibleRange(),
          yLabel: c.spec.yLabel,
          log: c.spec.log,
        };
      },
      /** Where x value `x` is drawn, in the iframe's client coordinates (middle of the plot's height). */
      pos: (id: string, x: number) => {
        const c = app.chartById(id);
        if (!c) return null;
        const r = c.plot.over.getBoundingClientRect();
        return { x: r.left + c.plot.valToPos(x, "x"), y: r.top + r.height / 2 };
      },
      top: () => (app.model ? app.model.top : null),
      /** Runs one auto-reload poll now (what the 30 s timer does). */
      check: () => app.check(),
      /** Zooms every chart as a drag would (null: reset). */
      zoom: (range: [number, number] | null) => app.setZoom(range, null),
    };
  }
}

/** `items` with `sep` between them (nodes for append). */
function joined(items: HTMLElement[], sep: string): (HTMLElement | string)[] {
  return items.flatMap((x, i) => (i === 0 ? [x] : [sep, x]));
}

/** The width a chart drawn in `el` should have. */
function widthOf(el: HTMLElement): number {
  return Math.max(240, Math.floor(el.clientWidth));
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function downloadBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.style.display = "none";
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Draws the tab into the document. TensorBoard calls this once, with no arguments. */
export function render(): void {
  performance.mark("detloss:render");
  injectStyle("detloss-uplot-style", uplotCss);
  injectStyle("detloss-style", appCss);
  new App(document.body).start();
}

