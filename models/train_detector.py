"""Train walkout-pose, the shipped person + 17-keypoint detector, on simulator renders.

    pip install '.[train]'           # torch, CPU build is enough
    # the shipped model is trained in stages; models/walkout-pose.md has the exact commands:
    # 384x224 from scratch, 512x288 from those weights (both --no-refine), then the keypoint
    # refinement alone (--init-onnx ... --train-only-refine), then the whole network with it,
    # then its second (window) step with the first (--window-from-point, --window-passes)
    PYTHONPATH=python python models/train_detector.py --width 512 --height 288 --eval-only \
        --out models/walkout-pose.onnx   # re-measure the shipped model on seeds 901, 902

What it does, deterministically for a seed:
1. renders training runs with ``walkout sim`` (scenario configs/scenarios/train.yaml, seeds
   ``--train-seeds``) unless they exist already under ``--runs``;
2. reads frames and ground truth (boxes, COCO keypoints with visibility) through the one
   loader, ``walkout.sim.Run``;
3. letterboxes each frame with the runtime's own ``walkout.detect.letterbox`` (Ultralytics
   convention), so training sees exactly what the edge box feeds the model;
4. trains ``detector_net.PoseNet`` (from scratch, from a ``--init`` state dict or from a
   ``--init-onnx`` file) with ``detector_loss.pose_loss`` (AdamW, one-cycle,
   horizontal flips that swap left and right keypoints, brightness and contrast jitter),
   keeping a ramped EMA of the weights that is exported every ``--checkpoint-every`` steps;
5. exports ONNX in the YOLOv8-pose layout with a dynamic batch and evaluates it through the
   runtime path (onnxruntime + ``walkout.detect.decode``) on held-out seeds: person AP@0.5
   (pycocotools) on people at least half visible, and the median wrist error in pixels.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is the `train` extra; the runtime never imports this file
    import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

# COCO keypoint order; a horizontal flip swaps each left/right pair.
FLIP_PERMUTATION = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
LEFT_WRIST, RIGHT_WRIST = 9, 10
# The layers of the keypoint refinement (detector_net.PoseNet.refine), for --train-only-refine.
REFINEMENT_MODULES = ("lat4", "red8", "smooth4", "refine_mlp", "refine2_mlp")


@dataclass
class Sample:
    """One frame and its people, in the frame's pixels."""

    image: np.ndarray  # (H, W, 3) uint8 BGR
    boxes: np.ndarray  # (M, 4) float32 xyxy
    keypoints: np.ndarray  # (M, 17, 3) float32 (x, y, visible 0/1); x < 0 = unlabelled
    visible_fraction: np.ndarray  # (M,) float32, share of the body not occluded


def iter_run_samples(run_dir: Path, every: int = 1) -> Iterator[Sample]:
    """Frames and ground truth of one rendered simulator run, through ``walkout.sim.Run``.

    Boxes are the visible pixels of each person (the truth's ``box``); a keypoint is labelled
    when it lies in the image (visibility 1 hidden or 2 seen) and counts as visible when seen.
    A person's visible fraction is the sim's own occlusion measure: drawn pixels over the pixels
    of their unoccluded in-image silhouette (``visible_px / full_px``).
    """
    from walkout.sim import Run

    run = Run(run_dir)
    for camera in run.cameras:
        truth = run.frame_truth(camera)
        for k, ((_, _, image), frame) in enumerate(zip(run.frames(camera), truth, strict=True)):
            if k % every:
                continue
            vis = frame.keypoints[:, :, 2]
            kpts = frame.keypoints.astype(np.float32).copy()
            kpts[:, :, 2] = (vis == 2).astype(np.float32)
            kpts[vis == 0, 0:2] = -1.0
            yield Sample(
                image=image,
                boxes=frame.box.astype(np.float32).reshape(-1, 4),
                keypoints=kpts.reshape(-1, 17, 3),
                visible_fraction=(frame.visible_px / np.maximum(frame.full_px, 1)).astype(np.float32),
            )


def to_model_space(sample: Sample, input_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Letterbox the frame like the runtime and map its labels into model pixels."""
    from walkout.detect import letterbox

    tensor, transforms = letterbox(sample.image, input_hw, "ultralytics", threads=1)
    boxes = sample.boxes.copy()
    if len(boxes):
        corners = transforms.to_model(boxes.reshape(-1, 2), 0).reshape(-1, 4)
        boxes = corners.astype(np.float32)
    kpts = sample.keypoints.copy()
    if len(kpts):
        labelled = kpts[:, :, 0] >= 0
        xy = transforms.to_model(kpts[:, :, :2].reshape(-1, 2), 0).reshape(kpts.shape[0], -1, 2)
        kpts[:, :, :2] = np.where(labelled[..., None], xy, -1.0)
    # Kept as uint8 (the Ultralytics scale is exactly /255): a quarter of the float memory.
    return np.rint(tensor[0] * 255.0).astype(np.uint8), boxes, kpts


def augment(image: np.ndarray, boxes: np.ndarray, kpts: np.ndarray, rng: random.Random) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flip (swapping left/right keypoints) and photometric jitter; CHW uint8 in, 0..1 out."""
    _, _, width = image.shape
    if rng.random() < 0.5:
        image = image[:, :, ::-1].copy()
        if len(boxes):
            boxes = boxes.copy()
            boxes[:, [0, 2]] = width - boxes[:, [2, 0]]
            kpts = kpts[:, FLIP_PERMUTATION].copy()
            labelled = kpts[:, :, 0] >= 0
            kpts[:, :, 0] = np.where(labelled, width - kpts[:, :, 0], -1.0)
    gain = rng.uniform(0.75, 1.25) / 255.0
    bias = rng.uniform(-0.08, 0.08)
    image = np.clip(image.astype(np.float32) * gain + bias, 0.0, 1.0)
    return image, boxes, kpts


def train(args: argparse.Namespace) -> Path:
    import torch
    from detector_loss import Target, pose_loss
    from detector_net import PoseNet
    from onnx_weights import freeze_batchnorms

    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    torch.set_num_threads(args.threads)
    input_hw = (args.height, args.width)

    data: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for run_dir in ensure_runs(args, [] if args.export_only else args.train_seeds, "train"):
        for sample in iter_run_samples(run_dir, every=args.every):
            data.append(to_model_space(sample, input_hw))
    print(f"training on {len(data)} frames", file=sys.stderr)

    net = PoseNet(args.width_mult, window_passes=args.window_passes)
    if args.init:
        net.load_state_dict(torch.load(args.init, weights_only=True))
    frozen: list[str] = []
    if args.init_onnx:
        from onnx_weights import load_onnx_weights

        frozen = load_onnx_weights(net, Path(args.init_onnx), input_hw)
        print(f"loaded {args.init_onnx}: {len(frozen)} BatchNorms folded and frozen", file=sys.stderr)
    if args.window_from_point:
        net.start_window_as_point_step()
    if args.export_only:
        return export_onnx(net, Path(args.out), input_hw)
    refine = None if args.no_refine else net.refine_steps
    if args.train_only_refine:
        # Everything but the refinement keeps its weights: boxes, scores and coarse keypoints
        # stay exactly those of --init-onnx, and autograd records nothing in the frozen trunk
        # (no input of its operations needs a gradient), so a step costs about a forward pass.
        for name, p in net.named_parameters():
            p.requires_grad_(name.split(".")[0] in REFINEMENT_MODULES)
    # An exponential moving average of the weights is what gets exported: it is smoother than
    # the last step's weights, so a checkpoint taken mid-schedule (a short CPU budget) is usable.
    ema = WeightAverage(net, args.ema)
    optimiser = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=args.lr,
                                  weight_decay=5e-4)
    steps = args.epochs * math.ceil(len(data) / args.batch)
    if args.max_steps:
        steps = min(steps, args.max_steps)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=args.lr, total_steps=steps,
                                                   pct_start=0.1)
    # Checkpoints and the final weights (for --init) stay beside the runs, never in models/,
    # whose *.onnx files all ship in the wheel.
    stem = Path(args.out).stem
    checkpoints = Path(args.runs)
    checkpoints.mkdir(parents=True, exist_ok=True)
    step = 0
    start = time.time()
    for epoch in range(args.epochs):
        order = list(range(len(data)))
        rng.shuffle(order)
        net.train()
        freeze_batchnorms(net, frozen)
        for i in range(0, len(order), args.batch):
            if step == steps:
                break
            images, targets = [], []
            for j in order[i:i + args.batch]:
                image, boxes, kpts = augment(*data[j], rng)
                images.append(torch.from_numpy(image))
                targets.append(Target(torch.from_numpy(boxes).reshape(-1, 4),
                                      torch.from_numpy(kpts).reshape(-1, 17, 3)))
            loss, parts = pose_loss(net(torch.stack(images)), targets, refine)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
            optimiser.step()
            schedule.step()
            step += 1
            ema.update(net)
            if step % 20 == 0:
                print(f"epoch {epoch} step {step}/{steps} loss {float(loss.detach()):.3f} "
                      + " ".join(f"{k} {v:.3f}" for k, v in parts.items())
                      + f" ({time.time() - start:.0f} s)", file=sys.stderr, flush=True)
            if args.checkpoint_every and step % args.checkpoint_every == 0 and step < steps:
                export_onnx(ema.module, checkpoints / f"{stem}.step{step}.onnx", input_hw)
                torch.save(net.state_dict(), checkpoints / f"{stem}.step{step}.pt")
                freeze_batchnorms(net, frozen)  # export_onnx put the network back in train mode
    torch.save(net.state_dict(), checkpoints / f"{stem}.pt")
    out = export_onnx(ema.module, Path(args.out), input_hw)
    print(f"wrote {out} after {time.time() - start:.0f} s", file=sys.stderr)
    return out


class WeightAverage:
    """An exponential moving average of a network's weights and BatchNorm statistics.

    The decay ramps up as ``decay * (1 - exp(-updates / 200))`` (as YOLOv5/v8's ModelEMA does):
    a plain EMA started from the random initial weights still carries a 0.995**200 = 37 % share
    of them after 200 steps, which makes early checkpoints useless; the ramp forgets them.
    """

    def __init__(self, net: torch.nn.Module, decay: float) -> None:
        import copy

        self.module = copy.deepcopy(net).eval()
        self.decay = decay
        self.updates = 0
        for p in self.module.parameters():
            p.requires_grad_(False)

    def update(self, net: torch.nn.Module) -> None:
        import torch

        self.updates += 1
        d = self.decay * (1.0 - math.exp(-self.updates / 200.0))
        with torch.no_grad():
            current = net.state_dict()
            for name, value in self.module.state_dict().items():
                if value.dtype.is_floating_point:
                    value.mul_(d).add_(current[name].detach(), alpha=1.0 - d)
                else:
                    value.copy_(current[name])


def export_onnx(net: torch.nn.Module, out: Path, input_hw: tuple[int, int]) -> Path:
    """The ONNX graph in the YOLOv8-pose layout with a dynamic batch (see ExportWrapper)."""
    import torch
    from detector_net import ExportWrapper

    was_training = net.training
    net.eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(1, 3, *input_hw)
    torch.onnx.export(ExportWrapper(net), dummy, str(out), input_names=["images"],
                      output_names=["output0"], opset_version=17, dynamo=False,
                      dynamic_axes={"images": {0: "batch"}, "output0": {0: "batch"}})
    net.train(was_training)
    print(f"exported {out}", file=sys.stderr, flush=True)
    return out


def ensure_runs(args: argparse.Namespace, seeds: Sequence[int], split: str) -> list[Path]:
    """Simulator runs for ``seeds``, rendered with `walkout sim` when not there yet."""
    import subprocess

    runs = []
    for seed in seeds:
        run_dir = Path(args.runs) / f"{split}-{seed}"
        if not (run_dir / "run.json").is_file():
            subprocess.run([sys.executable, "-m", "walkout", "sim", "--scenario", args.scenario,
                            "--seed", str(seed), "--out", str(run_dir)], check=True)
        runs.append(run_dir)
    return runs


def evaluate(model: Path, run_dirs: Sequence[Path], input_hw: tuple[int, int], every: int = 1,
             min_visible: float = 0.5) -> dict[str, float]:
    """Person AP@0.5 (pycocotools; people less than ``min_visible`` visible are ignored) and
    the median error of visible wrists on matched detections, through the runtime path."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from walkout.config.edge import ModelSettings
    from walkout.detect import box_iou
    from walkout.edge.detector import Detector

    settings = ModelSettings(path=model, layout="yolov8-pose", letterbox="ultralytics",
                             input_size=(input_hw[1], input_hw[0]), conf_threshold=0.01,
                             iou_threshold=0.5, max_det=100, classes=[0], provider="cpu")
    detector = Detector(settings, model)
    images, annotations, results, wrist_errors = [], [], [], []
    for run_dir in run_dirs:
        for sample in iter_run_samples(run_dir, every=every):
            image_id = len(images) + 1
            h, w = sample.image.shape[:2]
            images.append({"id": image_id, "width": w, "height": h})
            for box, vis in zip(sample.boxes, sample.visible_fraction, strict=True):
                x1, y1, x2, y2 = (float(v) for v in box)
                annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                    "category_id": 1, "bbox": [x1, y1, x2 - x1, y2 - y1],
                                    "area": (x2 - x1) * (y2 - y1), "iscrowd": 0,
                                    "ignore": int(vis < min_visible)})
            dets = detector([sample.image])[0]
            for box, score in zip(dets.boxes, dets.scores, strict=True):
                x1, y1, x2, y2 = (float(v) for v in box)
                results.append({"image_id": image_id, "category_id": 1,
                                "bbox": [x1, y1, x2 - x1, y2 - y1], "score": float(score)})
            confident = dets.scores > 0.35
            if len(sample.boxes) and confident.any():
                iou = box_iou(sample.boxes, dets.boxes[confident])
                kp = dets.keypoints[confident]
                for g in range(len(sample.boxes)):
                    d = int(np.argmax(iou[g]))
                    if iou[g, d] < 0.5 or sample.visible_fraction[g] < min_visible:
                        continue
                    for k in (LEFT_WRIST, RIGHT_WRIST):
                        if sample.keypoints[g, k, 2] > 0:
                            wrist_errors.append(float(np.hypot(*(kp[d, k, :2] - sample.keypoints[g, k, :2]))))
    # pycocotools ignores annotations through iscrowd; mark the hidden people that way.
    for a in annotations:
        a["iscrowd"] = a.pop("ignore")
    coco = COCO()
    coco.dataset = {"images": images, "annotations": annotations,
                    "categories": [{"id": 1, "name": "person"}]}
    coco.createIndex()
    detections = coco.loadRes(results) if results else COCO()
    evaluator = COCOeval(coco, detections, "bbox")
    evaluator.params.iouThrs = np.array([0.5])
    evaluator.params.maxDets = [100, 100, 100]
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    return {"ap50": float(evaluator.stats[0]),
            "median_wrist_error_px": float(np.median(wrist_errors)) if wrist_errors else float("nan"),
            "wrists": float(len(wrist_errors)), "frames": float(len(images))}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(HERE / "walkout-pose.onnx"))
    parser.add_argument("--runs", default="runs/train", help="where simulator runs are kept")
    parser.add_argument("--scenario", default="configs/scenarios/train.yaml")
    parser.add_argument("--train-seeds", type=int, nargs="+", default=[101, 102, 103, 104, 105])
    parser.add_argument("--eval-seeds", type=int, nargs="+", default=[901, 902])
    parser.add_argument("--every", type=int, default=1, help="use every n-th frame of the "
                        "training runs; higher loads and trains faster on fewer distinct poses")
    parser.add_argument("--width", type=int, default=384,
                        help="model input width (multiple of 32); 640x360 frames are scaled by "
                        "width/640: larger sees small people and wrists sharper, costs "
                        "training and inference time with the square of the scale")
    parser.add_argument("--height", type=int, default=224, help="model input height (multiple "
                        "of 32, at least width * 360/640)")
    parser.add_argument("--width-mult", type=int, default=24, help="network width: wider is "
                        "more accurate and slower (cost ~ width^2 in the pointwise convs)")
    parser.add_argument("--epochs", type=int, default=2, help="passes over the frames: more "
                        "lowers the error (the loss still fell at 2) at proportional CPU time")
    parser.add_argument("--batch", type=int, default=16, help="frames per step: larger steadies "
                        "BatchNorm statistics and gradients, fewer steps per epoch")
    parser.add_argument("--ema", type=float, default=0.995, help="EMA decay of the exported "
                        "weights: higher averages over more steps (smoother, lags more)")
    parser.add_argument("--init", help="start from these weights (a .pt state dict saved by a "
                        "previous run): fine-tuning at another input size or on more data")
    parser.add_argument("--init-onnx", help="start from the weights of a walkout-pose ONNX file "
                        "(e.g. the shipped model, whose .pt is not kept): its BatchNorms are "
                        "folded into the convolutions, so they stay frozen (eval mode) while "
                        "training; layers the file lacks (the refinement) start fresh")
    parser.add_argument("--no-refine", action="store_true", help="do not train the keypoint "
                        "refinement (it stays zero, the exported keypoints are the anchor "
                        "regression's): how the stage-1/2 model before it was trained")
    parser.add_argument("--train-only-refine", action="store_true", help="train only the "
                        "keypoint refinement, every other weight frozen (use with --init-onnx): "
                        "boxes and scores stay those of the initial model, a step costs about a "
                        "third of a full one")
    parser.add_argument("--window-from-point", action="store_true", help="start the second "
                        "refinement step (refine2_mlp) as the first step's MLP on its window's "
                        "centre tap, i.e. the first step applied twice, instead of a zero "
                        "correction: use once, when --init-onnx is a file without the second step")
    parser.add_argument("--window-passes", type=int, default=4, help="passes of the window "
                        "refinement step, same weights each pass (in training and in the "
                        "exported graph): more converge closer on large people's keypoints at "
                        "one more window read on the best anchors each (~12 %% of a frame's "
                        "time); stage 8 used 1, stages 10-11 3, stage 12 (shipped) 4")
    parser.add_argument("--export-only", action="store_true", help="train nothing: export "
                        "the --init-onnx (or --init) weights through the current graph code "
                        "to --out")
    parser.add_argument("--max-steps", type=int, default=0, help="stop after this many steps "
                        "(the one-cycle schedule spans them), 0 = all epochs: fits a run to a "
                        "time budget")
    parser.add_argument("--checkpoint-every", type=int, default=50, help="export an ONNX "
                        "checkpoint (RUNS/OUTNAME.stepN.onnx, weights in .pt) every N steps; 0 = "
                        "only the final weights (RUNS/OUTNAME.pt)")
    parser.add_argument("--lr", type=float, default=3e-3, help="peak one-cycle learning rate; "
                        "lower for fine-tuning from --init")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-only", action="store_true", help="evaluate --out, train nothing")
    parser.add_argument("--no-eval", action="store_true", help="train and export, skip evaluation")
    parser.add_argument("--eval-every", type=int, default=1, help="evaluate every n-th frame")
    args = parser.parse_args(argv)
    if args.train_only_refine and not args.init_onnx:
        parser.error("--train-only-refine needs --init-onnx (the trained weights it keeps)")
    model = Path(args.out) if args.eval_only else train(args)
    if args.no_eval:
        return 0
    metrics = evaluate(model, ensure_runs(args, args.eval_seeds, "eval"), (args.height, args.width),
                       every=args.eval_every)
    print(json.dumps(metrics, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
