#!/usr/bin/env bash
# The main job (README): builds walkout into .venv (with the report extra and TrackEval, the
# scorer of the store-wide tracks), then runs the simulated store end to end (`walkout demo`:
# the simulator renders the cameras; one `walkout edge` process per edge box runs the shipped
# model on the videos; a `walkout server` process decides the receipts; everything is scored
# against the simulator's truth into runs/demo/summary.json and runs/demo/report.html).
# Extra arguments go to `walkout demo` (see `walkout demo --help`), e.g. --detections oracle.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh report
# trackeval's metadata asks for the GUI build of OpenCV, which would shadow the headless one:
# install it alone; the parts of its dependencies it imports are in the report extra.
.venv/bin/python -m pip install --quiet --no-deps 'trackeval>=1.3' 2> >(grep -v "is ignored" >&2)
.venv/bin/walkout --version
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
exec .venv/bin/walkout demo --report runs/demo "$@"
