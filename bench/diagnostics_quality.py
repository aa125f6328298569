"""Recall on injected failures and false alarms on healthy runs, per warning kind.

    python bench/diagnostics_quality.py [--healthy 200] [--injected 50]

Prints the markdown table in docs/DIAGNOSTICS.md. Scenarios: tests/scenarios.py.
"""

import argparse
import collections
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import scenarios  # noqa: E402

from tensorboard_plugin_detloss import diagnostics  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--healthy", type=int, default=200)
    parser.add_argument("--injected", type=int, default=50)
    args = parser.parse_args()

    started = time.perf_counter()
    alarms = collections.Counter()
    infos = collections.Counter()
    for seed in range(args.healthy):
        splits, _ = scenarios.healthy(seed)
        for f in diagnostics.diagnose(splits):
            (infos if f.severity == "info" else alarms)[f.kind] += 1
    recall = {}
    for kind in scenarios.INJECTED_KINDS:
        hits = 0
        for seed in range(args.injected):
            splits, truth = scenarios.injected(kind, seed)
            hits += scenarios.detected(diagnostics.diagnose(splits), truth)
        recall[kind] = hits
    elapsed = time.perf_counter() - started

    print("| kind | recall on injected failures | warning/error alarms on %d healthy runs | "
          "info findings on healthy runs |" % args.healthy)
    print("|---|---|---|---|")
    for kind in scenarios.INJECTED_KINDS:
        print("| `%s` | %d/%d (%.0f%%) | %d | %d |" % (
            kind, recall[kind], args.injected, 100.0 * recall[kind] / args.injected,
            alarms[kind], infos[kind]))
    print()
    print("%d runs diagnosed in %.1f s" % (args.healthy + args.injected * len(recall), elapsed))


if __name__ == "__main__":
    main()
