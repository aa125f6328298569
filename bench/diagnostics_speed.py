"""Diagnostics engine cost: against the number of steps, for a 32-run sweep, and incrementally.

    python bench/diagnostics_speed.py [--quick]

1. One run, 10 components + a logged total, 10k / 100k / 1M steps (median of 5; 3 with --quick):
   the engine must be linear in steps.
2. The issue-8 sweep: 32 runs × 200,000 train steps × 5 components + weights + total, with a
   val split every 1,000 steps — all warnings, one run after another and on a pool of 2 threads
   (numpy releases the GIL in the big array operations), fresh engines each time.
3. Then 1,000 new steps arrive in every run: `Diagnoser.update` of all 32 (reads only the new
   rows) against diagnosing them afresh.
(--quick: 8 runs × 50,000 steps.)
"""

import argparse
import concurrent.futures
import statistics
import time

import numpy as np

from tensorboard_plugin_detloss import diagnostics


def one_run(n, components=10, seed=0, total=True):
    rng = np.random.default_rng(seed)
    steps = np.arange(n)
    t = steps / n
    values = {"c%d" % i: (1 + np.exp(-3 * t)) * (1 + 0.05 * rng.standard_normal(n))
              for i in range(components)}
    weights = {c: 1.0 + i for i, c in enumerate(values)}
    summed = sum(weights[c] * v for c, v in values.items())
    return diagnostics.SplitData.from_arrays(steps, values, weights,
                                             total=summed if total else None)


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def prefix(data, n):
    cut = lambda d: {c: a[:n] for c, a in d.items()}  # noqa: E731
    part = diagnostics.SplitData(data.steps[:n], list(data.components), cut(data.values),
                                 cut(data.weights), cut(data.present), data.total[:n],
                                 data.total_present[:n])
    part.wall_times = data.wall_times[:n]  # what the reader's breakdowns carry
    return part


def sweep(runs, steps, repeats):
    """(sequential s, 2 threads s, incremental update s, fresh after update s) for all runs."""
    distinct = []
    for seed in range(min(runs, 4)):  # 4 distinct runs, each used runs/4 times (memory)
        train = one_run(steps + 1000, components=5, seed=seed)
        train.wall_times = 1e9 + train.steps.astype(np.float64)
        vs = np.arange(999, steps + 1000, 1000)
        val = diagnostics.SplitData.from_arrays(
            vs, {c: v[vs] * 1.05 for c, v in train.values.items()})
        distinct.append((train, val))
    before = [{"train": prefix(distinct[i % len(distinct)][0], steps),
               "val": distinct[i % len(distinct)][1]} for i in range(runs)]
    after = [{"train": prefix(distinct[i % len(distinct)][0], steps + 1000),
              "val": distinct[i % len(distinct)][1]} for i in range(runs)]
    diagnostics.diagnose(before[0])  # warm-up
    sequential = median_time(lambda: [diagnostics.diagnose(s) for s in before], repeats)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        pooled = median_time(lambda: list(pool.map(diagnostics.diagnose, before)), repeats)
    updates = []
    for _ in range(repeats):
        diagnosers = [diagnostics.Diagnoser() for _ in before]
        for d, s in zip(diagnosers, before):
            d.update(s)
        started = time.perf_counter()
        incremental = [d.update(s) for d, s in zip(diagnosers, after)]
        updates.append(time.perf_counter() - started)
    fresh = [diagnostics.diagnose(s) for s in after]
    assert [[f.to_json() for f in x] for x in incremental] == \
        [[f.to_json() for f in x] for x in fresh], "incremental findings differ from fresh ones"
    refresh = median_time(lambda: [diagnostics.diagnose(s) for s in after], repeats)
    return sequential, pooled, statistics.median(updates), refresh


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    repeats = 3 if args.quick else 5
    print("| steps | components | engine time (median) | per step and component |")
    print("|---|---|---|---|")
    for n in sizes:
        split = one_run(n)
        diagnostics.diagnose({"train": split})  # warm-up
        seconds = median_time(lambda: diagnostics.diagnose({"train": split}), repeats)
        print("| %s | 10 + total | %.3f s | %.1f ns |" % ("{:,}".format(n), seconds,
                                                       1e9 * seconds / (n * 11)))
    runs, steps = (8, 50_000) if args.quick else (32, 200_000)
    sequential, pooled, update, refresh = sweep(runs, steps, repeats)
    print()
    print("All warnings of %d runs × %s steps (5 components + weights + total, val every 1,000), "
          "median of %d:" % (runs, "{:,}".format(steps), repeats))
    print()
    print("| sweep | time | per run |")
    print("|---|---|---|")
    print("| fresh, one run after another | %.2f s | %.1f ms |" % (sequential,
                                                                  1e3 * sequential / runs))
    print("| fresh, 2 threads | %.2f s | %.1f ms |" % (pooled, 1e3 * pooled / runs))
    print("| +1,000 steps per run: `Diagnoser.update` | %.3f s | %.1f ms |" % (update,
                                                                           1e3 * update / runs))
    print("| +1,000 steps per run: afresh | %.2f s | %.1f ms |" % (refresh, 1e3 * refresh / runs))
    print()
    print("update / afresh = %.3f× (findings identical, checked)" % (update / refresh))


if __name__ == "__main__":
    main()
