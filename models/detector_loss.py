"""Targets and loss for walkout-pose (training only).

Assignment (FCOS-style, with YOLOX's centre sampling): an anchor cell is a positive of a
person when its centre lies inside the person's box, within ``radius`` strides of the box
centre, and the person's size suits the cell's level; a cell claimed by several people goes to
the smallest. Losses on positives: GIoU for the box, L1 (in stride units) for every labelled
keypoint, L1 (in pixels / 8) for the keypoint after each refinement step, BCE for keypoint visibility; on every cell: an IoU-aware BCE for the person score
(target = IoU of the predicted box with its person, 0 elsewhere) with a focal weight on
negatives, so that scores rank boxes by quality for NMS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from detector_net import NUM_KEYPOINTS, STRIDES, Heads, grid_centres
from torch import nn

# The refined keypoints' L1 is counted in units of this many input pixels (the finest anchor
# stride), the same for every level: a pixel of wrist error costs the same on a large person as
# on a small one, since the metric is pixels. (The coarse L1 stays in each level's stride units.)
REFINE_LOSS_UNIT_PX = 8.0

# The box sizes (max side, input pixels) each level learns; the ranges overlap so that a
# person near a border is learnt by both levels.
LEVEL_RANGES = ((0.0, 112.0), (64.0, 224.0), (160.0, 1e9))


@dataclass
class Target:
    """One image's people: boxes (M, 4) xyxy and keypoints (M, K, 3) (x, y, visible) in input
    pixels; a keypoint with x < 0 is unlabelled (outside the image)."""

    boxes: torch.Tensor
    keypoints: torch.Tensor


def _anchors(sizes: list[tuple[int, int]], device: torch.device) -> tuple[torch.Tensor, ...]:
    centres, strides, levels = [], [], []
    for level, ((h, w), s) in enumerate(zip(sizes, STRIDES, strict=True)):
        c = grid_centres(h, w, s, device)
        centres.append(c)
        strides.append(torch.full((c.shape[0],), float(s), device=device))
        levels.append(torch.full((c.shape[0],), level, device=device, dtype=torch.long))
    return torch.cat(centres), torch.cat(strides), torch.cat(levels)


def assign(target: Target, centres: torch.Tensor, strides: torch.Tensor, levels: torch.Tensor,
           radius: float = 2.5) -> torch.Tensor:
    """Index of the person each anchor learns, -1 for background. (N,) long."""
    n = centres.shape[0]
    owner = torch.full((n,), -1, dtype=torch.long, device=centres.device)
    if target.boxes.numel() == 0:
        return owner
    b = target.boxes  # (M, 4)
    cx, cy = centres[:, 0:1], centres[:, 1:2]  # (N, 1)
    inside = (cx > b[:, 0]) & (cx < b[:, 2]) & (cy > b[:, 1]) & (cy < b[:, 3])  # (N, M)
    bc = (b[:, 0:2] + b[:, 2:4]) / 2
    r = radius * strides[:, None]
    near = ((cx - bc[:, 0]).abs() < r) & ((cy - bc[:, 1]).abs() < r)
    size = torch.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])  # (M,)
    lo = torch.tensor([rng[0] for rng in LEVEL_RANGES], device=centres.device)[levels]
    hi = torch.tensor([rng[1] for rng in LEVEL_RANGES], device=centres.device)[levels]
    fits = (size[None, :] >= lo[:, None]) & (size[None, :] <= hi[:, None])
    ok = inside & near & fits
    area = ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))[None, :].expand(n, -1)
    area = torch.where(ok, area, torch.full_like(area, float("inf")))
    best_area, best = area.min(dim=1)
    owner[torch.isfinite(best_area)] = best[torch.isfinite(best_area)]
    return owner


def giou(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(IoU, GIoU) of matching rows of two (P, 4) xyxy tensors."""
    iw = (torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0])).clamp(min=0)
    ih = (torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1])).clamp(min=0)
    inter = iw * ih
    area_a = (a[:, 2] - a[:, 0]).clamp(min=0) * (a[:, 3] - a[:, 1]).clamp(min=0)
    area_b = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    union = area_a + area_b - inter + 1e-7
    iou = inter / union
    cw = torch.maximum(a[:, 2], b[:, 2]) - torch.minimum(a[:, 0], b[:, 0])
    ch = torch.maximum(a[:, 3], b[:, 3]) - torch.minimum(a[:, 1], b[:, 1])
    hull = cw * ch + 1e-7
    return iou, iou - (hull - union) / hull


# ``PoseNet.refine_steps``: (stride-4 map [1, F, Hf, Wf], coarse keypoints [1, K, 2, P]) -> the
# keypoints after each refinement step, same shape.
Refine = Callable[[torch.Tensor, torch.Tensor], list[torch.Tensor]]


def pose_loss(heads: Heads, targets: list[Target], refine: Refine | None = None
              ) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss over a batch and its parts (for logging). ``refine`` is the network's
    ``PoseNet.refine_steps``: with it, the positives' keypoints after the first refinement
    step get their own L1 ("fine") and the mean of their L1 after each pass of the window step
    another ("fine2"), with the same weight (the last pass's output is what the graph exports;
    the earlier losses keep each pass's input near the wrist, and every pass is trained to move
    towards it); without it, the refinement is not trained."""
    raw = heads.levels
    device = raw[0].device
    sizes = [(o.shape[2], o.shape[3]) for o in raw]
    centres, strides, levels = _anchors(sizes, device)
    flat = torch.cat([o.flatten(2) for o in raw], dim=2).transpose(1, 2)  # [B, N, C]
    bce = nn.functional.binary_cross_entropy_with_logits
    total_box = total_kpt = total_vis = total_score = torch.zeros((), device=device)
    total_fine = [torch.zeros((), device=device), torch.zeros((), device=device)]
    positives = 0
    for i, target in enumerate(targets):
        pred = flat[i]
        owner = assign(target, centres, strides, levels)
        pos = owner >= 0
        score_target = torch.zeros(pred.shape[0], device=device)
        if pos.any():
            p = pred[pos]
            s = strides[pos][:, None]
            c = centres[pos]
            dist = nn.functional.softplus(p[:, 0:4]) * s
            box = torch.cat([c - dist[:, 0:2], c + dist[:, 2:4]], dim=1)
            gt = target.boxes[owner[pos]]
            iou, g = giou(box, gt)
            total_box = total_box + (1 - g).sum()
            score_target[pos] = iou.detach().clamp(min=0.05)
            k = p[:, 5:].reshape(-1, NUM_KEYPOINTS, 3)
            gk = target.keypoints[owner[pos]]  # (P, K, 3)
            labelled = gk[:, :, 0] >= 0
            offset = (gk[:, :, 0:2] - c[:, None, :]) / s[:, :, None]
            l1 = (k[:, :, 0:2] - offset).abs().sum(dim=2)
            total_kpt = total_kpt + (l1 * labelled).sum()
            total_vis = total_vis + (bce(k[:, :, 2], gk[:, :, 2], reduction="none") * labelled).sum()
            if refine is not None:
                coarse = k[:, :, 0:2] * s[:, :, None] + c[:, None, :]  # (P, K, 2) input pixels
                steps = refine(heads.fine[i:i + 1], coarse.permute(1, 2, 0)[None])
                for n, refined in enumerate(steps):
                    fine = refined[0].permute(2, 0, 1)  # (P, K, 2)
                    l1_fine = (fine - gk[:, :, 0:2]).abs().sum(dim=2) / REFINE_LOSS_UNIT_PX
                    share = 1.0 if n == 0 else 1.0 / (len(steps) - 1)  # window passes: their mean
                    total_fine[min(n, 1)] = total_fine[min(n, 1)] + share * (l1_fine * labelled).sum()
            positives += int(pos.sum())
        logits = pred[:, 4]
        prob = logits.sigmoid()
        weight = torch.where(pos, torch.ones_like(prob), 0.75 * prob.detach() ** 2)
        total_score = total_score + (bce(logits, score_target, reduction="none") * weight).sum()
    norm = max(positives, 1)
    parts = {
        "box": 5.0 * total_box / norm,
        "kpt": 1.0 * total_kpt / (norm * NUM_KEYPOINTS) * 4.0,
        "vis": 0.5 * total_vis / (norm * NUM_KEYPOINTS),
        "score": 2.0 * total_score / norm,
        "fine": 4.0 * total_fine[0] / (norm * NUM_KEYPOINTS),
        "fine2": 4.0 * total_fine[1] / (norm * NUM_KEYPOINTS),
    }
    loss = sum(parts.values())
    return loss, {k: float(v.detach()) for k, v in parts.items()}
