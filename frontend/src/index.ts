// The Loss Breakdown tab. TensorBoard imports this module in the tab's iframe and calls
// render() with no arguments.

import type uPlot from "uplot";
import uplotCss from "uplot/dist/uPlot.min.css";

import { type Breakdown, type SeriesInfo, fetchRuns, fetchSplit } from "./api";
import { componentChart, stackChart } from "./charts";
import { append, clear, h, injectStyle } from "./dom";
import { assignColors } from "./palette";
import { type RunGroup, chooseSplits, defaultName, groupRuns, matchesFilter } from "./runs";
import appCss from "./style.css";

const PYTORCH_EXAMPLE = 'detloss.summary.write({"box": box, "cls": cls}, step=step, writer=writer)';
const TF_EXAMPLE =
  'with tf.summary.create_file_writer(logdir).as_default():\n    detloss.summary.write({"box": box, "cls": cls}, step=step)';

interface Selection {
  run: string;
  name: string;
}

/** A drawn chart and the element whose width it follows. */
interface Drawn {
  plot: uPlot;
  sizer: HTMLElement;
}

class App {
  private readonly filterInput = h("input", {
    id: "detloss-filter",
    class: "detloss-filter",
    attrs: { type: "search", placeholder: "Filter runs", "aria-label": "Filter runs", autocomplete: "off" },
  });
  private readonly reloadButton = h(
    "button",
    { id: "detloss-reload", class: "detloss-reload", attrs: { type: "button", "aria-label": "Reload runs" } },
    "Reload",
  );
  private readonly runCount = h("p", { id: "detloss-run-count", class: "detloss-run-count" });
  private readonly runList = h("ul", { id: "detloss-run-list", class: "detloss-run-list", attrs: { "aria-label": "Runs" } });
  private readonly nameSelect = h("select", {
    id: "detloss-name",
    class: "detloss-name-select",
    attrs: { "aria-label": "Loss name" },
  });
  private readonly nameRow = h(
    "label",
    { class: "detloss-name-row" },
    h("span", { class: "detloss-name-label" }, "Loss"),
    this.nameSelect,
  );
  private readonly errorBox = h("div", { id: "detloss-error", class: "detloss-error", attrs: { role: "alert" } });
  private readonly statusBox = h("div", { id: "detloss-status", class: "detloss-status", attrs: { role: "status" } });
  private readonly emptyBox = h("div", { id: "detloss-empty", class: "detloss-empty" });
  private readonly title = h("h1", { id: "detloss-title", class: "detloss-title" });
  private readonly subtitle = h("p", { id: "detloss-subtitle", class: "detloss-subtitle" });
  private readonly stackCaption = h("span", { id: "detloss-stack-caption", class: "detloss-caption" });
  private readonly stackBox = h("div", { id: "detloss-stack", class: "detloss-chart detloss-stack" });
  private readonly componentsCaption = h("span", { id: "detloss-components-caption", class: "detloss-caption" });
  private readonly componentsBox = h("div", { id: "detloss-components", class: "detloss-components" });
  private readonly view = h(
    "div",
    { id: "detloss-view", class: "detloss-view" },
    h("header", { class: "detloss-view-head" }, this.title, this.subtitle),
    h(
      "section",
      { id: "detloss-stack-section", class: "detloss-section", attrs: { "aria-labelledby": "detloss-stack-heading" } },
      h("h2", { id: "detloss-stack-heading" }, "Stacked weighted contributions ", this.stackCaption),
      h(
        "p",
        { class: "detloss-hint" },
        "Each band is one component's weight × value, stacked; the black line is the total. " +
          "A total line off the top of the stack means the logged total is not the weighted sum.",
      ),
      this.stackBox,
    ),
    h(
      "section",
      {
        id: "detloss-components-section",
        class: "detloss-section",
        attrs: { "aria-labelledby": "detloss-components-heading" },
      },
      h("h2", { id: "detloss-components-heading" }, "Train vs val per component ", this.componentsCaption),
      h("p", { class: "detloss-hint" }, "Unweighted values. Train solid, validation dashed with markers."),
      this.componentsBox,
    ),
  );

  private groups: RunGroup[] = [];
  private selection: Selection | null = null;
  private buttons = new Map<string, HTMLButtonElement>();
  private drawn: Drawn[] = [];
  /** Bumped by every load: an answer for an older load is dropped. */
  private generation = 0;
  private resizeFrame = 0;

  constructor(private readonly host: HTMLElement) {}

  start(): void {
    clear(this.host);
    const sidebar = h(
      "aside",
      { id: "detloss-sidebar", class: "detloss-sidebar", attrs: { "aria-label": "Runs" } },
      h("div", { class: "detloss-sidebar-head" }, h("h2", {}, "Runs"), this.reloadButton),
      this.filterInput,
      this.runCount,
      this.runList,
    );
    const main = h(
      "main",
      { id: "detloss-main", class: "detloss-main" },
      this.errorBox,
      this.statusBox,
      this.emptyBox,
      this.view,
    );
    append(this.host, h("div", { id: "detloss-app", class: "detloss" }, sidebar, main));
    this.errorBox.hidden = true;
    this.emptyBox.hidden = true;
    this.view.hidden = true;

    this.filterInput.addEventListener("input", () => this.applyFilter());
    this.reloadButton.addEventListener("click", () => void this.loadRuns());
    this.nameSelect.addEventListener("change", () => {
      if (this.selection) this.select(this.selection.run, this.nameSelect.value);
    });
    if (typeof ResizeObserver !== "undefined") {
      new ResizeObserver(() => this.scheduleResize()).observe(main);
    } else {
      window.addEventListener("resize", () => this.scheduleResize());
    }
    void this.loadRuns();
  }

  // -- status -----------------------------------------------------------------------------

  private showError(message: string | null): void {
    this.errorBox.textContent = message ?? "";
    this.errorBox.hidden = message === null;
  }

  private showStatus(message: string): void {
    this.statusBox.textContent = message;
  }

  // -- runs -------------------------------------------------------------------------------

  private async loadRuns(): Promise<void> {
    const generation = ++this.generation;
    this.showStatus("Loading runs…");
    this.showError(null);
    let series: SeriesInfo[];
    try {
      series = await fetchRuns();
    } catch (e) {
      if (generation !== this.generation) return;
      this.showStatus("");
      this.showError(`Could not load the runs: ${messageOf(e)}`);
      return;
    }
    if (generation !== this.generation) return;
    this.groups = groupRuns(series);
    this.showStatus("");
    this.renderRunList();
    if (this.groups.length === 0) {
      this.selection = null;
      this.hideView();
      this.showEmpty();
      return;
    }
    this.emptyBox.hidden = true;
    const previous = this.selection && this.groups.find((g) => g.run === this.selection!.run);
    const group = previous ?? this.groups.find((g) => matchesFilter(g.run, this.filterInput.value)) ?? this.groups[0]!;
    const name = previous && group.names.includes(this.selection!.name) ? this.selection!.name : defaultName(group);
    this.select(group.run, name);
  }

  private showEmpty(): void {
    clear(this.emptyBox);
    append(
      this.emptyBox,
      h("h1", { class: "detloss-title" }, "No loss breakdown logged yet"),
      h(
        "p",
        {},
        "Log the parts of your loss with ",
        h("code", {}, "import tensorboard_plugin_detloss as detloss"),
        ", then, each step:",
      ),
      h("p", { class: "detloss-empty-label" }, "PyTorch (SummaryWriter):"),
      h("pre", {}, h("code", { id: "detloss-example-pytorch" }, PYTORCH_EXAMPLE)),
      h("p", { class: "detloss-empty-label" }, "TensorFlow (writer omitted: the default writer):"),
      h("pre", {}, h("code", { id: "detloss-example-tf" }, TF_EXAMPLE)),
    );
    this.emptyBox.hidden = false;
  }

  private renderRunList(): void {
    clear(this.runList);
    this.buttons.clear();
    for (const g of this.groups) {
      const splits = Array.from(new Set(g.names.flatMap((n) => g.splits.get(n) ?? [])));
      const meta = g.names.length > 1 ? `${g.names.length} losses · ${splits.join(", ")}` : splits.join(", ");
      const button = h(
        "button",
        { class: "detloss-run", attrs: { type: "button", "data-run": g.run, "aria-pressed": "false", title: g.run } },
        h("span", { class: "detloss-run-name" }, g.run),
        h("span", { class: "detloss-run-meta" }, meta),
      );
      button.addEventListener("click", () => {
        const name = this.selection?.run === g.run ? this.selection.name : defaultName(g);
        this.select(g.run, name);
      });
      this.buttons.set(g.run, button);
      append(this.runList, h("li", { class: "detloss-run-item", attrs: { "data-run": g.run } }, button));
    }
    this.applyFilter();
  }

  private applyFilter(): void {
    const filter = this.filterInput.value;
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

  // -- selection --------------------------------------------------------------------------

  private select(run: string, name: string): void {
    const group = this.groups.find((g) => g.run === run);
    if (!group) return;
    this.selection = { run, name };
    for (const [r, b] of this.buttons) b.setAttribute("aria-pressed", r === run ? "true" : "false");
    // The loss-name <select> sits under the selected run, when it logs several losses.
    if (group.names.length > 1) {
      clear(this.nameSelect);
      for (const n of group.names) this.nameSelect.add(new Option(n, n, false, n === name));
      this.nameSelect.value = name;
      const li = this.buttons.get(run)?.parentElement;
      if (li && this.nameRow.parentElement !== li) li.appendChild(this.nameRow);
    } else {
      this.nameRow.remove();
    }
    void this.loadBreakdown(group, name);
  }

  private async loadBreakdown(group: RunGroup, name: string): Promise<void> {
    const generation = ++this.generation;
    const choice = chooseSplits(group.splits.get(name) ?? []);
    this.showError(null);
    this.showStatus("Loading…");
    if (choice.stack === null) {
      this.showStatus("");
      this.hideView();
      this.showError("This run has no split for this loss.");
      return;
    }
    const splits = [choice.stack];
    if (choice.val !== null && choice.val !== choice.stack) splits.push(choice.val);
    let answers: Map<string, Breakdown>[];
    try {
      answers = await Promise.all(splits.map((s) => fetchSplit([group.run], s, name)));
    } catch (e) {
      if (generation !== this.generation) return;
      this.showStatus("");
      this.hideView();
      this.showError(`Could not load ${group.run}: ${messageOf(e)}`);
      return;
    }
    if (generation !== this.generation) return;
    const breakdowns = answers.map((a) => a.get(group.run)).filter((b): b is Breakdown => b !== undefined);
    this.showStatus("");
    if (breakdowns.length === 0 || breakdowns[0]!.split !== choice.stack) {
      this.hideView();
      this.showError(`The server has no data for run ${group.run}, split ${choice.stack} any more: reload the runs.`);
      return;
    }
    try {
      this.draw(group, name, breakdowns);
    } catch (e) {
      this.hideView();
      this.showError(`Could not draw ${group.run}: ${messageOf(e)}`);
    }
  }

  // -- charts -----------------------------------------------------------------------------

  /** Removes the charts of the previous selection (after an error they would mislead). */
  private hideView(): void {
    this.clearCharts();
    this.view.hidden = true;
  }

  private clearCharts(): void {
    for (const d of this.drawn) d.plot.destroy();
    this.drawn = [];
    clear(this.stackBox);
    clear(this.componentsBox);
  }

  private draw(group: RunGroup, name: string, breakdowns: Breakdown[]): void {
    this.clearCharts();
    const main = breakdowns[0]!;
    this.view.hidden = false;
    this.title.textContent = group.run;
    this.subtitle.textContent = `loss: ${name} · splits: ${breakdowns.map((b) => b.split).join(", ")}`;
    this.stackCaption.textContent = `(${main.split}, ${main.steps.length.toLocaleString("en-US")} steps)`;
    this.componentsCaption.textContent = `(${breakdowns.map((b) => b.split).join(" vs ")})`;

    const components: string[] = [];
    for (const b of breakdowns) for (const c of b.components) if (!components.includes(c)) components.push(c);
    const colors = assignColors(components);

    this.drawn.push({ plot: stackChart(this.stackBox, main, colors, widthOf(this.stackBox)), sizer: this.stackBox });

    const cells = components.map((c) => {
      const chart = h("div", { class: "detloss-chart" });
      const present = breakdowns.filter((b) => b.components.includes(c));
      const missing = breakdowns.filter((b) => !b.components.includes(c)).map((b) => b.split);
      const cell = h(
        "div",
        { class: "detloss-component-chart", attrs: { "data-component": c } },
        h(
          "h3",
          { class: "detloss-component-title" },
          h("span", { class: "detloss-swatch", attrs: { "aria-hidden": "true" } }),
          h("span", { class: "detloss-component-name" }, c),
          missing.length ? h("span", { class: "detloss-caption" }, ` (not in ${missing.join(", ")})`) : null,
        ),
        chart,
      );
      const swatch = cell.querySelector<HTMLElement>(".detloss-swatch");
      if (swatch) swatch.style.backgroundColor = colors.get(c) ?? "#888888";
      this.componentsBox.appendChild(cell);
      return { c, chart, present };
    });
    // Lay out every cell first, then measure: each chart fills its grid cell.
    for (const { c, chart, present } of cells) {
      const plot = componentChart(chart, c, present.length ? present : [main], colors.get(c) ?? "#888888", widthOf(chart));
      this.drawn.push({ plot, sizer: chart });
    }
  }

  private scheduleResize(): void {
    if (this.resizeFrame) return;
    this.resizeFrame = requestAnimationFrame(() => {
      this.resizeFrame = 0;
      for (const d of this.drawn) {
        const width = widthOf(d.sizer);
        if (Math.abs(width - d.plot.width) >= 1) d.plot.setSize({ width, height: d.plot.height });
      }
    });
  }
}

/** The width a chart drawn in `el` should have. */
function widthOf(el: HTMLElement): number {
  return Math.max(240, Math.floor(el.clientWidth));
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Draws the tab into the document. TensorBoard calls this once, with no arguments. */
export function render(): void {
  injectStyle("detloss-uplot-style", uplotCss);
  injectStyle("detloss-style", appCss);
  new App(document.body).start();
}
