#!/usr/bin/env bash
# The main job (README): builds walkout into .venv, then runs the simulated store end to end
# (`walkout demo`: simulator → real store server over ZeroMQ/CURVE → receipts scored against
# the simulator's truth). Extra arguments go to `walkout demo` (see `walkout demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/walkout --version
exec .venv/bin/walkout demo --out runs/demo "$@"
