#!/usr/bin/env bash
# The main job, from a fresh clone: install, write a realistic demo logdir, start TensorBoard.
#   bash scripts/demo.sh            (PORT=6006 and DEMO_LOGDIR=demo_logs by default)
set -euo pipefail
source "$(dirname "$0")/_setup.sh"
cd "$ROOT"
install_package ""
logdir="${DEMO_LOGDIR:-$ROOT/demo_logs}"
port="${PORT:-6006}"
"$PY" examples/demo_logdir.py "$logdir"
say "starting TensorBoard on $logdir"
say "open http://localhost:$port/#detloss  (the Loss Breakdown tab; Ctrl-C stops)"
exec "$PY" -m tensorboard.main --logdir "$logdir" --port "$port" --host localhost
