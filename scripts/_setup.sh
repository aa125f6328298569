# Sourced by scripts/demo.sh and scripts/test.sh: a virtualenv in .venv (or $DETLOSS_VENV)
# with this package installed in editable mode, and helpers for the rest.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${DETLOSS_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

say() { printf '\033[1m[detloss]\033[0m %s\n' "$*" >&2; }

ensure_venv() {
  if [ ! -x "$PY" ]; then
    say "creating virtualenv $VENV"
    python3 -m venv "$VENV"
  fi
}

pip_install() {
  "$PY" -m pip install -q "$@"
}

install_package() {  # $1: extras, e.g. "[tf]"
  ensure_venv
  say "installing tensorboard-plugin-detloss$1 (editable) into $VENV"
  pip_install -e "$ROOT$1"
}

install_chromium() {
  if [ -x /usr/bin/chromium ]; then return; fi
  say "installing Debian's chromium (browser tests)"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
}

require_free_disk() {  # $1: directory, $2: GiB needed, $3: what for
  local dir="$1"
  while [ ! -d "$dir" ]; do dir="$(dirname "$dir")"; done
  local free_kib
  free_kib=$(df -Pk "$dir" | awk 'NR == 2 {print $4}')
  if [ "$free_kib" -lt $(( $2 * 1024 * 1024 )) ]; then
    say "not enough disk for $3: it needs about $2 GiB under $dir, $(( free_kib / 1024 )) MiB are free"
    exit 1
  fi
}

install_ultralytics_env() {
  # Ultralytics needs torchvision, which needs torch 2.14.1 (a CUDA build, from the machine's
  # local wheel cache here): a separate virtualenv (5.1 GB; the main one, 3.5 GB with MMEngine, keeps torch 2.13).
  local uvenv="${DETLOSS_ULTRALYTICS_VENV:-$ROOT/.venv-ultralytics}"
  local upy="$uvenv/bin/python"
  if [ ! -x "$upy" ] || ! "$upy" -c "import torchvision, ultralytics" 2>/dev/null; then
    require_free_disk "$uvenv" 6 "the Ultralytics test environment ($uvenv)"
    [ -x "$upy" ] || { say "creating virtualenv $uvenv (Ultralytics integration test)"; python3 -m venv "$uvenv"; }
    say "installing ultralytics, torch 2.14.1 and torchvision 0.29.1 into $uvenv"
    # Everything pip resolves for them but triton, the GPU kernel compiler (0.9 GB): nothing
    # here runs on a GPU, and torch imports without it.
    local report="$uvenv/resolved.json"
    "$upy" -m pip install -q --dry-run --ignore-installed --report "$report" \
      "torch==2.14.1" "torchvision==0.29.1" "ultralytics==8.4.190"
    "$upy" -m pip install -q --no-deps $("$upy" -c "import json, sys
for item in json.load(open(sys.argv[1]))['install']:
    meta = item['metadata']
    if meta['name'].lower() != 'triton':
        print('%s==%s' % (meta['name'], meta['version']))" "$report")
  fi
  "$upy" -m pip install -q -e "$ROOT"
  export DETLOSS_ULTRALYTICS_PYTHON="$upy"
}
