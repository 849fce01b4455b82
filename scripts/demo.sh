#!/usr/bin/env bash
# The main job (README): builds walkout into .venv and runs the most complete thing that
# works end to end today (see the README's "What runs today").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/walkout --version
.venv/bin/walkout config check configs/store.yaml configs/edge-a.yaml configs/edge-b.yaml configs/server.yaml
