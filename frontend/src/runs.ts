// Grouping the `runs` answer by run, and choosing which splits to show.

import type { SeriesInfo } from "./api";

export const DEFAULT_NAME = "loss";
export const TRAIN_SPLIT = "train";
/** Split names taken as validation, in order of preference (before any other non-train split). */
export const VAL_SPLITS = ["val", "validation", "eval"] as const;

/** One run of the list: its loss names and, per name, its splits and components. */
export interface RunGroup {
  run: string;
  /** Loss names in the server's order. */
  names: string[];
  splits: Map<string, string[]>;
  components: Map<string, string[]>;
}

/** Groups `runs` entries by run, keeping the server's order (sorted by run, name, split). */
export function groupRuns(series: readonly SeriesInfo[]): RunGroup[] {
  const groups = new Map<string, RunGroup>();
  for (const s of series) {
    let g = groups.get(s.run);
    if (!g) {
      g = { run: s.run, names: [], splits: new Map(), components: new Map() };
      groups.set(s.run, g);
    }
    if (!g.names.includes(s.name)) {
      g.names.push(s.name);
      g.splits.set(s.name, []);
      g.components.set(s.name, []);
    }
    const splits = g.splits.get(s.name)!;
    if (!splits.includes(s.split)) splits.push(s.split);
    const comps = g.components.get(s.name)!;
    for (const c of s.components) if (!comps.includes(c)) comps.push(c);
  }
  return Array.from(groups.values());
}

/** The loss shown first: "loss" if the run has it, else its first one. */
export function defaultName(group: RunGroup): string {
  return group.names.includes(DEFAULT_NAME) ? DEFAULT_NAME : (group.names[0] ?? DEFAULT_NAME);
}

export interface SplitChoice {
  /** "train" if logged. */
  train: string | null;
  /** The first of "val", "validation", "eval" that is logged, else the first other non-train split. */
  val: string | null;
  /** The split the stacked chart shows: train, else the first split there is. */
  stack: string | null;
}

export function chooseSplits(splits: readonly string[]): SplitChoice {
  const train = splits.includes(TRAIN_SPLIT) ? TRAIN_SPLIT : null;
  const val =
    VAL_SPLITS.find((s) => splits.includes(s)) ?? splits.find((s) => s !== TRAIN_SPLIT) ?? null;
  return { train, val, stack: train ?? splits[0] ?? null };
}

/** Case-insensitive substring match of a run name against the filter box. */
export function matchesFilter(run: string, filter: string): boolean {
  const f = filter.trim().toLowerCase();
  return f === "" || run.toLowerCase().includes(f);
}
