"""walkout-pose: a small single-stage person detector with 17 COCO keypoints (training only).

The network is anchor-free over three strides (8, 16, 32), in the spirit of YOLOX/YOLOv8-pose,
sized for a 2-core edge box: depthwise-separable blocks, one small FPN, one shared head per
level. ``ExportWrapper`` turns the raw head outputs into the Ultralytics YOLOv8-pose layout
``[B, 4 + 1 + 3·17, N]`` (cx, cy, w, h in input pixels, person score, then x, y, visibility
per keypoint), so the same decoder serves this model and a real YOLO pose export.

torch is a training-only dependency (the ``train`` extra); the runtime reads the ONNX file.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

STRIDES = (8, 16, 32)
NUM_KEYPOINTS = 17
# The keypoint refinement reads a stride-4 feature map and predicts its correction in units of
# this many input pixels, so that the last layer's outputs stay near 1 for typical corrections.
FINE_STRIDE = 4
REFINE_UNIT_PX = 4.0
# The exported graph refines the keypoints of this many best-scoring anchors per image: more
# than the edge keeps after NMS (max_det 50), far fewer than the 3,024 anchors at 512x288.
REFINE_TOP_K = 256
# The second refinement step reads a 3x3 window of the stride-4 map around the first step's
# output, its taps this many input pixels apart: the window spans 2 * 8 px plus the bilinear
# support of one cell each side, ~ +-12 px, so a large person's wrist that the first step left
# 10-20 px off is inside what it sees. Wider sees further, blurs the fine position (the centre
# tap keeps it); narrower sees only corrections the first step could make itself.
WINDOW_TAP_PX = 8.0
# The exported graph runs the second step on this many of the best-scoring anchors (of the
# REFINE_TOP_K the first step refines): it reads 10 points per keypoint, so it costs more per
# anchor. On tuning seed 106 the best anchor of 92 % of the matched people ranks below 64 (98 %
# below 128); the rest keep the first step's keypoints. 64 instead of 128 cost 0.01 px there
# and made the graph (one window pass) ~5 % slower than the one-step model instead of ~25 %.
WINDOW_TOP_K = 64
WINDOW_TAPS = 3  # per side; the centre tap (index WINDOW_TAPS**2 // 2) is the point itself
# The window's taps read a narrower map (a 1x1 projection of the stride-4 map) than its centre
# point, which reads every channel: the bilinear reads cost per tap and per channel, and 9 taps
# of all 32 channels made the graph 1.4x slower. More channels see more per tap, cost more.
WINDOW_CHANNELS = 8
# The window step runs this many times by default (``PoseNet(window_passes=...)``), with the
# same weights, each from the last one's output (trained so, with a loss on every pass). Run untrained on the window step of a model trained
# with a single pass, on tuning seed 106: 1 pass 4.91 px, 2: 4.57, 3: 4.38, 4: 4.32. Each pass
# costs one more window read on WINDOW_TOP_K anchors; the gain shrinks with every pass.
# Stages 10-11 trained 3 passes; stage 12 (the shipped file) trained 4 (a 4th pass on stage 11's
# weights, untrained for it: 4.24 -> 4.19 px on seed 106, ~12 % more time a frame).
WINDOW_PASSES = 4


class Heads(NamedTuple):
    """What ``PoseNet`` computes: the raw head output of each level (strides 8, 16, 32) and the
    stride-4 feature map the keypoint refinement samples."""

    levels: list[torch.Tensor]
    fine: torch.Tensor


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

    def __init__(self, width: int = 32, window_passes: int = WINDOW_PASSES) -> None:
        super().__init__()
        if window_passes < 1:
            raise ValueError(f"window_passes: expected >= 1, got {window_passes}")
        # Passes of the window refinement step (same weights each pass): in training and export.
        self.window_passes = window_passes
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
        # Keypoint refinement (see ``refine``): a stride-4 map from the stem's features and the
        # stride-8 pyramid level, read at each coarse keypoint by a small per-keypoint MLP.
        f = fine_channels(width)
        self.lat4 = conv_bn(w, f, 1)
        self.red8 = conv_bn(c, f, 1)
        self.smooth4 = nn.Sequential(DWBlock(f), DWBlock(f))
        hidden = f
        self.refine_mlp = nn.Sequential(
            nn.Conv1d(NUM_KEYPOINTS * f, NUM_KEYPOINTS * hidden, 1, groups=NUM_KEYPOINTS),
            nn.SiLU(inplace=True),
            nn.Conv1d(NUM_KEYPOINTS * hidden, NUM_KEYPOINTS * 2, 1, groups=NUM_KEYPOINTS),
        )
        # Zero correction at the start: a network initialised from a trained one without the
        # refinement (``--init-onnx``) exports exactly that network's keypoints until it learns.
        nn.init.zeros_(self.refine_mlp[2].weight)
        nn.init.zeros_(self.refine_mlp[2].bias)
        # Second refinement step (see ``refine_window``): its own per-keypoint MLP over a 3x3
        # window of the same stride-4 map, read around the first step's output. Created after
        # every other layer and run after them, so an ONNX file without it loads as a prefix.
        taps = WINDOW_TAPS * WINDOW_TAPS
        self.window_map = nn.Conv2d(f, WINDOW_CHANNELS, 1)
        self.refine2_mlp = nn.Sequential(
            nn.Conv1d(NUM_KEYPOINTS * (f + WINDOW_CHANNELS * taps), NUM_KEYPOINTS * hidden, 1,
                      groups=NUM_KEYPOINTS),
            nn.SiLU(inplace=True),
            nn.Conv1d(NUM_KEYPOINTS * hidden, NUM_KEYPOINTS * 2, 1, groups=NUM_KEYPOINTS),
        )
        nn.init.zeros_(self.refine2_mlp[2].weight)  # zero correction: starts as the one-step model
        nn.init.zeros_(self.refine2_mlp[2].bias)

    def forward(self, x: torch.Tensor) -> Heads:
        f4 = self.stem(x)
        f8 = self.s8(f4)
        f16 = self.s16(f8)
        f32 = self.s32(f16)
        p32 = self.lat32(f32)
        p16 = self.smooth16(self.lat16(f16) + self.up(p32))
        p8 = self.smooth8(self.lat8(f8) + self.up(p16))
        outs = []
        for p in (p8, p16, p32):
            h = self.head_stem(p)
            outs.append(torch.cat([self.box(h), self.obj(h), self.kpt(h)], dim=1))
        fine = self.smooth4(self.lat4(f4) + self.up(self.red8(p8)))
        return Heads(outs, fine)

    def refine_point(self, fine: torch.Tensor, kxy: torch.Tensor) -> torch.Tensor:
        """First refinement step: coarse keypoints ``kxy`` [B, K, 2, P] (input pixels) ->
        refined, same shape.

        Each keypoint reads the stride-4 map bilinearly at its coarse position, and keypoint
        k's own two-layer MLP (a grouped 1x1 convolution) turns those features into a
        correction in units of ``REFINE_UNIT_PX`` (unbounded; it learns corrections of a few
        units). The anchor-cell regression has to reach a wrist many cells away from the
        person's centre; the refinement looks where the wrist was guessed, at twice the
        resolution of the finest anchors, which is what makes it more precise. The coarse
        position is not differentiated through the sampling (its own loss trains it).
        """
        b, k, _, p = kxy.shape
        f = fine.shape[1]
        feats = sample_bilinear(fine, kxy.detach()).reshape(b, k * f, p)  # [B, K*F, P]
        delta = self.refine_mlp(feats).reshape(b, k, 2, p)
        return kxy + delta * REFINE_UNIT_PX

    def refine_window(self, fine: torch.Tensor, kxy: torch.Tensor) -> torch.Tensor:
        """Second refinement step: keypoints ``kxy`` [B, K, 2, P] (the first step's output,
        input pixels) -> refined again, same shape.

        Keypoint k reads every channel of the stride-4 map at ``kxy`` (as the first step does)
        and ``WINDOW_CHANNELS`` channels of a projection of it (``window_map``) at a 3x3 window
        of points ``WINDOW_TAP_PX`` apart centred on ``kxy`` (``window_offsets``); its own MLP
        turns them into a correction in units of ``REFINE_UNIT_PX``. In group k of the grouped
        1x1 convolution, channels 0..F-1 are the centre read and channel F + g * 9 + t is
        window channel g at tap t. The first step sees one point, so a guess 15-25 px off on
        a large person is beyond it; the window sees where the wrist really is.
        """
        b, k, _, p = kxy.shape
        f = fine.shape[1]
        offsets = window_offsets(kxy.device)  # [T, 2]
        taps = offsets.shape[0]
        at = kxy.detach()
        centre = sample_bilinear(fine, at)  # [B, K, F, P]
        points = at[:, :, :, None, :] + offsets.T[None, None, :, :, None]  # [B, K, 2, T, P]
        window = sample_bilinear(self.window_map(fine), points.reshape(b, k, 2, taps * p))
        window = window.reshape(b, k, WINDOW_CHANNELS * taps, p)  # [B, K, G*T, P]
        feats = torch.cat([centre, window], dim=2).reshape(b, k * (f + WINDOW_CHANNELS * taps), p)
        delta = self.refine2_mlp(feats).reshape(b, k, 2, p)
        return kxy + delta * REFINE_UNIT_PX

    def refine_steps(self, fine: torch.Tensor, kxy: torch.Tensor) -> list[torch.Tensor]:
        """Coarse keypoints [B, K, 2, P] -> the output of each refinement pass: the point step,
        then ``window_passes`` passes of the window step (the loss trains every one; each
        pass's input position is not differentiated through its sampling)."""
        steps = [self.refine_point(fine, kxy)]
        for _ in range(self.window_passes):
            steps.append(self.refine_window(fine, steps[-1]))
        return steps

    def refine(self, fine: torch.Tensor, kxy: torch.Tensor) -> torch.Tensor:
        """Coarse keypoints [B, K, 2, P] (input pixels) -> refined by every pass."""
        return self.refine_steps(fine, kxy)[-1]

    def start_window_as_point_step(self) -> None:
        """Set the second step to the first step's MLP on its centre read (the window's weights
        zero), so that the network starts as the first step applied twice: on tuning seed 106
        that alone lowered the shipped one-step model's wrist error from 6.5 to 5.3 px (every
        8th frame, best-scoring matched detection), a better start than a zero correction."""
        with torch.no_grad():
            w1 = self.refine_mlp[0].weight  # [K*H, F, 1]
            w = torch.zeros_like(self.refine2_mlp[0].weight)  # [K*H, F + G*T, 1]
            w[:, :w1.shape[1]] = w1
            self.refine2_mlp[0].weight.copy_(w)
            self.refine2_mlp[0].bias.copy_(self.refine_mlp[0].bias)
            self.refine2_mlp[2].weight.copy_(self.refine_mlp[2].weight)
            self.refine2_mlp[2].bias.copy_(self.refine_mlp[2].bias)


def window_offsets(device: torch.device) -> torch.Tensor:
    """(T, 2) offsets (dx, dy) in input pixels of the second step's taps, row-major."""
    half = WINDOW_TAPS // 2
    steps = torch.arange(-half, half + 1, device=device, dtype=torch.float32) * WINDOW_TAP_PX
    dy, dx = torch.meshgrid(steps, steps, indexing="ij")
    return torch.stack([dx, dy], dim=-1).reshape(-1, 2)


def sample_bilinear(fine: torch.Tensor, xy: torch.Tensor) -> torch.Tensor:
    """Read ``fine`` [B, F, Hf, Wf] (stride ``FINE_STRIDE``) at points ``xy`` [B, K, 2, P]
    (input pixels) bilinearly -> [B, K, F, P]; points off the map read its nearest edge.

    Map cell j covers input pixels [4j, 4j + 4), so input x lies at map coordinate x/4 - 0.5.
    This is torch's ``grid_sample`` (bilinear, border, align_corners=False) written as four
    row ``gather``s from a channels-last copy of the map, because onnxruntime's CPU GridSample
    kernel is slow (150 ms a frame for the 51k points of every anchor) and a row gather copies
    F contiguous floats per point.
    """
    b, f, hf, wf = fine.shape
    x = (xy[:, :, 0] / FINE_STRIDE - 0.5).clamp(0.0, wf - 1.0)  # [B, K, P]
    y = (xy[:, :, 1] / FINE_STRIDE - 0.5).clamp(0.0, hf - 1.0)
    x0, y0 = x.floor(), y.floor()
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]  # [B, K, P, 1]
    x0i, y0i = x0.long(), y0.long()
    x1i, y1i = (x0i + 1).clamp(max=wf - 1), (y0i + 1).clamp(max=hf - 1)
    rows = fine.flatten(2).transpose(1, 2).reshape(-1, f)  # [B*Hf*Wf, F]
    first = (torch.arange(b, device=xy.device) * (hf * wf))[:, None, None]  # each image's row 0

    def at(yi: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:
        return rows[(first + yi * wf + xi).reshape(-1)].reshape(*xi.shape, f)  # [B, K, P, F]

    feats = ((1 - fx) * (1 - fy) * at(y0i, x0i) + fx * (1 - fy) * at(y0i, x1i)
             + (1 - fx) * fy * at(y1i, x0i) + fx * fy * at(y1i, x1i))
    return feats.transpose(2, 3)  # [B, K, F, P]


def fine_channels(width: int) -> int:
    """Channels of the stride-4 refinement map for a network ``width``."""
    return max(16, (4 * width) // 3)


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
    output ``output0`` [B, 56, N] in the YOLOv8-pose layout; the keypoints of the best-scoring
    anchors refined (``PoseNet.refine_point`` on REFINE_TOP_K of them, then
    ``PoseNet.refine_window``, ``window_passes`` times, on the best WINDOW_TOP_K) before they
    leave the graph."""

    def __init__(self, net: PoseNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        heads = self.net(images)
        out = torch.cat([decode_level(o, s) for o, s in zip(heads.levels, STRIDES, strict=True)], dim=2)
        b, _, n = out.shape
        kpts = out[:, 5:].reshape(b, NUM_KEYPOINTS, 3, n)
        # Refine the keypoints of the best-scoring anchors only: every detection the runtime
        # keeps (max_det 50 at the edge) is among them, and refining all anchors cost more than
        # the rest of the network. The others keep the anchor regression's keypoints.
        top = out[:, 4].topk(min(REFINE_TOP_K, int(n)), dim=1).indices  # [B, T]
        index = top[:, None, None, :].expand(b, NUM_KEYPOINTS, 2, top.shape[1])
        first = self.net.refine_point(heads.fine, kpts[:, :, 0:2].gather(3, index))
        # topk sorts by score, so the window step takes the best WINDOW_TOP_K of them.
        best = min(WINDOW_TOP_K, int(top.shape[1]))
        window = first[..., :best]
        for _ in range(self.net.window_passes):
            window = self.net.refine_window(heads.fine, window)
        refined = torch.cat([window, first[..., best:]], dim=3)
        kxy = kpts[:, :, 0:2].scatter(3, index, refined)
        kpts = torch.cat([kxy, kpts[:, :, 2:3]], dim=2).reshape(b, 3 * NUM_KEYPOINTS, n)
        return torch.cat([out[:, 0:5], kpts], dim=1)
