"""``kind: scenario``: one simulator run (walkout.sim), as a YAML file in configs/scenarios/.

Everything a run does follows from this file and its seed: the same file and seed give the
same shoppers, frames, sensor readings and ground truth, byte for byte.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from walkout.config import register_kind
from walkout.config.base import (
    Identifier,
    NonNegativeFloat,
    PositiveFloat,
    Probability,
    StrictModel,
)


class Shopping(StrictModel):
    """What shoppers do once inside."""

    stops_min: int = Field(1, ge=0, description="fewest shelf stops per shopper")
    stops_max: int = Field(4, ge=0, description="most shelf stops per shopper; more stops = "
                           "longer visits and more interactions per person")
    max_items: int = Field(3, ge=1, le=9, description="most items taken at one stop (1..k)")
    browse_rate: Probability = Field(0.25, description="share of stops where the shopper "
                                     "looks (and half the time touches) but takes nothing")
    put_back_rate: Probability = Field(0.15, description="share of buying stops that end "
                                       "with one item put back")
    wrong_slot_rate: Probability = Field(0.3, description="share of put-backs that go into a "
                                         "neighbouring slot instead of the one taken from")
    walk_speed: PositiveFloat = Field(1.1, description="mean walking speed, m/s (persons vary "
                                      "by ±20 %)")


class Render(StrictModel):
    """How cameras deliver frames."""

    width: int = Field(640, ge=64, le=3840, description="rendered image width, pixels")
    height: int = Field(360, ge=36, le=2160, description="rendered image height, pixels (same "
                        "aspect ratio as the calibration)")
    fps: PositiveFloat = Field(10.0, le=60, description="frames per second per camera; higher "
                               "gives smoother tracks and costs rendering time linearly")
    codec: Literal["MJPG", "mp4v"] = Field("MJPG", description="video codec: MJPG in .avi "
                                           "(always readable by OpenCV) or mp4v in .mp4")
    jitter_ms: NonNegativeFloat = Field(3.0, description="std of capture-time jitter per frame")
    drop_rate: Probability = Field(0.005, description="chance a frame is dropped (no frame, no "
                                   "timestamp row)")
    noise_sigma: NonNegativeFloat = Field(3.0, description="sensor noise std in grey levels")
    blur_px: NonNegativeFloat = Field(0.6, le=3.0, description="std of the lens blur in pixels "
                                      "(a 3x3 Gaussian up to 1 px, larger kernels above); 0 "
                                      "gives hard, aliased edges no real camera has")


class CameraFailure(StrictModel):
    """A camera that delivers nothing for a while (cable pulled, stream down)."""

    camera: Identifier = Field(description="camera id from the store file")
    start_s: NonNegativeFloat = Field(description="seconds after the run start when it fails")
    duration_s: PositiveFloat = Field(description="how long it stays down")


class Weights(StrictModel):
    """Load cells under each slot and the shelf gateway that turns readings into events."""

    rate_hz: PositiveFloat = Field(10.0, description="readings per second per sensor")
    noise_g: NonNegativeFloat = Field(2.0, description="std of reading noise, grams")
    drift_g_per_min: NonNegativeFloat = Field(0.5, description="std of the slow random-walk "
                                              "drift per minute, grams")
    settle_s: PositiveFloat = Field(0.6, description="the reading must be steady this long "
                                    "before a change is reported; longer merges quick picks")
    threshold_g: PositiveFloat = Field(20.0, description="smallest change reported, grams; "
                                       "lower catches light items but reports noise")
    stock: int = Field(20, ge=1, description="items in each slot at the start")


class Oracle(StrictModel):
    """Noise of oracle detections (made from ground truth instead of a model): at least as
    hard as a good real detector at 640x360."""

    miss_rate: Probability = Field(0.06, description="chance a fully visible person is missed")
    miss_per_occlusion: NonNegativeFloat = Field(0.6, description="added miss chance per unit "
                                                 "of occluded fraction")
    box_jitter: NonNegativeFloat = Field(0.04, description="std of each box edge as a share "
                                         "of the box width (x) or height (y)")
    keypoint_px: NonNegativeFloat = Field(3.5, description="std of keypoint noise in pixels at "
                                          "640 px width (scaled with the render width)")
    false_positives_per_frame: NonNegativeFloat = Field(0.5, description="mean false "
                                                        "detections per camera per frame")
    # Measured on the shipped pose model (benchmarks/calibrate_oracle_keypoints.py, results in
    # benchmarks/results/oracle_keypoints.md): on train.yaml seed 960, wrists the truth marks
    # hidden were placed with a median error of 8.1 px (6.2 px seen) at confidences 0.02 /
    # 0.29 / 0.61 (10th / 50th / 90th percentile; seen: 0.41 / 0.61 / 0.78).
    hidden_wrist_px: NonNegativeFloat = Field(
        6.9, description="std of a hidden wrist's noise per axis in pixels at 640 px width "
        "(scaled with the render width): the shipped model's median hidden-wrist error "
        "8.1 px / 1.177. Raising it makes hidden wrists (inside shelves, behind bodies) "
        "less useful to triangulate")
    hidden_wrist_confidence: tuple[Probability, Probability] = Field(
        (0.02, 0.61), description="range of a hidden wrist's confidence, drawn uniformly: "
        "the shipped model's 10th-90th percentiles. Lowering it puts more hidden wrists "
        "under a consumer's confidence threshold")
    drop_hidden_wrists: bool = Field(
        False, description="drop every hidden wrist (confidence 0, position 0, 0), as the "
        "oracle did before its calibration: harder than any real pose model, which places "
        "every keypoint")

    @model_validator(mode="after")
    def _confidence_range(self) -> Oracle:
        lo, hi = self.hidden_wrist_confidence
        if lo > hi:
            raise ValueError("hidden_wrist_confidence: expected (low, high) with low <= high")
        return self


class ScriptStop(StrictModel):
    """One stop of a scripted shopper: where they stand and what their hands do there."""

    slot: str = Field(description="slot id in the store file (e.g. S7/front/r0c0): the "
                      "shopper stands in front of it")
    take: int = Field(0, ge=0, le=9, description="items taken from the slot, one reach each")
    put_back: int = Field(0, ge=0, le=9, description="of the items taken here, how many go "
                          "back (one reach each, after the takes)")
    into: str | None = Field(None, description="slot the put-backs go into; default the "
                             "slot itself; another slot of the same shelf face is the "
                             "wrong-slot case (misplaced stock)")
    touch: bool = Field(False, description="one reach into the slot that takes nothing (a "
                        "shopper who handles an item and leaves it), before any take")
    look_s: PositiveFloat = Field(1.5, description="seconds looking at the shelf after "
                                  "arriving, before the first reach")
    reach_at_s: NonNegativeFloat | None = Field(
        None, description="run time of the first reach here (the shopper waits at the shelf "
        "until then): how two scripted shoppers reach into one slot at once; default on "
        "arrival + look_s")
    offset_m: float | None = Field(None, ge=-1.0, le=1.0, description="where the shopper "
                                   "stands along the shelf, metres from the slot's centre; "
                                   "default random within the slot's middle 70 %")

    @model_validator(mode="after")
    def _put_back_what_was_taken(self) -> ScriptStop:
        if self.put_back > self.take:
            raise ValueError("put_back: expected at most take (only items taken at this stop "
                             "go back)")
        if self.into is not None and self.put_back == 0:
            raise ValueError("into: given without put_back")
        return self


class ScriptCompanion(StrictModel):
    """Someone who enters on the scripted shopper's scan and shops on the same cart."""

    child: bool = Field(False, description="a child (smaller, reaches lower slots only)")
    stops: list[ScriptStop] = Field(default_factory=list, description="the companion's own "
                                    "stops, in order")


class ScriptShopper(StrictModel):
    """A shopper whose visit is written out instead of drawn at random."""

    account: str | None = Field(None, min_length=1, description="account the scan names; "
                                "default script-NN (NN: 1-based position in the list)")
    arrive_s: NonNegativeFloat = Field(description="run time the shopper reaches the gate "
                                       "(they scan 0.4 s later, or later if the gate is busy)")
    stops: list[ScriptStop] = Field(default_factory=list, description="shelf stops in order; "
                                    "none: walks through and leaves")
    companions: list[ScriptCompanion] = Field(default_factory=list, description="people on "
                                              "the same scan (party size 1 + companions); "
                                              "each enters 1.5 s after the one before")


class ShelfEvent(StrictModel):
    """A change on a shelf with no hand in it: an item knocked over and rolling out of the
    tray, one falling behind the shelf, stock refilled by staff."""

    at_s: NonNegativeFloat = Field(description="run time the items leave or land")
    slot: str = Field(description="slot id in the store file")
    items: int = Field(description="items added (> 0) or removed (< 0); never 0")

    @model_validator(mode="after")
    def _nonzero(self) -> ShelfEvent:
        if self.items == 0:
            raise ValueError("items: expected a nonzero count (negative: items leave)")
        return self


class Script(StrictModel):
    """Scripted shoppers and shelf events, played besides (or instead of) the random ones:
    how the hard cases are made on purpose. Their people are drawn from their own random
    stream, so a scenario without a script runs exactly as before."""

    shoppers: list[ScriptShopper] = Field(default_factory=list)
    shelf_events: list[ShelfEvent] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_accounts(self) -> Script:
        seen: set[str] = set()
        for k, shopper in enumerate(self.shoppers):
            account = shopper.account or script_account(k)
            if account in seen:
                raise ValueError(f"shoppers[{k}].account: '{account}' is used twice; expected "
                                 "one account per scripted shopper (companions share theirs)")
            seen.add(account)
        return self

    def slot_refs(self) -> list[tuple[tuple[str | int, ...], str]]:
        """(key path from the scenario's top, slot id) of every slot the script names."""
        out: list[tuple[tuple[str | int, ...], str]] = []

        def stops(path: tuple[str | int, ...], items: list[ScriptStop]) -> None:
            for j, stop in enumerate(items):
                out.append(((*path, j, "slot"), stop.slot))
                if stop.into is not None:
                    out.append(((*path, j, "into"), stop.into))

        for k, shopper in enumerate(self.shoppers):
            stops(("script", "shoppers", k, "stops"), shopper.stops)
            for c, companion in enumerate(shopper.companions):
                stops(("script", "shoppers", k, "companions", c, "stops"), companion.stops)
        for k, event in enumerate(self.shelf_events):
            out.append((("script", "shelf_events", k, "slot"), event.slot))
        return out


def script_account(index: int) -> str:
    """The default account of the scripted shopper at ``index``."""
    return f"script-{index + 1:02d}"


class Scenario(StrictModel):
    kind: Literal["scenario"]
    name: str = Field("scenario", min_length=1)
    store: Path = Field(description="store file (kind: store), relative to this file")
    seed: int = Field(0, ge=0, description="default seed; `walkout sim --seed` overrides it")
    start_time: datetime = Field(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc),
                                 description="wall-clock start of the run (UTC); every *_ns "
                                 "time is nanoseconds since the Unix epoch from here")
    duration_s: PositiveFloat = Field(description="length of the run, seconds")
    shoppers: int = Field(ge=0, description="number of random check-ins (a group counts "
                          "once); scripted shoppers come on top")
    arrival_window_s: PositiveFloat | None = Field(
        None, description="arrivals spread over this many seconds from the start (Poisson "
        "process); default: the first 60 % of the run, so most shoppers leave before the end")
    group_rate: Probability = Field(0.2, description="share of check-ins that bring a "
                                    "companion (parent and child, friends) on the same cart")
    crowding: Probability = Field(0.3, description="chance a shopper picks the shelf where "
                                  "another is already standing: the close encounters where "
                                  "real systems fail")
    cameras: list[Identifier] | None = Field(None, description="cameras to render; default all")
    shopping: Shopping = Field(default_factory=Shopping)
    render: Render = Field(default_factory=Render)
    camera_failure: CameraFailure | None = None
    weights: Weights = Field(default_factory=Weights)
    oracle: Oracle = Field(default_factory=Oracle)
    script: Script | None = Field(None, description="scripted shoppers and shelf events (the "
                                  "hard cases on purpose); see docs/rooms/sim.md")

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if self.shopping.stops_min > self.shopping.stops_max:
            raise ValueError("shopping.stops_min must be <= shopping.stops_max")
        if self.start_time.tzinfo is None:
            raise ValueError("start_time must carry a time zone, e.g. 2026-03-02T09:00:00Z")
        return self

    def start_ns(self) -> int:
        return round(self.start_time.timestamp()) * 1_000_000_000

    def dump_json(self) -> str:
        """The scenario as JSON for run.json; without a script exactly as before scripts
        existed, so a random run's files stay byte for byte the same."""
        return self.model_dump_json(exclude={"script"} if self.script is None else None)

    def arrival_window(self) -> float:
        return self.arrival_window_s if self.arrival_window_s is not None else 0.6 * self.duration_s


register_kind("scenario", Scenario)
