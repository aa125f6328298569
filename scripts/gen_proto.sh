#!/usr/bin/env bash
# Regenerates tensorboard_plugin_detloss/proto/plugin_data_pb2.py.
# Uses protoc 31.1 (grpcio-tools 1.74.0), the protoc TensorBoard's own _pb2 files come from, so the
# generated module works with every protobuf runtime tensorboard accepts (>= 6.31.1, < 8).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${DETLOSS_PROTOC_VENV:-${TMPDIR:-/tmp}/detloss-protoc-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "grpcio-tools==1.74.0"
fi
"$venv/bin/python" -m grpc_tools.protoc -I. --python_out=. tensorboard_plugin_detloss/proto/plugin_data.proto
