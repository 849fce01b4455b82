"""The run directory: what ``walkout sim`` writes and every consumer reads, through one loader
(:class:`Run`): the model's training, the tracking and interaction benchmarks, the replay tool,
the edge box and the demo.

Format ``walkout-sim-run``, version 1 (``FORMAT_VERSION``). Additive changes (new files, new
keys) keep the version; renaming or removing anything bumps it, and :class:`Run` refuses
versions it does not know. All times are integer nanoseconds since the Unix epoch (UTC), named
``*_ns``; floor positions in metres in the store frame; pixels at the render size with pixel
centres at integer coordinates; keypoints are the 17 COCO keypoints in COCO order.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from walkout import protocol
from walkout.config import LoadedStore, load_store

FORMAT = "walkout-sim-run"
FORMAT_VERSION = 1

LAYOUT = """\
| path | what |
|---|---|
| `run.json` | format, version, scenario (as validated), seed, mode (`render` or `oracle`), `start_ns`, `duration_s`, fps, image size, cameras, people (id, account, leader, child, height, clothing), counts |
| `README.md` | this description and the run's summary |
| `store/store.yaml`, `store/calib/*.yaml` | the store and camera calibrations the run used (a run is self-contained) |
| `video/CAM.avi` (or `.mp4`) | rendered frames of camera CAM at the render size (render mode only) |
| `video/CAM.timestamps.csv` | header `frame_index,t_ns`, one row per frame stored in the video, in order; `t_ns` = capture time; dropped frames and a failed camera's gap have no row |
| `truth/CAM.npz` | per stored frame of CAM: `frame_index` (F,), `t_ns` (F,); per person seen, flat records: `rec_frame` (M,) index into the frames, `person` (M,), `box` (M, 4) x1 y1 x2 y2 of the visible pixels, `box_full` (M, 4) the whole projected body, `keypoints` (M, 17, 3) u, v, visibility (0 outside the image, 1 hidden, 2 seen), `visible_px` (M,) pixels drawn, `full_px` (M,) in-image pixels of the silhouette with no shelf and nobody else there (visible_px / full_px = share not occluded; both -1 in oracle mode) |
| `oracle/CAM.npz` | oracle detections for the same frames: `rec_frame` (D,), `box` (D, 4), `score` (D,), `keypoints` (D, 17, 3) u, v, confidence (0 = dropped), `person` (D,) true person or -1 for a false positive |
| `truth/trajectories.npz` | `t_ns` (T,), `pos` (T, P, 2) floor x, y, `heading` (T, P) radians, `present` (T, P) bool, at the simulation step |
| `truth/events.json` | `reaches` (person, account, hand, shelf, slot, `start_ns`/`end_ns` when the wrist crossed the face plane, kind pick/put/touch, count, sku, `neighbours`: other people within 1.2 m mid-reach), `moves` (each pick and put: person, account, sku, count, slot, `t_ns`) |
| `truth/receipts.json` | per account: lines (sku, name, qty, unit_price_cents), currency, total_cents, the people on the cart, whether all of them left |
| `messages/checkin.jsonl`, `messages/weight.jsonl` | one `walkout.protocol` JSON body per line (`Checkin`, `Weight`), as the gate and the shelf gateways would send them, `seq` numbered per source |
| `sensors/readings.npz` | raw load-cell readings: `t_ns` (N,), `slots` (S,) slot ids, `readings_g` (N, S), `true_g` (N, S) |
"""


@dataclass
class FrameTruth:
    frame_index: int
    t_ns: int
    person: np.ndarray
    box: np.ndarray
    box_full: np.ndarray
    keypoints: np.ndarray
    visible_px: np.ndarray
    full_px: np.ndarray


class Run:
    """A simulator run directory (see the module docstring and each run's README.md)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        meta_path = self.path / "run.json"
        if not meta_path.is_file():
            raise ValueError(f"path: {self.path} is not a simulator run (no run.json)")
        self.meta: dict[str, Any] = json.loads(meta_path.read_text())
        if self.meta.get("format") != FORMAT:
            raise ValueError(f"path: {meta_path} is not a {FORMAT} (format={self.meta.get('format')!r})")
        if self.meta.get("version") != FORMAT_VERSION:
            raise ValueError(f"path: {meta_path} has format version {self.meta.get('version')}; "
                             f"this walkout reads version {FORMAT_VERSION}")

    # -- what the run is --------------------------------------------------------------------
    @property
    def cameras(self) -> list[str]:
        return list(self.meta["cameras"])

    @property
    def mode(self) -> str:
        return str(self.meta["mode"])

    @property
    def start_ns(self) -> int:
        return int(self.meta["start_ns"])

    @property
    def fps(self) -> float:
        return float(self.meta["fps"])

    @property
    def image_size(self) -> tuple[int, int]:
        w, h = self.meta["image_size"]
        return int(w), int(h)

    @property
    def people(self) -> list[dict[str, Any]]:
        return list(self.meta["people"])

    def store(self) -> LoadedStore:
        return load_store(self.path / "store" / "store.yaml")

    # -- per camera -------------------------------------------------------------------------
    def _camera(self, camera: str) -> str:
        if camera not in self.cameras:
            raise ValueError(f"camera: expected one of {self.cameras}, got {camera!r}")
        return camera

    def video_path(self, camera: str) -> Path:
        ext = ".mp4" if self.meta.get("codec") == "mp4v" else ".avi"
        return self.path / "video" / f"{self._camera(camera)}{ext}"

    def timestamps(self, camera: str) -> tuple[np.ndarray, np.ndarray]:
        """(frame_index, t_ns) of every stored frame, from the timestamps file."""
        path = self.video_path(camera).with_suffix(".timestamps.csv")
        with path.open() as f:
            reader = csv.reader(f)
            header = next(reader)
            if header != ["frame_index", "t_ns"]:
                raise ValueError(f"{path}: expected header frame_index,t_ns, got {header}")
            rows = np.array([[int(a), int(b)] for a, b in reader], np.int64).reshape(-1, 2)
        return rows[:, 0], rows[:, 1]

    def frames(self, camera: str) -> Iterator[tuple[int, int, np.ndarray]]:
        """(frame_index, t_ns, BGR image) for every stored frame of a rendered run."""
        import cv2

        if self.mode != "render":
            raise ValueError(f"camera: run {self.path} is an oracle run and has no frames")
        index, t_ns = self.timestamps(camera)
        capture = cv2.VideoCapture(str(self.video_path(camera)))
        try:
            for i, t in zip(index, t_ns, strict=False):
                ok, image = capture.read()
                if not ok:
                    raise ValueError(f"{self.video_path(camera)}: frame {i} is missing")
                yield int(i), int(t), image
        finally:
            capture.release()

    def truth(self, camera: str) -> dict[str, np.ndarray]:
        with np.load(self.path / "truth" / f"{self._camera(camera)}.npz") as data:
            return {k: data[k] for k in data.files}

    def frame_truth(self, camera: str) -> list[FrameTruth]:
        """The truth regrouped per stored frame (convenient, slower than the flat arrays)."""
        t = self.truth(camera)
        bounds = np.searchsorted(t["rec_frame"], np.arange(len(t["frame_index"]) + 1))
        out = []
        for i, (a, b) in enumerate(itertools.pairwise(bounds)):
            out.append(FrameTruth(int(t["frame_index"][i]), int(t["t_ns"][i]), t["person"][a:b],
                                  t["box"][a:b], t["box_full"][a:b], t["keypoints"][a:b],
                                  t["visible_px"][a:b], t["full_px"][a:b]))
        return out

    def oracle(self, camera: str) -> dict[str, np.ndarray]:
        with np.load(self.path / "oracle" / f"{self._camera(camera)}.npz") as data:
            return {k: data[k] for k in data.files}

    # -- the whole store --------------------------------------------------------------------
    def trajectories(self) -> dict[str, np.ndarray]:
        with np.load(self.path / "truth" / "trajectories.npz") as data:
            return {k: data[k] for k in data.files}

    def events(self) -> dict[str, list[dict[str, Any]]]:
        return json.loads((self.path / "truth" / "events.json").read_text())

    def reaches(self) -> list[dict[str, Any]]:
        return self.events()["reaches"]

    def moves(self) -> list[dict[str, Any]]:
        return self.events()["moves"]

    def receipts(self) -> list[dict[str, Any]]:
        return json.loads((self.path / "truth" / "receipts.json").read_text())

    def _messages(self, name: str, cls: type) -> list[Any]:
        decoder = msgspec.json.Decoder(cls)
        lines = (self.path / "messages" / f"{name}.jsonl").read_text().splitlines()
        return [decoder.decode(line) for line in lines if line.strip()]

    def checkins(self) -> list[protocol.Checkin]:
        return self._messages("checkin", protocol.Checkin)

    def weights(self) -> list[protocol.Weight]:
        return self._messages("weight", protocol.Weight)

    def readings(self) -> dict[str, np.ndarray]:
        with np.load(self.path / "sensors" / "readings.npz") as data:
            return {k: data[k] for k in data.files}
