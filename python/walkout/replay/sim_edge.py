"""What the edge boxes of a simulator run send when the real edge pipeline runs on it.

Each edge box of the run's store replays its own cameras through
:func:`walkout.edge.replay.replay_run` (frame sync, floor points, cross-camera fusion, the
box's FloorTracker, hands in 3-D, the reach state machine) on the run's oracle detections
(no pixels, no model) or its videos through the ONNX model; the gate scans and weight changes
are the run's own messages. Unlike :mod:`walkout.replay.sim_truth`, the tracks and reaches
here carry the edge pipeline's real errors, so the server is tested end to end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from walkout import protocol


def messages_through_edge(run_dir: Path | str,
                          detections: Literal["oracle"] = "oracle",
                          health_interval_s: float = 1.0) -> list[protocol.Message]:
    """Every message of the run's gates, shelf gateways and edge boxes (see the module doc).

    Only ``detections="oracle"`` is offered here: the model path needs the edge config's
    model section (run ``walkout edge`` for that).
    """
    from walkout.edge.replay import replay_run
    from walkout.sim.run import Run

    if detections != "oracle":
        raise ValueError(f"detections: expected 'oracle', got {detections!r}")
    run = Run(run_dir)
    store = run.store().config
    out: list[protocol.Message] = []
    for box in store.edge_boxes:
        if not {c.id for c in store.cameras_of(box.id)} & set(run.cameras):
            continue  # the run rendered none of this box's cameras
        result = replay_run(run_dir, box=box.id, detections="oracle", keep_results=False,
                            health_interval_s=health_interval_s)
        out.extend(result.messages)
    out.extend(run.checkins())
    out.extend(run.weights())
    return out
