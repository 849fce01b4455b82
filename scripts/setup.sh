#!/usr/bin/env bash
# Builds walkout from this checkout into .venv (CPU onnxruntime). Idempotent; used by the
# README's two commands. Extra arguments name extras, e.g. `bash scripts/setup.sh test`.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="cpu"
for extra in "$@"; do extras="$extras,$extra"; done
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip 2> >(grep -v "is ignored" >&2)
.venv/bin/python -m pip install --quiet ".[$extras]" 2> >(grep -v "is ignored" >&2)
