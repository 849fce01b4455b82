"""Scoring multi-object tracks with TrackEval (HOTA, CLEAR MOT, Identity), used by the track
tests and benchmarks.

TrackEval's metric classes are used directly on one sequence's data (ids per frame and IoU
similarities), which is what its MOTChallenge loader hands them after reading files; the
MOT15 ground truth here has no distractor classes, so no preprocessing is skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt

# frame -> (ids (N,), boxes (N, 4) xyxy)
FrameBoxes = Mapping[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]]


def iou_matrix(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """(len(a), len(b)) IoU of xyxy boxes."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def score_tracks(gt: FrameBoxes, tracks: FrameBoxes, num_frames: int) -> dict[str, float]:
    """MOTA, IDF1, HOTA (and parts) in percent for one sequence, frames 1..num_frames."""
    import trackeval

    gt_map: dict[int, int] = {}
    tr_map: dict[int, int] = {}
    empty = (np.zeros(0, np.int64), np.zeros((0, 4)))
    gt_ids, tr_ids, sims = [], [], []
    n_gt = n_tr = 0
    for f in range(1, num_frames + 1):
        g_ids, g_boxes = gt.get(f, empty)
        t_ids, t_boxes = tracks.get(f, empty)
        gt_ids.append(np.array([gt_map.setdefault(int(i), len(gt_map)) for i in g_ids], int))
        tr_ids.append(np.array([tr_map.setdefault(int(i), len(tr_map)) for i in t_ids], int))
        sims.append(iou_matrix(np.asarray(g_boxes, float), np.asarray(t_boxes, float)))
        n_gt += len(g_ids)
        n_tr += len(t_ids)
    data = {
        "num_timesteps": num_frames,
        "num_gt_ids": len(gt_map),
        "num_tracker_ids": len(tr_map),
        "num_gt_dets": n_gt,
        "num_tracker_dets": n_tr,
        "gt_ids": gt_ids,
        "tracker_ids": tr_ids,
        "similarity_scores": sims,
    }
    clear = trackeval.metrics.CLEAR({"PRINT_CONFIG": False}).eval_sequence(data)
    ident = trackeval.metrics.Identity({"PRINT_CONFIG": False}).eval_sequence(data)
    hota = trackeval.metrics.HOTA().eval_sequence(data)
    return {
        "MOTA": 100 * float(clear["MOTA"]),
        "IDF1": 100 * float(ident["IDF1"]),
        "HOTA": 100 * float(np.mean(hota["HOTA"])),
        "DetA": 100 * float(np.mean(hota["DetA"])),
        "AssA": 100 * float(np.mean(hota["AssA"])),
        "IDSW": float(clear["IDSW"]),
        "FP": float(clear["CLR_FP"]),
        "FN": float(clear["CLR_FN"]),
        "recall": 100 * float(clear["CLR_Re"]),
        "precision": 100 * float(clear["CLR_Pr"]),
    }


def read_mot(path: Path) -> tuple[dict[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]],
                                  dict[int, npt.NDArray[np.float64]], int]:
    """A MOT file as {frame: (ids, xyxy)}, {frame: scores (conf column)} and the last frame."""
    rows = np.loadtxt(path, delimiter=",", ndmin=2)
    frames: dict[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]] = {}
    scores: dict[int, npt.NDArray[np.float64]] = {}
    for f in np.unique(rows[:, 0]).astype(int):
        r = rows[rows[:, 0] == f]
        xyxy = np.column_stack([r[:, 2], r[:, 3], r[:, 2] + r[:, 4], r[:, 3] + r[:, 5]])
        frames[int(f)] = (r[:, 1].astype(np.int64), xyxy)
        scores[int(f)] = r[:, 6]
    return frames, scores, int(rows[:, 0].max())


def run_box_tracker_on_mot(tracker: object, det_path: Path, num_frames: int, fps: float):
    """Feed a MOT det.txt through a walkout BoxTracker; confirmed, matched tracks per frame."""
    dets, det_scores, _ = read_mot(det_path)
    out = {}
    for f in range(1, num_frames + 1):
        _, boxes = dets.get(f, (None, np.zeros((0, 4))))
        scores = det_scores.get(f, np.zeros(0))
        tr = tracker.update(boxes.astype(np.float32), scores.astype(np.float32), t=(f - 1) / fps)
        c = tr.confirmed()
        out[f] = (c.ids, c.boxes.astype(np.float64))
    return out
