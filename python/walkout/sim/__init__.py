"""walkout.sim: a synthetic store that renders what the ceiling cameras see and knows the truth
of everything that happened. Used to test walkout end to end and to measure its accuracy;
never imported by the runtime (edge or server).

    from walkout.sim import simulate, Run
    run = simulate("configs/scenarios/small.yaml", "runs/small", seed=7)
    for frame_index, t_ns, image in run.frames("cam1"): ...
    run.truth("cam1")["keypoints"]     # (M, 17, 3) COCO keypoints with visibility
    for frame in LiveStore("configs/scenarios/tiny.yaml").frames("cam1"): ...  # in process
"""

from walkout.sim.live import LiveFrame, LiveStore
from walkout.sim.run import FORMAT, FORMAT_VERSION, Run
from walkout.sim.runner import load_scenario, simulate
from walkout.sim.scenario import Scenario

__all__ = ["FORMAT", "FORMAT_VERSION", "LiveFrame", "LiveStore", "Run", "Scenario",
           "load_scenario", "simulate"]
