"""Calibrate the simulator oracle's hidden-wrist noise on the shipped pose model.

Not a speed benchmark: it measures how far and how confidently ``models/walkout-pose.onnx``
(through the runtime path, ``walkout.edge.detector.Detector``) places wrists the simulator's
truth marks HIDDEN (visibility 1: behind a shelf, another person or the own body) against
those it marks SEEN (visibility 2), on rendered frames of a seed the model never saw, and
prints the oracle parameters (``walkout.sim.scenario.Oracle.hidden_wrist_px`` and
``hidden_wrist_confidence``) those figures give.

Why: the oracle used to drop every hidden wrist (confidence 0), which no real pose model does
(a YOLOv8-pose head, and this model, place all 17 keypoints, hidden ones at lower confidence
and larger error). Oracle runs then taught the interaction engine nothing about the wrists it
most needs: those inside a shelf.

Seed: 960 of ``configs/scenarios/train.yaml`` (crowded, 8 cameras, 640x360), shortened to
``--duration`` seconds; 960 is neither a training seed (101-106) nor one of the model's
held-out seeds (901, 902, 950, 977), so the calibration does not reuse the model card's data.

Matching: each true person (visible box) takes the unused detection (score > 0.35) of largest
IoU >= 0.5, best pairs first; only matched people count (the oracle's noise applies to the
people it detects). Error is the pixel distance at 640x360; the per-axis sigma of an
isotropic Gaussian with that median distance is median / sqrt(2 ln 2) (the oracle draws each
axis from N(0, sigma)).

    PYTHONPATH=python python benchmarks/calibrate_oracle_keypoints.py [--seed 960]
        [--duration 90] [--fps 1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "python"), str(ROOT / "benchmarks")]

from harness import markdown_table, write_results  # noqa: E402

KEYPOINTS = {"wrist": (9, 10), "elbow": (7, 8), "shoulder": (5, 6)}
MIN_SCORE = 0.35  # as models/train_detector.py's evaluate(): confident detections only
MIN_IOU = 0.5
MEDIAN_TO_SIGMA = 1.0 / math.sqrt(2.0 * math.log(2.0))  # 2-D Gaussian: median radius = 1.177 sigma


def render(seed: int, duration: float, fps: float, out: Path) -> Path:
    """A short run of the training scenario (its crowding and cameras) at ``seed``."""
    from walkout.sim import simulate

    scenario = yaml.safe_load((ROOT / "configs/scenarios/train.yaml").read_text())
    scenario.update(
        store=str(ROOT / "configs/store.yaml"),
        duration_s=duration,
        arrival_window_s=min(scenario["arrival_window_s"], 0.6 * duration),
    )
    scenario["render"]["fps"] = fps
    path = out.parent / "calibration.yaml"
    path.write_text(yaml.safe_dump(scenario))
    simulate(path, out, seed=seed)
    return out


def match(truth_boxes: np.ndarray, det_boxes: np.ndarray) -> list[tuple[int, int]]:
    """(truth, detection) pairs: one-to-one, largest IoU first, IoU >= MIN_IOU."""
    from walkout.detect import box_iou

    if not len(truth_boxes) or not len(det_boxes):
        return []
    iou = box_iou(truth_boxes.astype(np.float32), det_boxes.astype(np.float32))
    pairs = sorted(((float(iou[g, d]), g, d) for g, d in zip(*np.nonzero(iou >= MIN_IOU), strict=True)),
                   reverse=True)
    used_g, used_d, out = set(), set(), []
    for _, g, d in pairs:
        if g not in used_g and d not in used_d:
            used_g.add(g)
            used_d.add(d)
            out.append((g, d))
    return out


def measure(run_dir: Path) -> dict[tuple[str, int], dict[str, np.ndarray]]:
    """Per (keypoint name, true visibility 1 or 2): errors (px) and model confidences."""
    from walkout.config.edge import ModelSettings
    from walkout.edge.detector import Detector
    from walkout.sim import Run

    model = ROOT / "models/walkout-pose.onnx"
    settings = ModelSettings(path=model, layout="yolov8-pose", letterbox="ultralytics",
                             input_size=(512, 288), conf_threshold=0.25, iou_threshold=0.5,
                             max_det=100, classes=[0], provider="cpu")
    detector = Detector(settings, model)
    run = Run(run_dir)
    errors: dict[tuple[str, int], list[float]] = defaultdict(list)
    confs: dict[tuple[str, int], list[float]] = defaultdict(list)
    frames = 0
    for camera in run.cameras:
        truth = run.frame_truth(camera)
        for (_, _, image), frame in zip(run.frames(camera), truth, strict=True):
            frames += 1
            dets = detector([image])[0]
            keep = dets.scores > MIN_SCORE
            boxes, kps = dets.boxes[keep], dets.keypoints[keep]
            for g, d in match(frame.box.reshape(-1, 4), boxes):
                for name, ks in KEYPOINTS.items():
                    for k in ks:
                        vis = int(frame.keypoints[g, k, 2])
                        if vis == 0:
                            continue
                        err = float(np.hypot(*(kps[d, k, :2] - frame.keypoints[g, k, :2])))
                        errors[(name, vis)].append(err)
                        confs[(name, vis)].append(float(kps[d, k, 2]))
    print(f"{frames} frames measured", file=sys.stderr)
    return {key: {"error": np.array(errors[key]), "conf": np.array(confs[key])} for key in errors}


def table(stats: dict[tuple[str, int], dict[str, np.ndarray]]) -> str:
    rows = []
    for name in KEYPOINTS:
        for vis, label in ((2, "seen"), (1, "hidden")):
            s = stats.get((name, vis))
            if s is None or not len(s["error"]):
                continue
            e, c = s["error"], s["conf"]
            rows.append([
                name, label, len(e), f"{np.median(e):.1f}", f"{np.percentile(e, 90):.1f}",
                f"{np.median(e) * MEDIAN_TO_SIGMA:.1f}",
                " / ".join(f"{q:.2f}" for q in np.percentile(c, [10, 50, 90])),
                f"{np.mean(c < 0.3):.2f}", f"{np.mean(c < 0.5):.2f}",
            ])
    return markdown_table(
        ["keypoint", "truth", "count", "median error px", "p90 error px", "per-axis sigma px",
         "confidence p10 / p50 / p90", "share < 0.3", "share < 0.5"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=960)
    parser.add_argument("--duration", type=float, default=90.0, help="seconds of the run")
    parser.add_argument("--fps", type=float, default=1.0, help="rendered frames per second")
    parser.add_argument("--keep", type=Path, default=None,
                        help="render into DIR (reused when it already holds the run)")
    args = parser.parse_args()
    if args.seed in (101, 102, 103, 104, 105, 106, 901, 902, 950, 977):
        parser.error("--seed: expected a seed the model neither trained nor was evaluated on")
    tmp = tempfile.TemporaryDirectory(prefix="walkout-calib-kp-")
    out = args.keep or Path(tmp.name) / "run"
    if not (out / "run.json").is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        render(args.seed, args.duration, args.fps, out)
    stats = measure(out)
    hidden = stats[("wrist", 1)]
    sigma = float(np.median(hidden["error"]) * MEDIAN_TO_SIGMA)
    lo, hi = (float(q) for q in np.percentile(hidden["conf"], [10, 90]))
    body = (
        f"`models/walkout-pose.onnx` through `walkout.edge.detector.Detector` on "
        f"configs/scenarios/train.yaml seed {args.seed} ({args.duration:g} s at {args.fps:g} fps, "
        "8 cameras, 640x360; neither a training seed nor a held-out one of the model card). "
        "Matched people only (IoU >= 0.5, score > 0.35); truth 'hidden' = visibility 1 "
        "(behind a shelf, another person or the own body).\n\n"
        + table(stats)
        + "\n\nOracle parameters these give (`walkout.sim.scenario.Oracle`): "
        f"`hidden_wrist_px` = {sigma:.1f} (per-axis sigma of the hidden wrists' median error), "
        f"`hidden_wrist_confidence` = ({lo:.2f}, {hi:.2f}) (their confidences' 10th-90th "
        "percentiles, drawn uniformly)."
    )
    write_results("oracle_keypoints", "Oracle calibration: hidden vs seen keypoints of the shipped "
                  "pose model", body)
    tmp.cleanup()


if __name__ == "__main__":
    main()
