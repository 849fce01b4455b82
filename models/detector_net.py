"""walkout-pose: a small single-stage person detector with 17 COCO keypoints (training only).

The network is anchor-free over three strides (8, 16, 32), in the spirit of YOLOX/YOLOv8-pose,
sized for a 2-core edge box: depthwise-separable blocks, one small FPN, one shared head per
level. ``ExportWrapper`` turns the raw head outputs into the Ultralytics YOLOv8-pose layout
``[B, 4 + 1 + 3·17, N]`` (cx, cy, w, h in input pixels, person score, then x, y, visibility
per keypoint), so the same decoder serves this model and a real YOLO pose export.

torch is a training-only dependency (the ``train`` extra); the runtime reads the ONNX file.
"""

from __future__ import annotations

import torch
from torch import nn

STRIDES = (8, 16, 32)
NUM_KEYPOINTS = 17


def conv_bn(c_in: int, c_out: int, k: int = 3, s: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, k, s, k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
        nn.SiLU(inplace=True),
    )


class DWBlock(nn.Module):
    """Depthwise 3x3 + pointwise 1x1 with a residual: cheap on CPU, wide receptive field."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.dw = conv_bn(c, c, 3, 1, groups=c)
        self.pw = conv_bn(c, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pw(self.dw(x))


def stage(c_in: int, c_out: int, blocks: int) -> nn.Sequential:
    return nn.Sequential(conv_bn(c_in, c_out, 3, 2), *[DWBlock(c_out) for _ in range(blocks)])


class PoseNet(nn.Module):
    """Backbone (strides 2..32) + top-down FPN + a shared head per level.

    The raw output per level is ``[B, 4 + 1 + 3K, H, W]``: box distances (left, top, right,
    bottom) in stride units before softplus, the person logit, and per keypoint the offset
    (dx, dy) from the cell centre in stride units and the visibility logit.
    """

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        w = width
        self.stem = nn.Sequential(conv_bn(3, w // 2, 3, 2), conv_bn(w // 2, w, 3, 2), DWBlock(w))
        self.s8 = stage(w, 2 * w, 2)
        self.s16 = stage(2 * w, 3 * w, 3)
        self.s32 = stage(3 * w, 4 * w, 2)
        c = 2 * w
        self.lat32 = conv_bn(4 * w, c, 1)
        self.lat16 = conv_bn(3 * w, c, 1)
        self.lat8 = conv_bn(2 * w, c, 1)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.smooth16 = DWBlock(c)
        self.smooth8 = DWBlock(c)
        self.head_stem = nn.Sequential(conv_bn(c, c, 3), DWBlock(c))
        self.box = nn.Conv2d(c, 4, 1)
        self.obj = nn.Conv2d(c, 1, 1)
        self.kpt = nn.Sequential(conv_bn(c, c, 3), nn.Conv2d(c, 3 * NUM_KEYPOINTS, 1))
        nn.init.constant_(self.obj.bias, -4.0)  # start with few positives: stable early training

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        f8 = self.s8(self.stem(x))
        f16 = self.s16(f8)
        f32 = self.s32(f16)
        p32 = self.lat32(f32)
        p16 = self.smooth16(self.lat16(f16) + self.up(p32))
        p8 = self.smooth8(self.lat8(f8) + self.up(p16))
        outs = []
        for p in (p8, p16, p32):
            h = self.head_stem(p)
            outs.append(torch.cat([self.box(h), self.obj(h), self.kpt(h)], dim=1))
        return outs


def grid_centres(h: int, w: int, stride: int, device: torch.device) -> torch.Tensor:
    """(H*W, 2) cell centres in input pixels, row-major — the order of the exported anchors."""
    ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
    return (torch.stack([xs, ys], dim=-1).reshape(-1, 2).float() + 0.5) * stride


def decode_level(raw: torch.Tensor, stride: int) -> torch.Tensor:
    """Raw level output -> ``[B, 5 + 3K, H*W]`` in the YOLOv8-pose layout (input pixels)."""
    b, _, h, w = raw.shape
    raw = raw.flatten(2)  # [B, C, HW]
    centres = grid_centres(h, w, stride, raw.device).T.unsqueeze(0)  # [1, 2, HW]
    dist = nn.functional.softplus(raw[:, 0:4]) * stride
    x1y1 = centres - dist[:, 0:2]
    x2y2 = centres + dist[:, 2:4]
    cxcy = (x1y1 + x2y2) / 2
    wh = x2y2 - x1y1
    score = raw[:, 4:5].sigmoid()
    k = raw[:, 5:].reshape(b, NUM_KEYPOINTS, 3, h * w)
    kxy = k[:, :, 0:2] * stride + centres.unsqueeze(1)
    kv = k[:, :, 2:3].sigmoid()
    kpts = torch.cat([kxy, kv], dim=2).reshape(b, 3 * NUM_KEYPOINTS, h * w)
    return torch.cat([cxcy, wh, score, kpts], dim=1)


class ExportWrapper(nn.Module):
    """The ONNX graph: input ``images`` [B, 3, H, W] RGB in 0..1 (Ultralytics letterbox),
    output ``output0`` [B, 56, N] in the YOLOv8-pose layout."""

    def __init__(self, net: PoseNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        outs = self.net(images)
        return torch.cat([decode_level(o, s) for o, s in zip(outs, STRIDES, strict=True)], dim=2)
