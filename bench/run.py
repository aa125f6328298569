"""Runs every benchmark and prints their tables (the figures in docs/PERFORMANCE.md).

    python bench/run.py [--quick]

--quick: small sizes, a minute or two; CI runs it once to keep the benchmarks working.
"""

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCHMARKS = [
    ("writer", "writer.py"),
    ("TF path inside tf.function, op by op", "tf_graph_ops.py"),
    ("diagnostics engine", "diagnostics_speed.py"),
    ("ingestion and server", "tensorboard_io.py"),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    failed = []
    for title, script in BENCHMARKS:
        print("\n## %s (bench/%s%s)\n" % (title, script, " --quick" if args.quick else ""))
        sys.stdout.flush()
        started = time.monotonic()
        cmd = [sys.executable, os.path.join(HERE, script)] + (["--quick"] if args.quick else [])
        code = subprocess.call(cmd, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
        print("\n(%s: %.0f s, exit %d)" % (script, time.monotonic() - started, code))
        if code:
            failed.append(script)
    if failed:
        print("\nfailed: " + ", ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
