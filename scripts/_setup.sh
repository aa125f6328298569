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

install_ultralytics_env() {
  # Ultralytics needs torchvision, which needs torch 2.14.1 (a CUDA build of ~5.5 GB, from the
  # machine's local wheel cache here): a separate virtualenv, so the main one keeps torch 2.13.
  local uvenv="${DETLOSS_ULTRALYTICS_VENV:-$ROOT/.venv-ultralytics}"
  if [ ! -x "$uvenv/bin/python" ]; then
    say "creating virtualenv $uvenv (Ultralytics integration test)"
    python3 -m venv "$uvenv"
  fi
  say "installing ultralytics, torch 2.14.1 and torchvision 0.29.1 into $uvenv"
  "$uvenv/bin/python" -m pip install -q "torch==2.14.1" "torchvision==0.29.1" \
    "ultralytics==8.4.190" -e "$ROOT"
  export DETLOSS_ULTRALYTICS_PYTHON="$uvenv/bin/python"
}
