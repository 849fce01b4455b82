"""One simulator run, start to finish: crowd, sensors, ground truth, then per camera either
rendered video (render mode) or analytic truth (oracle mode), oracle detections, and the run
directory (format in walkout.sim.run)."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from walkout import protocol
from walkout.config import load_config, resolve
from walkout.sim.capture import capture_times, to_ns
from walkout.sim.crowd import Timeline, simulate_crowd
from walkout.sim.oracle import CameraTruth, analytic_truth, detect, static_depth_coarse
from walkout.sim.run import FORMAT, FORMAT_VERSION, LAYOUT, Run
from walkout.sim.scenario import Scenario
from walkout.sim.truth import Move, TrueReach, as_dicts, moves, receipts, true_reaches
from walkout.sim.weights import HandlessChange, SensorTrace, gateway_events, simulate_sensors
from walkout.sim.world import World, build_world

_AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent random stream per purpose, so that e.g. rendering cam3 on another
    worker, or adding a camera, changes nothing else in the run."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(name.encode())]))


def load_scenario(path: Path | str) -> tuple[Scenario, Path]:
    """The scenario and its store file's absolute path; ConfigError on a bad file."""
    loaded = load_config(path)
    scenario = loaded.config
    if not isinstance(scenario, Scenario):
        kind = getattr(scenario, "kind", "?")
        raise ValueError(f"scenario: {path} is a kind '{kind}' file; expected kind: scenario")
    store = resolve(Path(path).resolve(), scenario.store)
    if not store.is_file():
        raise ValueError(f"scenario {path}: store file {store} not found (store: is relative "
                         "to the scenario file)")
    if scenario.script is not None:
        check_script_slots(Path(path).resolve(), scenario, store)
    return scenario, store


def check_script_slots(path: Path, scenario: Scenario, store_path: Path) -> None:
    """Every slot a script names is in the store file, and a put-back goes into the same
    shelf face (where the hand can reach from the stop); ConfigError naming file:line."""
    from walkout.config import ConfigError, load_store
    from walkout.config.yaml_source import read_yaml

    assert scenario.script is not None
    store = load_store(store_path).config
    faces = {shelf.slot_id(slot): (shelf.id, slot.face) for shelf in store.shelves
             for slot in shelf.slots}
    source = read_yaml(path)
    issues = []
    for loc, slot in scenario.script.slot_refs():
        if slot not in faces:
            issues.append(source.issue(loc, f"no slot '{slot}' in {store_path.name}; expected "
                                       f"one of {', '.join(sorted(faces)[:6])}, ..."))
    stops = [stop for shopper in scenario.script.shoppers
             for stop in (*shopper.stops, *(s for c in shopper.companions for s in c.stops))]
    for loc, slot in scenario.script.slot_refs():
        if loc[-1] != "into" or slot not in faces:
            continue
        stop = next(s for s in stops if s.into == slot)
        if stop.slot in faces and faces[stop.slot] != faces[slot]:
            issues.append(source.issue(loc, f"'{slot}' is not on the face of '{stop.slot}'; "
                                       "expected a slot of the same shelf face (in reach)"))
    if issues:
        raise ConfigError(issues)


@dataclass
class _Shared:
    """What render workers need; inherited by fork, never pickled."""

    world: World
    timeline: Timeline
    scenario: Scenario
    seed: int
    out: Path
    oracle: bool
    frames_done: Any  # multiprocessing.Value("q"): frames rendered so far, all workers


_SHARED: _Shared | None = None


def _camera_job(camera_index: int) -> tuple[str, int, float]:
    assert _SHARED is not None
    s = _SHARED
    camera = s.world.cameras[camera_index]
    started = time.perf_counter()
    frame_t = capture_times(s.scenario, camera.id, stream(s.seed, f"capture/{camera.id}"))
    if s.oracle:
        truth = analytic_truth(s.timeline, camera, static_depth_coarse(s.world, camera), frame_t)
    else:
        truth = _render_camera(s, camera_index, frame_t)
    _write_truth(s, camera.id, truth)
    return camera.id, len(frame_t), time.perf_counter() - started



def _render_camera(s: _Shared, camera_index: int, frame_t: np.ndarray) -> CameraTruth:
    import cv2

    from walkout.sim.render import CameraRenderer

    camera = s.world.cameras[camera_index]
    renderer = CameraRenderer(s.world, s.timeline, camera, s.scenario.render.noise_sigma,
                              stream(s.seed, f"noise/{camera.id}"), s.scenario.render.blur_px)
    render = s.scenario.render
    ext = ".mp4" if render.codec == "mp4v" else ".avi"
    video = s.out / "video" / f"{camera.id}{ext}"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*render.codec), render.fps,
                             (camera.width, camera.height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {render.codec} video to {video}")
    t_ns = to_ns(s.scenario, frame_t)
    recs: dict[str, list[np.ndarray]] = {k: [] for k in ("rec_frame", "person", "box", "box_full",
                                                         "keypoints", "visible_px", "full_px")}
    with (s.out / "video" / f"{camera.id}.timestamps.csv").open("w") as ts:
        ts.write("frame_index,t_ns\n")
        for i, t in enumerate(frame_t):
            image, truth = renderer.render(float(t))
            writer.write(image)
            ts.write(f"{i},{t_ns[i]}\n")
            if i % 20 == 19:
                with s.frames_done.get_lock():
                    s.frames_done.value += 20
            recs["rec_frame"].append(np.full(len(truth.person), i, np.int32))
            recs["person"].append(truth.person)
            recs["box"].append(truth.box)
            recs["box_full"].append(truth.box_full)
            recs["keypoints"].append(truth.keypoints)
            recs["visible_px"].append(truth.visible_px)
            recs["full_px"].append(truth.full_px)
    writer.release()
    cat = {k: np.concatenate(v) if v else np.zeros(0) for k, v in recs.items()}
    return CameraTruth(frame_t, cat["rec_frame"].astype(np.int32), cat["person"].astype(np.int32),
                       cat["box"].reshape(-1, 4), cat["box_full"].reshape(-1, 4),
                       cat["keypoints"].reshape(-1, 17, 3), cat["visible_px"].astype(np.int32),
                       cat["full_px"].astype(np.int32))


def _write_truth(s: _Shared, camera_id: str, truth: CameraTruth) -> None:
    np.savez(
        s.out / "truth" / f"{camera_id}.npz", frame_index=np.arange(len(truth.frame_t), dtype=np.int64),
        t_ns=to_ns(s.scenario, truth.frame_t), rec_frame=truth.rec_frame, person=truth.person,
        box=truth.box, box_full=truth.box_full, keypoints=truth.keypoints,
        visible_px=truth.visible_px, full_px=truth.full_px)
    cam = next(c for c in s.world.cameras if c.id == camera_id)
    det = detect(truth, cam.width, cam.height, s.scenario.oracle, stream(s.seed, f"oracle/{camera_id}"))
    np.savez(s.out / "oracle" / f"{camera_id}.npz", rec_frame=det.rec_frame,
                        box=det.box, score=det.score, keypoints=det.keypoints, person=det.person)


def simulate(scenario_path: Path | str, out: Path | str, seed: int | None = None,
             oracle: bool = False, workers: int | None = None,
             progress: Callable[[str, int, int], None] | None = None) -> Run:
    """Run a scenario into the directory ``out`` (created; must be empty or absent).

    ``oracle``: skip rendering; truth from geometry and oracle detections only (fast).
    ``workers``: processes rendering cameras in parallel (default: the usable cores).
    ``progress(stage, done, total)``: called as the run advances.
    """
    global _SHARED
    scenario, store_path = load_scenario(scenario_path)
    seed = scenario.seed if seed is None else int(seed)
    if seed < 0:
        raise ValueError(f"seed: expected an integer >= 0, got {seed}")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"out: {out} exists and is not empty; choose a new directory")
    report = progress or (lambda *_: None)

    world = build_world(store_path, scenario.render.width, scenario.render.height, scenario.cameras)
    failure = scenario.camera_failure
    if failure is not None and failure.camera not in {c.id for c in world.cameras}:
        raise ValueError(f"camera_failure.camera: '{failure.camera}' is not among the rendered "
                         f"cameras {[c.id for c in world.cameras]}")
    for sub in ("store/calib", "truth", "oracle", "messages", "sensors", "video"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    timeline = simulate_crowd(world, scenario, stream(seed, "crowd"),
                              progress=lambda done, total: report("crowd", done, total))
    reaches = true_reaches(world, timeline)
    all_moves = moves(world, timeline)
    handless = _handless(world, scenario)
    traces = simulate_sensors(world, timeline.reaches, scenario.weights, scenario.duration_s,
                              stream(seed, "sensors"), handless)

    context = multiprocessing.get_context("fork")
    _SHARED = _Shared(world, timeline, scenario, seed, out, oracle, context.Value("q", 0))
    n = len(world.cameras)
    jobs = workers if workers is not None else len(os.sched_getaffinity(0))
    jobs = max(1, min(jobs, n))
    if oracle or threading.active_count() > 1:
        # Oracle runs take seconds: a pool costs more than it saves. And fork is only safe in
        # a single-threaded process: a lock held by another thread at fork time (logging,
        # ZeroMQ, a test harness) stays locked forever in the worker and hangs the pool.
        jobs = 1
    stage = "cameras" if oracle else "frames"
    total = n if oracle else sum(
        len(capture_times(scenario, c.id, stream(seed, f"capture/{c.id}"))) for c in world.cameras)
    report(stage, 0, total)
    try:
        if jobs == 1:
            for k in range(n):
                _camera_job(k)
                report(stage, k + 1 if oracle else _SHARED.frames_done.value, total)
        else:
            # fork: workers inherit the world and the timeline instead of pickling them.
            with context.Pool(jobs) as pool:
                pending = pool.map_async(_camera_job, range(n))
                while not pending.ready():
                    pending.wait(0.5)
                    if not oracle:
                        report(stage, min(_SHARED.frames_done.value, total - 1), total)
                pending.get()  # re-raises a worker's exception here
        report(stage, total, total)
    finally:
        _SHARED = None

    _write_store(world, out)
    _write_messages(world, scenario, timeline, traces, seed, out)
    _write_events(world, scenario, timeline, reaches, all_moves, out)
    _write_sensors(world, scenario, traces, out)
    _write_meta(world, scenario, timeline, seed, oracle, out)
    return Run(out)


def _handless(world: World, scenario: Scenario) -> list[HandlessChange]:
    """The script's shelf events (no hand in the slot) as load changes."""
    if scenario.script is None:
        return []
    index = {s.slot_id: s.index for s in world.slots}
    return [HandlessChange(index[e.slot], e.at_s, e.items) for e in scenario.script.shelf_events
            if e.at_s <= scenario.duration_s]


def _write_store(world: World, out: Path) -> None:
    store_path = world.loaded.path
    text = store_path.read_text()
    for ref in world.store.cameras:
        src = resolve(store_path, ref.calibration)
        shutil.copyfile(src, out / "store" / "calib" / f"{ref.id}.yaml")
        text = text.replace(str(ref.calibration), f"calib/{ref.id}.yaml")
    (out / "store" / "store.yaml").write_text(text)


def _write_messages(world: World, scenario: Scenario, timeline: Timeline, traces: list[SensorTrace], seed: int,
                    out: Path) -> None:
    rng = stream(seed, "profiles")
    entry = next(g.id for g in world.store.gates if g.kind == "entry")
    encoder = msgspec.json.Encoder()
    with (out / "messages" / "checkin.jsonl").open("wb") as f:
        for seq, c in enumerate(sorted(timeline.checkins, key=lambda c: c.t), start=1):
            shared = rng.random() < 0.5
            profile = protocol.SharedProfile(age_band=_AGE_BANDS[int(rng.integers(len(_AGE_BANDS)))]
                                             if shared else None)
            msg = protocol.Checkin(src=entry, seq=seq, t_ns=int(to_ns(scenario, c.t)), gate=entry,
                                   account=c.account, party_size=c.party_size, profile=profile)
            f.write(encoder.encode(msg) + b"\n")
    events = []
    for trace in traces:
        for change in gateway_events(trace, scenario.weights):
            events.append(change)
    events.sort(key=lambda e: (e.t_settled, e.slot))
    seqs: dict[str, int] = {}
    with (out / "messages" / "weight.jsonl").open("wb") as f:
        for e in events:
            info = world.slots[e.slot]
            src = f"gw-{info.shelf.id}"
            seqs[src] = seqs.get(src, 0) + 1
            msg = protocol.Weight(src=src, seq=seqs[src], t_ns=int(to_ns(scenario, e.t_settled)),
                                  shelf=info.shelf.id, slot=info.slot_id,
                                  delta_g=round(e.delta_g, 1), after_g=round(e.after_g, 1))
            f.write(encoder.encode(msg) + b"\n")


def _write_events(world: World, scenario: Scenario, timeline: Timeline, reaches: list[TrueReach], all_moves: list[Move],
                  out: Path) -> None:
    reach_rows = []
    for r in as_dicts(reaches):
        r["start_ns"] = int(to_ns(scenario, r.pop("start_s")))
        r["end_ns"] = int(to_ns(scenario, r.pop("end_s")))
        reach_rows.append(r)
    move_rows = []
    for m in as_dicts(all_moves):
        m["t_ns"] = int(to_ns(scenario, m.pop("t_s")))
        move_rows.append(m)
    events: dict[str, list[dict]] = {"reaches": reach_rows, "moves": move_rows}
    if scenario.script is not None:  # (absent otherwise: random runs stay as they were)
        events["shelf_events"] = [
            {"shelf": world.slots[e.slot].shelf.id, "slot": world.slots[e.slot].slot_id,
             "sku": world.slots[e.slot].sku, "count": e.count,
             "t_ns": int(to_ns(scenario, e.t))} for e in _handless(world, scenario)]
    (out / "truth" / "events.json").write_text(json.dumps(events, indent=1))
    (out / "truth" / "receipts.json").write_text(json.dumps(
        receipts(world, timeline, all_moves), indent=1))
    np.savez_compressed(out / "truth" / "trajectories.npz", t_ns=to_ns(scenario, timeline.times),
                        pos=timeline.pos.astype(np.float32), heading=timeline.heading.astype(np.float32),
                        present=timeline.present)


def _write_sensors(world: World, scenario: Scenario, traces: list[SensorTrace], out: Path) -> None:
    if not traces:
        return
    np.savez_compressed(out / "sensors" / "readings.npz", t_ns=to_ns(scenario, traces[0].times),
                        slots=np.array([world.slots[t.slot].slot_id for t in traces]),
                        readings_g=np.stack([t.readings_g for t in traces], 1).astype(np.float32),
                        true_g=np.stack([t.true_g for t in traces], 1).astype(np.float32))


def _write_meta(world: World, scenario: Scenario, timeline: Timeline, seed: int, oracle: bool,
                out: Path) -> None:
    people = [{"id": p.id, "account": p.account, "leader": p.leader, "child": p.child,
               "height_m": round(p.height_m, 3), "shirt_rgb": p.shirt, "trousers_rgb": p.trousers,
               "enter_ns": int(to_ns(scenario, timeline.times[np.argmax(timeline.present[:, p.id])]))
               if timeline.present[:, p.id].any() else None,
               "exit_ns": int(to_ns(scenario, timeline.exits[p.id])) if p.id in timeline.exits else None}
              for p in timeline.people]
    meta = {
        "format": FORMAT, "version": FORMAT_VERSION, "mode": "oracle" if oracle else "render",
        "seed": seed, "scenario": json.loads(scenario.dump_json()),
        "start_ns": scenario.start_ns(), "duration_s": scenario.duration_s,
        "fps": scenario.render.fps, "codec": scenario.render.codec,
        "image_size": [scenario.render.width, scenario.render.height],
        "cameras": [c.id for c in world.cameras], "people": people,
    }
    (out / "run.json").write_text(json.dumps(meta, indent=1))
    all_reaches = json.loads((out / "truth" / "events.json").read_text())["reaches"]
    n_reach = len(all_reaches)
    close = sum(1 for r in all_reaches if r["neighbours"] > 0)
    summary = (f"Scenario `{scenario.name}`, seed {seed}, {meta['mode']} mode: "
               f"{scenario.duration_s:g} s from {scenario.start_time.isoformat()}, "
               f"{len(timeline.people)} people on {len({p.account for p in timeline.people})} carts, "
               f"{n_reach} reaches "
               f"({close} with another shopper within 1.2 m), "
               f"cameras {', '.join(meta['cameras'])} at {scenario.render.width}x"
               f"{scenario.render.height}, {scenario.render.fps:g} fps.")
    (out / "README.md").write_text(
        f"# walkout simulator run\n\n{summary}\n\nFormat `{FORMAT}` version {FORMAT_VERSION}. "
        "Read it with `walkout.sim.Run(path)` rather than by hand. All times are integer "
        "nanoseconds since the Unix epoch (UTC); floor positions in metres in the store frame; "
        "pixels at the render size; keypoints are the 17 COCO keypoints in COCO order.\n\n"
        + LAYOUT)
