"""``kind: store``: the physical store, shared by every edge box and the server.

Store frame (docs/ARCHITECTURE.md): metres, right-handed, z up, floor at z = 0, origin at the
floor plan's corner with the smallest x and y, so the floor is [0, width] × [0, depth].
Money in integer minor units (cents) of ``currency``; weights in grams; angles in radians.

A shelf is an oriented box standing on the floor. Its local frame has x along its length, y
through its depth and z up, centred on ``center`` and turned by ``yaw`` about z. The
``front`` face is the vertical face whose outward normal is the local +y axis, i.e.
(−sin yaw, cos yaw) in the store frame; ``back`` is the opposite face (double-sided gondolas
open both). Slots split a face into ``rows`` levels (row 0 at the bottom) and ``cols``
columns (col 0 at the local −x end).
"""

from __future__ import annotations

import math
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from walkout.config.base import (
    Identifier,
    NonNegativeFloat,
    Polygon,
    PositiveFloat,
    StrictModel,
    Vec2,
)

Face = Literal["front", "back"]


class Floor(StrictModel):
    width: PositiveFloat = Field(description="extent along x, metres")
    depth: PositiveFloat = Field(description="extent along y, metres")


class Product(StrictModel):
    sku: Identifier = Field(description="stock-keeping unit, unique in the store")
    name: str = Field(min_length=1, description="name printed on the receipt")
    price_cents: int = Field(ge=0, description="unit price in minor units of the store currency")
    unit_weight_g: PositiveFloat = Field(description="weight of one item in grams")


class Slot(StrictModel):
    row: int = Field(ge=0, description="shelf level, 0 at the bottom")
    col: int = Field(ge=0, description="column along the shelf, 0 at the local -x end")
    face: Face = Field("front", description="which face of the shelf the slot opens on")
    product: Identifier = Field(description="SKU of the product the planogram puts here")
    sensor: Identifier | None = Field(
        None, description="weight-sensor id of this slot; absent = reach-only evidence"
    )
    id: Identifier | None = Field(
        None, description="slot id; default '<shelf>/<face>/r<row>c<col>'"
    )


class Shelf(StrictModel):
    id: Identifier
    center: Vec2 = Field(description="centre of the footprint on the floor, metres")
    yaw: float = Field(0.0, description="rotation about z in radians; 0 = length along store x")
    length: PositiveFloat = Field(description="extent along the shelf's local x, metres")
    depth: PositiveFloat = Field(description="extent along the shelf's local y, metres")
    height: PositiveFloat = Field(description="height of the top, metres")
    base_height: NonNegativeFloat = Field(0.1, description="height of the lowest level, metres")
    faces: list[Face] = Field(
        default_factory=lambda: ["front"], min_length=1, description="faces open to shoppers"
    )
    rows: int = Field(ge=1, le=16, description="levels per face")
    cols: int = Field(ge=1, le=64, description="columns per face")
    slots: list[Slot] = Field(default_factory=list)
    engagement_depth: PositiveFloat = Field(
        1.0,
        description="depth of the floor zone in front of each open face where a shopper "
        "counts as engaging with the shelf (dwell), metres",
    )
    engagement_zone: Polygon | None = Field(
        None,
        description="explicit engagement polygon; default: a strip engagement_depth deep "
        "along each open face",
    )

    @field_validator("faces")
    @classmethod
    def _unique_faces(cls, value: list[Face]) -> list[Face]:
        if len(set(value)) != len(value):
            raise ValueError("faces must not repeat")
        return value

    def slot_id(self, slot: Slot) -> str:
        return slot.id or f"{self.id}/{slot.face}/r{slot.row}c{slot.col}"

    def axes(self) -> tuple[np.ndarray, np.ndarray]:
        """Unit vectors of the local x (along) and y (front normal) axes in the store frame."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        return np.array([c, s]), np.array([-s, c])

    def footprint(self) -> np.ndarray:
        """(4, 2) corners of the footprint, counter-clockwise."""
        ax, ay = self.axes()
        centre = np.asarray(self.center, dtype=np.float64)
        hl, hd = self.length / 2, self.depth / 2
        return np.array(
            [
                centre + sx * hl * ax + sy * hd * ay
                for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))
            ]
        )

    def engagement_polygons(self) -> list[np.ndarray]:
        """The engagement zone(s) on the floor: the explicit polygon, or one strip per face."""
        if self.engagement_zone is not None:
            return [np.asarray(self.engagement_zone, dtype=np.float64)]
        ax, ay = self.axes()
        centre = np.asarray(self.center, dtype=np.float64)
        hl, hd, e = self.length / 2, self.depth / 2, self.engagement_depth
        strips = []
        for face in self.faces:
            n = ay if face == "front" else -ay
            near = centre + hd * n
            strips.append(
                np.array(
                    [near - hl * ax, near + hl * ax, near + hl * ax + e * n, near - hl * ax + e * n]
                )
            )
        return strips


class Gate(StrictModel):
    id: Identifier
    kind: Literal["entry", "exit"] = Field(description="entry: app check-in; exit: session end")
    zone: Polygon = Field(description="floor polygon a shopper crosses at this gate")


class EdgeBox(StrictModel):
    id: Identifier
    description: str = ""


class CameraRef(StrictModel):
    id: Identifier
    box: Identifier = Field(description="the edge box that reads this camera")
    calibration: Path = Field(description="calibration file (kind: camera), relative to this file")


class Store(StrictModel):
    kind: Literal["store"]
    name: str = Field(min_length=1)
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR")
    timezone: str = Field(description="IANA time zone of the store, e.g. Europe/Berlin")
    floor: Floor
    products: list[Product] = Field(min_length=1)
    shelves: list[Shelf] = Field(min_length=1)
    gates: list[Gate] = Field(min_length=2)
    edge_boxes: list[EdgeBox] = Field(min_length=1)
    cameras: list[CameraRef] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone '{value}' (e.g. Europe/Berlin)") from None
        return value

    def product(self, sku: str) -> Product:
        for product in self.products:
            if product.sku == sku:
                return product
        raise KeyError(sku)

    def shelf(self, shelf_id: str) -> Shelf:
        for shelf in self.shelves:
            if shelf.id == shelf_id:
                return shelf
        raise KeyError(shelf_id)

    def slots(self) -> Iterator[tuple[Shelf, Slot]]:
        for shelf in self.shelves:
            for slot in shelf.slots:
                yield shelf, slot

    def cameras_of(self, box: str) -> list[CameraRef]:
        return [camera for camera in self.cameras if camera.box == box]
