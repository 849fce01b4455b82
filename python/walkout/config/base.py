"""The base of every config model: strict (unknown keys fail), documented fields, and the
small geometric types the configs share."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Vec2 = Annotated[tuple[float, float], Field(description="(x, y) in metres, store frame")]
Size2 = Annotated[tuple[int, int], Field(description="(width, height) in pixels")]
Polygon = Annotated[
    list[tuple[float, float]],
    Field(min_length=3, description="floor polygon: at least 3 (x, y) vertices in metres"),
]
Identifier = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$",
        description="an id: letters, digits, '_', '.', ':' or '-', starting with a letter or digit",
    ),
]
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Probability = Annotated[float, Field(ge=0, le=1)]


class StrictModel(BaseModel):
    """Config section: unknown keys are errors (a misspelt key fails at start with its path),
    numbers must be finite, and instances are immutable once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=False)
