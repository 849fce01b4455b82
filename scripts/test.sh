#!/usr/bin/env bash
# The test command (README): builds walkout from this checkout into its own virtual
# environment (.venv), with the test extra, then runs the whole test suite against the
# installed package. Works from nothing on a fresh machine with Python 3.10+, g++ and cmake.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k nms`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test report
# trackeval's metadata asks for the GUI build of OpenCV, which would shadow the headless one:
# install it alone; the parts of its dependencies it imports are in the test extra.
.venv/bin/python -m pip install --quiet --no-deps 'trackeval>=1.3' 2> >(grep -v "is ignored" >&2)
.venv/bin/walkout --version
exec .venv/bin/python -m pytest "$@"
