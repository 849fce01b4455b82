"""Export a rendered run as a COCO person-keypoints data set (images + one JSON), the layout
pose-model trainers (Ultralytics, mmpose, pycocotools) read: for training the shipped model on
simulator frames.

Boxes are the visible boxes (what a detector can see); keypoint visibility follows COCO
(0 not labelled / outside, 1 labelled but hidden, 2 visible); ``num_keypoints`` counts
visibility > 0; ``visible_fraction`` (an extra key) is the share of the person's silhouette
not hidden by shelves or people, for "at least half visible" evaluations. People with fewer than ``min_pixels`` visible pixels are left out.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from walkout.sim.pose import COCO_NAMES
from walkout.sim.run import Run

# COCO's person skeleton (1-based keypoint indices), as in person_keypoints_*.json.
SKELETON = [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8],
            [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7]]


def export_coco(run: Run, out_dir: Path | str, every: int = 5, min_pixels: int = 40,
                cameras: list[str] | None = None) -> Path:
    """Write every ``every``-th frame of each camera as JPEG under out_dir/images and the
    annotations as out_dir/annotations.json; returns the JSON path. Raising ``every`` gives
    fewer, less correlated images; ``min_pixels`` drops slivers no detector could find."""
    if every < 1:
        raise ValueError(f"every: expected an integer >= 1, got {every}")
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    width, height = run.image_size
    for camera in cameras or run.cameras:
        truth = run.truth(camera)
        for index, t_ns, image in run.frames(camera):
            if index % every:
                continue
            image_id = len(images) + 1
            name = f"{camera}_{index:06d}.jpg"
            cv2.imwrite(str(out / "images" / name), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
            images.append({"id": image_id, "file_name": name, "width": width, "height": height,
                           "camera": camera, "frame_index": index, "t_ns": t_ns})
            for r in np.nonzero(truth["rec_frame"] == index)[0]:
                if truth["visible_px"][r] < min_pixels:
                    continue
                x1, y1, x2, y2 = (float(v) for v in truth["box"][r])
                kps = truth["keypoints"][r]
                flat = []
                for u, v, vis in kps:
                    flat += [round(float(u), 2), round(float(v), 2), int(vis)] if vis > 0 else [0, 0, 0]
                annotations.append({
                    "id": len(annotations) + 1, "image_id": image_id, "category_id": 1,
                    "bbox": [x1, y1, x2 - x1, y2 - y1], "area": float(truth["visible_px"][r]),
                    "iscrowd": 0, "keypoints": flat, "num_keypoints": int((kps[:, 2] > 0).sum()),
                    "person": int(truth["person"][r]),
                    "visible_fraction": round(float(truth["visible_px"][r] / max(truth["full_px"][r], 1)), 4)})
    path = out / "annotations.json"
    path.write_text(json.dumps({
        "info": {"description": f"walkout simulator run {run.path.name}", "version": "1"},
        "images": images, "annotations": annotations,
        "categories": [{"id": 1, "name": "person", "supercategory": "person",
                        "keypoints": list(COCO_NAMES), "skeleton": SKELETON}]}))
    return path
