"""``walkout demo``: the simulated store end to end through real processes, cameras and the
shipped model, scored against the simulator's truth (see :mod:`walkout.demo.run`)."""

from walkout.demo.processes import DemoError
from walkout.demo.run import DemoOptions, DemoResult, run_demo

__all__ = ["DemoError", "DemoOptions", "DemoResult", "run_demo"]
