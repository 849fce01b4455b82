"""Random cameras and scenes for the geometry tests (hypothesis strategies and plain helpers)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from walkout.geometry import Camera

WIDTH, HEIGHT = 1280, 720


def look_at(centre: np.ndarray, target: np.ndarray, roll: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """camera_from_store (R, t) of a camera at ``centre`` looking at ``target`` (OpenCV axes:
    x right, y down, z forward), turned by ``roll`` about its optical axis."""
    z = target - centre
    z = z / np.linalg.norm(z)
    up = np.array([0.0, 0.0, 1.0]) if abs(z[2]) < 0.99 else np.array([0.0, 1.0, 0.0])
    x = np.cross(z, up)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    c, s = np.cos(roll), np.sin(roll)
    R = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ R
    return R, -R @ centre


def make_camera(centre, target, f=800.0, dist=(), roll=0.0, principal=(639.5, 359.5)) -> Camera:
    R, t = look_at(np.asarray(centre, float), np.asarray(target, float), roll)
    K = np.array([[f, 0, principal[0]], [0, f, principal[1]], [0, 0, 1]])
    return Camera(K, np.asarray(dist, float), R, t, image_size=(WIDTH, HEIGHT))


@st.composite
def ceiling_cameras(draw: st.DrawFn, distortion: bool = True) -> Camera:
    """A ceiling camera 2.5-5 m up over a 12 x 9 m floor, with a lens from narrow to wide,
    tilted down enough that its whole image sees the floor, and realistic distortion: k1 moves the
    image corner by at most 10 % of its radius (barrel) and the higher terms much less: a
    k1 past 4 / (27 r²) folds the polynomial back on itself inside the image, where no
    inverse exists."""
    centre = np.array([draw(st.floats(0, 12)), draw(st.floats(0, 9)), draw(st.floats(2.5, 5.0))])
    f = draw(st.floats(400, 1500))
    corner = float(np.hypot(WIDTH / 2, HEIGHT / 2) / f)  # normalized radius of the corner
    min_dip = min(np.arctan(corner) + np.radians(12), np.radians(80))
    dip = draw(st.floats(float(min_dip), np.radians(85)))
    heading = draw(st.floats(-np.pi, np.pi))
    reach = centre[2] / np.tan(dip)
    target = centre + np.array([reach * np.cos(heading), reach * np.sin(heading), -centre[2]])
    coeffs: list[float] = []
    if distortion:
        n = draw(st.sampled_from([0, 4, 5, 8]))
        r2 = corner**2
        coeffs = [draw(st.floats(-0.1, 0.05)) / r2, draw(st.floats(-0.01, 0.01)) / r2**2,
                  draw(st.floats(-0.002, 0.002)), draw(st.floats(-0.002, 0.002)),
                  draw(st.floats(-0.005, 0.005)) / r2**3, draw(st.floats(-0.02, 0.02)) / r2,
                  draw(st.floats(-0.005, 0.005)) / r2**2, draw(st.floats(-0.002, 0.002)) / r2**3][:n]
    principal = (639.5 + draw(st.floats(-20, 20)), 359.5 + draw(st.floats(-20, 20)))
    return make_camera(centre, target, f, coeffs, draw(st.floats(-0.2, 0.2)), principal)


def pixels_in_image(rng: np.random.Generator, n: int, margin: float = 20.0) -> np.ndarray:
    return np.column_stack([rng.uniform(margin, WIDTH - 1 - margin, n),
                            rng.uniform(margin, HEIGHT - 1 - margin, n)])


def core_args(cam: Camera) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return cam.K, cam.dist, cam.R, cam.t
