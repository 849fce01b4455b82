"""The edge supervisor: cameras, model, per-frame pipeline and publishing for one edge box.

    from walkout.edge import EdgePipeline, replay_run, EdgeSupervisor
    result = replay_run("runs/tiny", box="edge-a", detections="oracle", emit=sender.send)

Names are imported on first use, so ``import walkout.edge.cameras`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "EdgePipeline": "walkout.edge.pipeline",
    "FramesetResult": "walkout.edge.pipeline",
    "PipelineParams": "walkout.edge.pipeline",
    "replay_run": "walkout.edge.replay",
    "ReplayResult": "walkout.edge.replay",
    "EdgeSupervisor": "walkout.edge.supervisor",
    "StartError": "walkout.edge.supervisor",
    "SupervisorOptions": "walkout.edge.supervisor",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'walkout.edge' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
