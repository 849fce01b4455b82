"""Planogram geometry the server decides with: distance to a gate zone (late check-in
binding) against the closed form for an axis-aligned rectangle."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from walkout.server.planogram import as_polygon, distance_to_polygon, point_in_polygon

coord = st.floats(-5.0, 15.0, allow_nan=False)


@given(coord, coord, st.floats(0.1, 4.0), st.floats(0.1, 4.0), coord, coord)
def test_distance_to_a_rectangle_is_the_closed_form(x0: float, y0: float, w: float, h: float,
                                                    x: float, y: float) -> None:
    zone = as_polygon([(x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h)])
    dx = max(x0 - x, 0.0, x - (x0 + w))
    dy = max(y0 - y, 0.0, y - (y0 + h))
    got = distance_to_polygon(x, y, zone)
    assert math.isclose(got, math.hypot(dx, dy), abs_tol=1e-9)
    assert (got == 0.0) == point_in_polygon(x, y, zone) or math.hypot(dx, dy) < 1e-9
