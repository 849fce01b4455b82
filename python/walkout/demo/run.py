"""``walkout demo``: the simulated store end to end, through cameras and the shipped model.

1. The scenario (with ``--shoppers`` / ``--minutes`` applied) is rendered by the simulator:
   every camera's video with its timestamps file, and the truth. Its clock is set to a day
   ahead (same time of day), see "Time" below. ``--detections oracle`` renders nothing: the
   boxes read the run's oracle detections instead of pixels (fast).
2. A real ``walkout server`` process starts (ZeroMQ with CURVE keys made for the run, SQLite
   in WAL mode, the HTTP API), then one real ``walkout edge --run`` process per edge box of
   the store, each with its own edge config, key and spool, reading its cameras' videos
   through ``walkout.edge.cameras`` (file sources, the run's timestamp files, every frame:
   ``--speed 0``) and the shipped ONNX model, live: what they send is what they compute now.
3. The entry gate and the shelf weight gateways send from this process (``feed.Gateways``),
   paced by the slowest live box (``GET /status`` of the server).
4. When the boxes are done, the gateways keep reporting (heartbeats) until every account has
   its receipt or the server has had the time it needs for lost shoppers and the settle
   window; then the server stops and everything is scored (``scoring.py``) into
   ``DIR/summary.json`` and ``DIR/report.html`` (``report.py``).

Time. The server's "now" is the later of the wall clock and the newest event time. Boxes
that read files at their own pace run slower (or faster) than real time, so a run stamped in
the present would fall behind the server's wall clock and be taken for late. The run is
stamped on a future day instead: then the server's time is purely the sources' own (its
watermark is the slowest source's progress), which is what a live store gets from boxes that
keep up. Latencies are reported in store time (exit to decision, as a store with boxes in
real time would see them) via the (wall, store time) samples the pacing loop records.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import yaml

from walkout.demo.processes import (
    Child,
    DemoError,
    ServerProcess,
    check_port,
    start,
    start_server,
    stop,
    write_edge_config,
    write_server_config,
)

log = logging.getLogger("walkout.demo")
_NS = 1_000_000_000

Detections = Literal["model", "oracle"]


@dataclass
class DemoOptions:
    scenario: Path
    out: Path
    seed: int | None = None
    shoppers: int | None = None
    minutes: float | None = None
    detections: Detections = "model"
    edge: Literal["live", "truth"] = "live"
    render: tuple[int, int] | None = None
    fps: float | None = None
    model: Path | None = None
    port: int = 0
    settle_s: float = 15.0
    max_source_lag_s: float = 60.0
    """the demo's server waits this long (store time) for a silent box: the boxes run at
    their own pace and may drift apart; a box that died costs this much latency"""
    lead_s: float = 1.0
    tail_rate: float = 40.0
    """store seconds per wall second once the boxes are done (heartbeats only)"""
    progress: bool = True
    kill_box: tuple[str, float] | None = None
    """fault injection (tests): kill this box's process once it reached this run second"""


@dataclass
class DemoResult:
    summary: dict[str, Any] = field(default_factory=dict)
    out: Path | None = None
    run_dir: Path | None = None
    database: Path | None = None


def prepare_scenario(opts: DemoOptions, out: Path) -> Path:
    """The scenario as this run plays it, written to ``out/scenario.yaml``; a bad scenario
    file raises ConfigError naming its own file, line and key."""
    from walkout.sim.runner import load_scenario

    if not Path(opts.scenario).is_file():
        raise DemoError(f"--scenario: {opts.scenario} not found")
    scenario, store = load_scenario(opts.scenario)  # validates: file:line: key: what
    data = yaml.safe_load(Path(opts.scenario).read_text())
    data["store"] = str(store)
    if opts.shoppers is not None:
        if opts.shoppers < 1:
            raise DemoError(f"--shoppers: expected at least 1, got {opts.shoppers}")
        data["shoppers"] = opts.shoppers
    if opts.minutes is not None:
        if not opts.minutes > 0:
            raise DemoError(f"--minutes: expected > 0, got {opts.minutes}")
        scale = opts.minutes * 60.0 / scenario.duration_s
        data["duration_s"] = opts.minutes * 60.0
        data["arrival_window_s"] = scenario.arrival_window() * scale
        if scenario.camera_failure is not None:
            failure = dict(data["camera_failure"])
            failure["start_s"] = scenario.camera_failure.start_s * scale
            failure["duration_s"] = scenario.camera_failure.duration_s * scale
            data["camera_failure"] = failure
    if opts.render is not None:
        data.setdefault("render", {})
        data["render"]["width"], data["render"]["height"] = opts.render
    if opts.fps is not None:
        data.setdefault("render", {})
        data["render"]["fps"] = opts.fps
    start = scenario.start_time.astimezone(timezone.utc)
    today = datetime.now(timezone.utc).date() + timedelta(days=1)
    data["start_time"] = datetime.combine(today, start.timetz()).isoformat()
    path = out / "scenario.yaml"
    path.write_text("# Written by `walkout demo`: " + str(opts.scenario) + " as this run "
                    "plays it.\n" + yaml.safe_dump(data, sort_keys=False))
    return path


def _model_file(opts: DemoOptions) -> Path:
    from walkout.resources import models_dir

    model = Path(opts.model) if opts.model is not None else models_dir() / "walkout-pose.onnx"
    if not model.is_file():
        raise DemoError(f"model file {model} not found (the edge boxes' ONNX model; "
                        "`--model FILE` or the package's models/walkout-pose.onnx)")
    return model.resolve()


def _bar(enabled: bool, **kwargs: Any) -> Any:
    from tqdm import tqdm

    return tqdm(disable=not enabled, leave=True, dynamic_ncols=True, **kwargs)


def run_demo(opts: DemoOptions) -> DemoResult:
    """Run the demo into ``opts.out`` (created fresh); returns the summary."""
    from walkout.replay.sim_truth import true_receipts
    from walkout.sim import simulate
    from walkout.sim.run import Run
    from walkout.wire import generate_keys

    wall0 = time.monotonic()
    out = Path(opts.out).resolve()
    model = _model_file(opts) if opts.edge == "live" else None
    check_port(opts.port)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    logs = out / "logs"
    logs.mkdir()
    scenario = prepare_scenario(opts, out)
    run_dir = out / "run"
    render = opts.edge == "live" and opts.detections == "model"
    bars: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            bars[stage] = _bar(opts.progress, total=total, desc=f"sim {stage}")
        bars[stage].total = total
        bars[stage].n = done
        bars[stage].refresh()

    t = time.monotonic()
    simulate(scenario, run_dir, seed=opts.seed, oracle=not render, progress=progress)
    for bar in bars.values():
        bar.close()
    render_s = time.monotonic() - t
    run = Run(run_dir)
    store = run.store().config
    boxes = [b.id for b in store.edge_boxes
             if {c.id for c in store.cameras_of(b.id)} & set(run.cameras)]
    gateway_messages = [*run.checkins(), *run.weights()]
    gateway_sources = sorted({m.src for m in gateway_messages})
    keys = out / "keys"
    for name in ("server", *boxes, *gateway_sources):
        generate_keys(name, keys)
    config = write_server_config(out, run_dir / "store" / "store.yaml", keys,
                                 [*boxes, *gateway_sources], opts.port, opts.settle_s)
    truth = true_receipts(run_dir)
    server = start_server(config, logs, opts.settle_s, opts.max_source_lag_s)
    log.info("server up: ingest %s, HTTP %s", server.ingest, server.http)
    edges: dict[str, Child] = {}
    samples: list[tuple[int, int]] = []
    try:
        if opts.edge == "truth":
            _play_truth(run_dir, server, keys, out)
        else:
            for box in boxes:
                cams = [c.id for c in store.cameras_of(box) if c.id in run.cameras]
                edge_config = write_edge_config(out, box, run, cams, model,  # type: ignore[arg-type]
                                                server.ingest, keys)
                edges[box] = start(f"edge-{box}", [
                    "edge", "--run", str(run_dir), "--config", str(edge_config),
                    "--detections", opts.detections, "--speed", "0",
                    "--health-interval", "1", "--stats", str(out / f"stats-{box}.json")],
                    logs)
            samples = _pace(opts, run, server, edges, gateway_messages, keys, out, truth)
        _settle_truth_mode(opts, server, truth) if opts.edge == "truth" else None
        status = server.get("/status")
    finally:
        for child in edges.values():
            stop(child)
        server_code = stop(server.child)
    if server_code not in (0, None, -signal.SIGTERM):
        log.warning("walkout server exited with code %s (log %s)", server_code,
                    server.child.log)
    from walkout.demo.summary import summarize

    summary = summarize(opts, run, out, truth, edges, samples, status,
                        render_s=render_s, wall_s=time.monotonic() - wall0)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    try:
        from walkout.demo.report import write_report

        write_report(out, run, summary)
    except Exception:  # the report is a view: a failure there must not lose the summary
        log.exception("report.html could not be written")
    return DemoResult(summary, out, run_dir, out / "store.db")


def _pace(opts: DemoOptions, run: Any, server: ServerProcess, edges: dict[str, Child],
          gateway_messages: list[Any], keys: Path, out: Path,
          truth: dict[str, Any]) -> list[tuple[int, int]]:
    """Feed the gateways at the boxes' pace while they run, then the settle tail; returns the
    (wall ns, store ns) samples of the store clock."""
    from walkout.demo.feed import Gateways

    gateways = Gateways(gateway_messages, server.ingest, keys, out / "spool")
    start_ns, end_ns = run.start_ns, run.start_ns + int(run.meta["duration_s"] * _NS)
    frames = int(run.meta["duration_s"] * run.fps)
    bars = {b: _bar(opts.progress, total=frames, desc=f"{b} frames", unit="frame")
            for b in edges}
    samples: list[tuple[int, int]] = []
    lead = int(opts.lead_s * _NS)
    reached: dict[str, int] = {}
    try:
        while any(c.alive() for c in edges.values()):
            last = server.get("/status")["sources_last_ns"]
            alive = [b for b, c in edges.items() if c.alive()]
            for b in edges:
                reached[b] = max(reached.get(b, 0), int(last.get(b, 0)))
                done = max(0, min(frames, int((reached[b] - start_ns) / _NS * run.fps)))
                bars[b].n = done
                bars[b].refresh()
            if opts.kill_box is not None:
                box, after_s = opts.kill_box
                if (edges[box].alive() and not edges[box].killed
                        and reached.get(box, 0) >= start_ns + after_s * _NS):
                    log.warning("fault injection: killing %s's process", box)
                    edges[box].killed = True
                    os.kill(edges[box].process.pid, signal.SIGKILL)
            progress = [reached[b] for b in alive if reached.get(b, 0) >= start_ns]
            clock = min(progress) if len(progress) == len(alive) and progress else start_ns
            gateways.advance(clock + lead)
            samples.append((time.time_ns(), clock))
            time.sleep(0.2)
        for bar in bars.values():
            bar.close()
        for b, c in edges.items():
            if c.process.returncode != 0:
                log.warning("edge box %s's process ended with code %s (log %s)", b,
                            c.process.returncode, c.log)
        # The boxes are done: the gateways' heartbeats move the server's clock on (it waits
        # max_source_lag_s for the silent boxes) until every account has its receipt, or
        # lost shoppers (120 s) and the settle window have had their time.
        clock = max([end_ns, *reached.values()])
        tail_end = clock + int((120.0 + opts.settle_s + opts.max_source_lag_s + 5.0) * _NS)
        bar = _bar(opts.progress, total=round((tail_end - clock) / _NS), desc="settle",
                   unit="store s")
        base = clock
        step = int(opts.tail_rate * 0.1 * _NS)
        while clock < tail_end:
            clock = min(tail_end, clock + step)
            gateways.advance(clock + lead)
            samples.append((time.time_ns(), clock))
            bar.n = round((clock - base) / _NS)
            bar.refresh()
            time.sleep(0.1)
            decided = {r["account"] for r in server.get("/receipts")}
            if set(truth) <= decided:
                break
        bar.close()
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:  # the last decisions of the core thread
            if set(truth) <= {r["account"] for r in server.get("/receipts")}:
                break
            time.sleep(0.2)
    finally:
        if not gateways.close():
            log.warning("the server did not acknowledge every gateway message")
    return samples


def _play_truth(run_dir: Path, server: ServerProcess, keys: Path, out: Path) -> None:
    """``--edge truth``: the boxes' messages made from the ground truth (the server's logic
    alone), played with the gateways' own by ``walkout.replay`` at 25x."""
    from walkout.replay import load_run, replay

    messages = load_run(run_dir, edge="truth")
    replay(messages, server.ingest, keys, keys / "server.key", out / "spool", speed=25.0,
           tail_s=140.0)


def _settle_truth_mode(opts: DemoOptions, server: ServerProcess, truth: dict[str, Any]) -> None:
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline:
        if set(truth) <= {r["account"] for r in server.get("/receipts")}:
            return
        time.sleep(0.2)
