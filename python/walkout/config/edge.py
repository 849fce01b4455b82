"""``kind: edge``: one edge box at run time — its cameras, its model, where it sends.

Paths are relative to the edge file. Per-camera settings fall back to ``camera_defaults``
(Frigate-style: say it once, override where a camera differs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from walkout.config.base import Identifier, PositiveFloat, Probability, Size2, StrictModel

ModelLayout = Literal["yolov8", "yolov8-pose", "end2end", "yolox"]
LetterboxConvention = Literal["ultralytics", "yolox"]


class CameraDefaults(StrictModel):
    resolution: Size2 | None = Field(None, description="(width, height) the camera delivers")
    fps: PositiveFloat | None = Field(None, description="frames per second to process")


class EdgeCamera(StrictModel):
    id: Identifier = Field(description="camera id, as in the store file")
    source: str = Field(
        min_length=1,
        description="OpenCV source: a file path (relative to this file), an rtsp:// or http:// "
        "URL, or a local device number such as '0'",
    )
    resolution: Size2 | None = Field(None, description="(width, height); default camera_defaults")
    fps: PositiveFloat | None = Field(
        None, description="frames per second; default camera_defaults"
    )


class ModelSettings(StrictModel):
    path: Path = Field(description="ONNX model file, relative to this file")
    layout: ModelLayout = Field(description="output layout of the model")
    letterbox: LetterboxConvention = Field(
        description="preprocessing convention: ultralytics (RGB, /255, centred pad 114) or "
        "yolox (BGR, 0-255, top-left pad 114)"
    )
    input_size: Size2 = Field(description="(width, height) of the model input")
    conf_threshold: Probability = Field(
        0.35, description="minimum score kept; lower finds more occluded people but more ghosts"
    )
    iou_threshold: Probability = Field(
        0.5, description="NMS overlap; higher keeps more people in crowds but more duplicates"
    )
    max_det: int = Field(100, ge=1, description="detections kept per frame after NMS")
    classes: list[int] | None = Field(
        default_factory=lambda: [0], description="class ids to keep (0 = person); null keeps all"
    )
    provider: Literal["auto", "cpu", "cuda", "tensorrt"] = Field(
        "auto", description="onnxruntime execution provider; auto = best available"
    )
    threads: int = Field(
        1,
        ge=0,
        description="onnxruntime intra-op threads per inference call; 0 = one per core. One "
        "thread costs the least CPU per frame (a box's cameras are batched into one call): on "
        "the 2-core box 2 threads burnt 1.2-1.7x the CPU time a frame (issue #20)",
    )


class Uplink(StrictModel):
    endpoint: str = Field(pattern=r"^(tcp|ipc)://.+", description="server ingest endpoint")
    server_public_key: Path = Field(description="the server's public key file (walkout keys)")


class EdgeKeys(StrictModel):
    secret: Path = Field(description="this box's secret key file (walkout keys generate)")


class Spool(StrictModel):
    dir: Path = Field(description="folder of the on-disk spool of unacknowledged messages")
    max_mb: PositiveFloat = Field(
        256,
        description="spool size limit; larger rides out longer server outages at the cost of disk",
    )


class Edge(StrictModel):
    kind: Literal["edge"]
    box: Identifier = Field(description="this box's id, as in the store file")
    store: Path = Field(description="store file, relative to this file")
    camera_defaults: CameraDefaults = Field(default_factory=CameraDefaults)
    cameras: list[EdgeCamera] = Field(min_length=1)
    model: ModelSettings
    server: Uplink
    keys: EdgeKeys
    spool: Spool

    @model_validator(mode="after")
    def _every_camera_has_settings(self) -> Edge:
        for index, camera in enumerate(self.cameras):
            for key in ("resolution", "fps"):
                if getattr(camera, key) is None and getattr(self.camera_defaults, key) is None:
                    raise ValueError(
                        f"cameras[{index}] ('{camera.id}') has no {key} and camera_defaults "
                        f"has none either"
                    )
        return self

    def camera_resolution(self, camera: EdgeCamera) -> tuple[int, int]:
        value = camera.resolution or self.camera_defaults.resolution
        assert value is not None  # guaranteed by _every_camera_has_settings
        return value

    def camera_fps(self, camera: EdgeCamera) -> float:
        value = camera.fps or self.camera_defaults.fps
        assert value is not None
        return value
