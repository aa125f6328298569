#!/usr/bin/env bash
# The test command, from a fresh clone: installs everything, checks generated files, runs pytest.
#   bash scripts/test.sh [pytest args]
set -euo pipefail
source "$(dirname "$0")/_setup.sh"
cd "$ROOT"

[ -x "$PY" ] || require_free_disk "$VENV" 4 "the test environment ($VENV: tensorflow, torch, playwright)"
install_package "[tf]"
say "installing test requirements"
pip_install -r requirements-dev.txt
install_chromium
install_ultralytics_env

# Generated files must match their sources (a mismatch fails under CI=true, warns locally).
stale=""
say "frontend: npm ci, type check, unit tests, build"
(cd frontend && npm ci --no-audit --no-fund --loglevel=error && npm run --silent check && npm run --silent test >/dev/null && npm run --silent build)
git diff --quiet -- tensorboard_plugin_detloss/static || stale="$stale tensorboard_plugin_detloss/static"
say "regenerating the _pb2 module"
bash scripts/gen_proto.sh
git diff --quiet -- tensorboard_plugin_detloss/proto || stale="$stale tensorboard_plugin_detloss/proto"
if [ -n "$stale" ]; then
  say "generated files differ from what is committed:$stale (commit the regenerated files)"
  git --no-pager diff --stat -- $stale >&2
  if [ "${CI:-}" = "true" ]; then exit 1; fi
fi

if [ "${CI:-}" = "true" ]; then
  # Before pytest, so pytest's summary stays the last line of the output.
  say "benchmarks, quick (keeps bench/ working; figures are not asserted)"
  "$PY" bench/run.py --quick
fi

say "running pytest"
set +e
"$PY" -m pytest "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then
  say "pytest collected no tests: failing"
  exit 1
fi
exit "$rc"
