"""benchmarks/bench_server_sim.py with the edge fusion as it was before issue #9's identity
work (``--before``: ``fuse_views`` without the merge radius and without the tracker's priors, in
the edge pipeline and in the server's cross-box fusion), to measure what that work changed in
receipts on the same machine and day. Without ``--before`` it is bench_server_sim.py itself.

    PYTHONPATH=python python3 benchmarks/bench_track_server_sim.py [--before] --seeds 1 2 3 4 5

Writes benchmarks/results/server_sim.md (bench_server_sim.py's own file): copy what you need.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "python")]


def _pin_old_fusion() -> None:
    import walkout.edge.pipeline as pipeline
    import walkout.track as track

    fuse = track.fuse_views

    def old(points, covs, gate_probability=0.99, **_ignored):  # priors dropped
        return fuse(points, covs, gate_probability, merge_radius_m=0.0)

    pipeline.fuse_views = old  # imported at module load
    track.fuse_views = old  # the server's cross-box fusion imports it at call time


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--before" in args:
        args.remove("--before")
        _pin_old_fusion()
    sys.argv = [str(ROOT / "benchmarks/bench_server_sim.py"), *args]
    runpy.run_path(sys.argv[0], run_name="__main__")
