"""CPU latency of the shipped detector (issue #11's "Done when"), against the model a user
would otherwise drop in: the YOLOX-Nano COCO export from ../shared/data (416x416), when present.

Each model runs through the edge runtime's own ``Detector`` (letterbox -> onnxruntime's CPU
provider -> decode + NMS) on real simulator frames at 640x360, as configured in
configs/edge-a.yaml, at batch 1 and batch 8, with 1 and 2 onnxruntime threads. From the
1-thread time per frame follows how many 10 fps cameras one core sustains; the edge box has 2
cores and needs one for capture, tracking and the uplink.

Run: ``PYTHONPATH=python python benchmarks/bench_model.py [--quick]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import format_seconds, markdown_table, median_seconds, write_results
from walkout.config.edge import ModelSettings
from walkout.config.loader import load_edge
from walkout.edge.detector import Detector
from walkout.resources import configs_dir

SHARED_YOLOX = Path(__file__).resolve().parents[2] / "shared" / "data" / "models" / "yolox_nano.onnx"
CAMERA_FPS = 10.0


def sim_frames(count: int = 8, seed: int = 977) -> list[np.ndarray]:
    """``count`` 640x360 frames of a crowded simulator run (one per camera, people in view)."""
    from walkout.sim import Run, simulate

    folder = Path(tempfile.mkdtemp(prefix="bench-model-"))
    scenario = yaml.safe_load((configs_dir() / "scenarios" / "train.yaml").read_text())
    scenario.update(store=str(configs_dir() / "store.yaml"), duration_s=40, arrival_window_s=10)
    scenario["render"]["fps"] = 0.25
    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump(scenario))
    run = simulate(path, folder / "run", seed=seed)
    frames = []
    for camera in Run(run.path).cameras:
        frames += [image for _, _, image in Run(run.path).frames(camera)][-1:]
    return (frames * count)[:count]


def cpu_seconds_per_frame(detector: Detector, frames: list[np.ndarray], repeat: int) -> float:
    """Median CPU time of this process (every thread) per frame of a batch call: what the
    call takes from the box's cores, less sensitive than wall time to other load."""
    samples = []
    for _ in range(repeat):
        start = time.process_time()
        detector(frames)
        samples.append((time.process_time() - start) / len(frames))
    return float(np.median(samples))


def time_model(name: str, settings: ModelSettings, path: Path, frames: list[np.ndarray],
               repeat: int) -> list[list[object]]:
    rows = []
    for threads in (1, 2):
        detector = Detector(settings, path, threads=threads)
        one = median_seconds(lambda d=detector: d(frames[:1]), repeat=repeat)
        eight = median_seconds(lambda d=detector: d(frames[:8]), repeat=max(repeat // 4, 5))
        cpu = cpu_seconds_per_frame(detector, frames[:8], max(repeat // 4, 5))
        per_frame = min(one, eight / 8)
        cameras = 1.0 / (per_frame * CAMERA_FPS)
        width, height = settings.input_size
        rows.append([name, f"{width}x{height}", threads, format_seconds(one),
                     format_seconds(eight), format_seconds(eight / 8),
                     format_seconds(cpu), f"{cameras:.1f}" if threads == 1 else "", ])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    args = parser.parse_args()
    repeat = 7 if args.quick else 41
    frames = sim_frames()
    loaded = load_edge(configs_dir() / "edge-a.yaml")
    ours = loaded.config.model
    rows = time_model("walkout-pose", ours, (loaded.path.parent / ours.path).resolve(), frames, repeat)
    if SHARED_YOLOX.is_file():
        yolox = ModelSettings(path=SHARED_YOLOX, layout="yolox", letterbox="yolox",
                              input_size=(416, 416), conf_threshold=0.35, iou_threshold=0.5,
                              max_det=50, classes=[0], provider="cpu")
        rows += time_model("YOLOX-Nano (COCO)", yolox, SHARED_YOLOX, frames, repeat)
    table = markdown_table(
        ["model", "input", "ort threads", "batch 1", "batch 8", "batch 8 per frame",
         "batch 8 CPU time per frame", "10 fps cameras per core"], rows)
    body = (
        "Latency per call of the edge runtime's `Detector` (letterbox + onnxruntime CPU provider "
        "+ decode + NMS) on 640x360 simulator frames; medians of many runs on a shared machine. "
        "\"10 fps cameras per core\" = 1 / (10 x the best 1-thread time per frame). \"CPU time "
        "per frame\" is this process's CPU time (all threads, `time.process_time`) per frame of "
        "a batch-8 call: what inference takes from the box. onnxruntime's thread spinning is off "
        "(walkout.edge.detector), and the edge default is 1 thread (model.threads).\n\n" + table)
    write_results("model", "Shipped detector: CPU latency", body)


if __name__ == "__main__":
    main()
