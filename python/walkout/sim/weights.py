"""Load cells under each slot and the shelf gateway that watches them.

Truth: a slot's load is its tray plus its items; an item leaves or lands at the middle of the
hold of a reach (``Reach.t_move``), and while a hand is in the slot it presses on the tray
(a transient of 4-14 g, below the gateway threshold). A reading is the load plus Gaussian noise plus a slow
random-walk drift (temperature, creep). A scripted shelf event (an item knocked out of its
tray, stock refilled) changes the load with no hand in the slot.

Gateway: like a real one it sees only readings. It keeps the last settled weight; when the
readings have been steady for ``settle_s`` (their spread within a few noise widths) at a level
more than ``threshold_g`` away from it, it reports a change: ``delta_g`` and ``after_g``, time
stamped when the readings settled. Quick successive picks in one slot merge into one change,
as they do in a real store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from walkout.sim.crowd import EXTEND_S, RETRACT_S, Reach
from walkout.sim.scenario import Weights
from walkout.sim.world import World

TRAY_G = 850.0  # empty tray and fixtures on each load cell


@dataclass(frozen=True)
class WeightChange:
    slot: int  # index into world.slots
    t_settled: float  # seconds from the run start
    t_start: float  # when the readings left the previous level
    delta_g: float
    after_g: float


@dataclass
class SensorTrace:
    slot: int
    times: np.ndarray  # (N,) seconds
    true_g: np.ndarray  # (N,) load without noise
    readings_g: np.ndarray  # (N,) what the cell reports


@dataclass(frozen=True)
class HandlessChange:
    """Items leaving (count < 0) or landing in a slot with no hand in it."""

    slot: int  # index into world.slots
    t: float  # seconds from the run start
    count: int


def slot_loads(world: World, reaches: list[Reach], stock: int,
               handless: Sequence[HandlessChange] = ()) -> dict[int, list[tuple[float, float]]]:
    """Per slot the true load changes: (time, grams added) in time order."""
    changes: dict[int, list[tuple[float, float]]] = {}
    for event in handless:
        unit = world.slots[event.slot].unit_weight_g
        changes.setdefault(event.slot, []).append((event.t, event.count * unit))
    for reach in reaches:
        if reach.kind == "touch" or reach.count == 0:
            continue
        assert reach.sku is not None
        unit = world.store.product(reach.sku).unit_weight_g
        sign = -1.0 if reach.kind == "pick" else 1.0
        changes.setdefault(reach.slot, []).append((reach.t_move, sign * reach.count * unit))
    for slot in changes:
        changes[slot].sort()
    return changes


def simulate_sensors(world: World, reaches: list[Reach], settings: Weights, duration_s: float,
                     rng: np.random.Generator,
                     handless: Sequence[HandlessChange] = ()) -> list[SensorTrace]:
    n = int(np.floor(duration_s * settings.rate_hz)) + 1
    times = np.arange(n) / settings.rate_hz
    changes = slot_loads(world, reaches, settings.stock, handless)
    by_slot: dict[int, list[Reach]] = {}
    for reach in reaches:
        by_slot.setdefault(reach.slot, []).append(reach)
    traces = []
    step_min = 1.0 / settings.rate_hz / 60.0
    for info in world.slots:
        if info.sensor is None:
            continue
        true = np.full(n, TRAY_G + settings.stock * info.unit_weight_g)
        for t, grams in changes.get(info.index, ()):
            true[times >= t] += grams
        pressed = np.zeros(n)
        for reach in by_slot.get(info.index, ()):
            hold = (times >= reach.t_start + EXTEND_S) & (times <= reach.t_end - RETRACT_S)
            pressed[hold] += rng.uniform(4.0, 14.0)
        drift = np.cumsum(rng.normal(0.0, settings.drift_g_per_min * np.sqrt(step_min), n))
        readings = true + pressed + drift + rng.normal(0.0, settings.noise_g, n)
        traces.append(SensorTrace(info.index, times, true, np.round(readings, 1)))
    return traces


def gateway_events(trace: SensorTrace, settings: Weights) -> list[WeightChange]:
    """The changes a shelf gateway reports from one sensor's readings."""
    r = trace.readings_g
    k = max(2, round(settings.settle_s * settings.rate_hz))
    if len(r) < k:
        return []
    # Rolling mean and spread over the last k readings, from cumulative sums.
    c1 = np.concatenate([[0.0], np.cumsum(r)])
    c2 = np.concatenate([[0.0], np.cumsum(r * r)])
    mean = (c1[k:] - c1[:-k]) / k
    var = np.maximum((c2[k:] - c2[:-k]) / k - mean * mean, 0.0)
    steady = np.sqrt(var) <= max(3.0 * settings.noise_g, 1.0)
    events: list[WeightChange] = []
    level = float(mean[0])
    left_at: float | None = None
    for j in range(len(mean)):
        i = j + k - 1  # index of the newest reading in the window
        off = abs(r[i] - level) > settings.threshold_g
        if off and left_at is None:
            left_at = float(trace.times[i])
        if steady[j]:
            if abs(mean[j] - level) > settings.threshold_g:
                events.append(WeightChange(trace.slot, float(trace.times[i]),
                                           left_at if left_at is not None else float(trace.times[i]),
                                           float(mean[j] - level), float(mean[j])))
                level = float(mean[j])
            else:
                # Follow slow drift while nothing happens.
                level = 0.98 * level + 0.02 * float(mean[j])
            left_at = None
    return events
