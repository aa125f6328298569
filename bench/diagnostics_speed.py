"""Diagnostics engine cost against the number of steps (10 components + a logged total).

    python bench/diagnostics_speed.py [--quick]

Median of 5 repeats per size (3 with --quick); the engine must be linear in steps.
"""

import argparse
import statistics
import time

import numpy as np

from tensorboard_plugin_detloss import diagnostics


def run(n, components=10, repeats=5):
    rng = np.random.default_rng(0)
    steps = np.arange(n)
    t = steps / n
    values = {"c%d" % i: (1 + np.exp(-3 * t)) * (1 + 0.05 * rng.standard_normal(n))
              for i in range(components)}
    split = diagnostics.SplitData.from_arrays(
        steps, values, {c: 1.0 for c in values}, total=sum(values.values()))
    diagnostics.diagnose({"train": split})  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        diagnostics.diagnose({"train": split})
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    print("| steps | components | engine time (median) | per step and component |")
    print("|---|---|---|---|")
    for n in sizes:
        seconds = run(n, repeats=3 if args.quick else 5)
        print("| %s | 10 + total | %.3f s | %.1f ns |" % ("{:,}".format(n), seconds,
                                                       1e9 * seconds / (n * 11)))


if __name__ == "__main__":
    main()
