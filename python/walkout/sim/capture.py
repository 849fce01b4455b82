"""When each camera captures: the nominal frame period plus jitter, the odd dropped frame, and
the camera-failure window of the scenario. Frames that are dropped or fall in the failure
window are not stored and have no timestamp row (the video timestamp contract)."""

from __future__ import annotations

import numpy as np

from walkout.sim.scenario import Scenario


def capture_times(scenario: Scenario, camera_id: str, rng: np.random.Generator) -> np.ndarray:
    """Seconds from the run start of every stored frame of one camera, increasing."""
    render = scenario.render
    period = 1.0 / render.fps
    n = int(np.floor(scenario.duration_s * render.fps)) + 1
    nominal = np.arange(n) * period
    jitter = rng.normal(0.0, render.jitter_ms * 1e-3, n)
    # Jitter never reorders frames nor leaves the run: at most 40 % of a period either way.
    t = nominal + np.clip(jitter, -0.4 * period, 0.4 * period)
    t = np.clip(t, 0.0, scenario.duration_s)
    keep = rng.random(n) >= render.drop_rate
    failure = scenario.camera_failure
    if failure is not None and failure.camera == camera_id:
        keep &= ~((t >= failure.start_s) & (t < failure.start_s + failure.duration_s))
    return t[keep]


def to_ns(scenario: Scenario, seconds: np.ndarray | float) -> np.ndarray:
    """Seconds from the run start -> integer ns since the Unix epoch (rounded to the ns)."""
    return scenario.start_ns() + np.round(np.asarray(seconds, np.float64) * 1e9).astype(np.int64)
