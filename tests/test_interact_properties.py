"""What a reach detector must guarantee, as hypothesis properties on continuous hand paths
through the example store's shelf faces, sampled at random frame rates and phases:

- a path that never crosses a face emits nothing;
- a path into slot s and out emits exactly one reach, at s, inside the true interval;
- jitter at the face below the hysteresis emits nothing, and short dips inside do not split;
- two hands of one person in two slots emit two reaches;
- the events do not depend on how the path is cut into frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

from twins.interact import ShelfModelTwin
from walkout.config import load_store
from walkout.interact import Hands, InteractionEngine, Reach, Shelves
from walkout.resources import configs_dir

STORE = load_store(configs_dir() / "store.yaml").config
SHELVES = Shelves(STORE)
ENTER, EXIT, MIN_INSIDE, MIN_OUTSIDE, MARGIN = 0.05, 0.02, 0.10, 0.20, 0.05
# The geometry the paths are built in (the twin's faces: origin, axes, sizes), read-only.
GEOMETRY = ShelfModelTwin(
    np.array(
        [
            [s.center[0], s.center[1], s.yaw, s.length, s.depth, s.height, s.base_height]
            for s in STORE.shelves
        ]
    ),
    np.array([[s.rows, s.cols] for s in STORE.shelves], np.int32),
    np.array([["front" in s.faces, "back" in s.faces] for s in STORE.shelves], bool),
    MARGIN,
)
AWAY = -0.3  # depth of a hand resting in front of the face, metres
TRACK = 11


@dataclass
class Path:
    """A hand's path on one face: piecewise linear in (u, v, depth) through keyframes."""

    face: int
    times: list[float]
    uvd: list[tuple[float, float, float]]

    def at(self, t: np.ndarray) -> np.ndarray:
        f = GEOMETRY.faces[self.face]
        k = np.asarray(self.uvd)
        u, v, d = (np.interp(t, self.times, k[:, i]) for i in range(3))
        xy = f.origin[None] + u[:, None] * f.along[None] - d[:, None] * f.normal[None]
        return np.c_[xy, f.z0 + v]

    def depth(self, t: np.ndarray) -> np.ndarray:
        return np.interp(t, self.times, np.asarray(self.uvd)[:, 2])

    def crossings(self, level: float) -> list[float]:
        """Times the depth passes ``level`` (exact: the path is linear between keyframes)."""
        out = []
        d = np.asarray(self.uvd)[:, 2]
        for i in range(len(d) - 1):
            if (d[i] - level) * (d[i + 1] - level) < 0:
                s = (level - d[i]) / (d[i + 1] - d[i])
                out.append(self.times[i] + s * (self.times[i + 1] - self.times[i]))
        return out


def run(paths: dict[int, Path], fps: float, phase: float, end: float) -> list[Reach]:
    """Feed the hands (side -> path) to a fresh engine at ``fps`` and return every reach."""
    engine = InteractionEngine(
        SHELVES,
        enter_depth=ENTER,
        exit_depth=EXIT,
        min_inside_s=MIN_INSIDE,
        min_outside_s=MIN_OUTSIDE,
    )
    times = np.arange(phase, end + 1.0, 1.0 / fps)
    positions = {side: path.at(times) for side, path in paths.items()}
    face = GEOMETRY.faces[next(iter(paths.values())).face]
    tracks = SimpleNamespace(ids=np.array([TRACK]), points=(face.origin + face.normal * 0.6)[None])
    events = []
    sides = sorted(paths)
    for k, t in enumerate(times):
        hands = Hands.of(
            [TRACK] * len(sides), sides, [positions[s][k] for s in sides], [0.01] * len(sides)
        )
        events += engine.update(float(t), tracks, hands)
    events += engine.close_all()
    return [e for e in events if isinstance(e, Reach)]


def slot_cell(face: int, row: int, col: int, fu: float, fv: float) -> tuple[float, float, str]:
    f = GEOMETRY.faces[face]
    u = (col + fu) * f.length / f.cols
    v = (row + fv) * (f.z1 - f.z0) / f.rows
    return u, v, SHELVES.slot_ids[f.first_slot + row * f.cols + col]


faces = st.integers(0, len(GEOMETRY.faces) - 1)
fps_values = st.floats(8.0, 60.0)
phases = st.floats(0.0, 0.2)
inner = st.floats(0.3, 0.7)  # where in its cell the hand goes (away from the borders)


@st.composite
def reach_paths(
    draw: st.DrawFn, face: int | None = None, count: int | None = None, jitter: bool = False
) -> tuple[Path, list[str], list[tuple[float, float]]]:
    """A hand that reaches into ``count`` slots of one face in turn: straight in, a hold (with
    downward jitter of up to 1 cm if asked), straight out, then across to the next slot."""
    face = draw(faces) if face is None else face
    f = GEOMETRY.faces[face]
    count = draw(st.integers(1, 3)) if count is None else count
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    t = draw(st.floats(0.2, 1.0))
    times, uvd, slots, intervals = [0.0], [], [], []
    u, v, slot = slot_cell(
        face,
        draw(st.integers(0, f.rows - 1)),
        draw(st.integers(0, f.cols - 1)),
        draw(inner),
        draw(inner),
    )
    uvd.append((u, v, AWAY))
    for i in range(count):
        if i:
            u, v, slot = slot_cell(
                face,
                draw(st.integers(0, f.rows - 1)),
                draw(st.integers(0, f.cols - 1)),
                draw(inner),
                draw(inner),
            )
            t += draw(st.floats(0.5, 1.0))  # move across in front of the face
        times.append(t)
        uvd.append((u, v, AWAY))
        deep = draw(st.floats(0.1, 0.25))
        t_in = t + draw(st.floats(0.1, 0.5))
        hold = draw(st.floats(0.3, 1.5))
        times.append(t_in)
        uvd.append((u, v, deep))
        if jitter:  # only ever shallower than `deep`, so the ramps bound the crossings
            for s in np.sort(rng.uniform(t_in, t_in + hold, 6)):
                times.append(float(s))
                uvd.append((u, v, deep - rng.uniform(0, 0.01)))
        t = t_in + hold
        times.append(t)
        uvd.append((u, v, deep))
        t += draw(st.floats(0.1, 0.5))
        times.append(t)
        uvd.append((u, v, AWAY))
        slots.append(slot)
    t += 0.5
    times.append(t)
    uvd.append((u, v, AWAY))
    path = Path(face, times, uvd)
    through = path.crossings(0.0)
    intervals = [(through[2 * i], through[2 * i + 1]) for i in range(count)]
    return path, slots, intervals


@given(face=faces, fps=fps_values, phase=phases, data=st.data())
def test_a_path_that_never_crosses_a_face_emits_nothing(face, fps, phase, data) -> None:
    f = GEOMETRY.faces[face]
    n = data.draw(st.integers(2, 12))
    beside = data.draw(st.booleans())
    times = np.cumsum(
        [0.0, *data.draw(st.lists(st.floats(0.05, 1.0), min_size=n - 1, max_size=n - 1))]
    )
    if beside:  # any depth, but past the face's side (beyond the margin) the whole time
        end_side = data.draw(st.sampled_from([-1, 1]))
        u = [
            (-MARGIN - data.draw(st.floats(0.01, 0.4)))
            if end_side < 0
            else f.length + MARGIN + data.draw(st.floats(0.01, 0.4))
            for _ in range(n)
        ]
        d = [data.draw(st.floats(-0.5, 0.25)) for _ in range(n)]
    else:  # anywhere along the face, never as deep as enter_depth
        u = [data.draw(st.floats(-0.3, f.length + 0.3)) for _ in range(n)]
        d = [data.draw(st.floats(-0.5, ENTER - 1e-3)) for _ in range(n)]
    v = [data.draw(st.floats(0.0, f.z1 - f.z0)) for _ in range(n)]
    path = Path(face, list(times), list(zip(u, v, d, strict=False)))
    sampled = path.at(np.arange(phase, times[-1] + 1.0, 1.0 / fps))
    _, coords = GEOMETRY.nearest_face(sampled)
    assume((coords[:, 1] < ENTER).all())  # no other shelf in the way either
    assert run({1: path}, fps, phase, times[-1]) == []


@given(spec=reach_paths(count=1, jitter=True), fps=fps_values, phase=phases)
def test_into_slot_and_out_emits_one_reach_there_inside_the_true_interval(spec, fps, phase) -> None:
    path, (slot,), ((t_in, t_out),) = spec
    (reach,) = run({0: path}, fps, phase, path.times[-1])
    assert reach.slot == slot
    assert (reach.track, reach.hand, reach.lost) == (TRACK, "left", False)
    assert t_in <= reach.start < reach.end <= t_out
    assert reach.confidence > 0.9


@given(face=faces, fps=fps_values, phase=phases, data=st.data())
def test_jitter_at_the_face_below_the_hysteresis_emits_nothing(face, fps, phase, data) -> None:
    amplitude = data.draw(st.floats(0.001, ENTER - 1e-3))
    period = data.draw(st.floats(0.02, 1.0))
    u, v, _ = slot_cell(face, 0, 0, data.draw(inner), data.draw(inner))
    times = np.arange(0.0, 4.0, period / 2)
    noise = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).uniform(
        0.5, 1.0, len(times)
    )
    depth = amplitude * noise * np.where(np.arange(len(times)) % 2 == 0, 1.0, -1.0)
    path = Path(face, list(times), [(u, v, float(d)) for d in depth])
    assert run({0: path}, fps, phase, float(times[-1])) == []


@given(spec=reach_paths(count=1), fps=fps_values, phase=phases, data=st.data())
def test_dips_shorter_than_min_outside_do_not_split_a_reach(spec, fps, phase, data) -> None:
    path, (slot,), _ = spec
    # Cut dips to just in front of the face into the hold, each shorter than min_outside_s.
    t_hold0, t_hold1 = path.times[2], path.times[3]
    u, v, deep = path.uvd[2]
    n = data.draw(st.integers(1, 3))
    width = data.draw(st.floats(0.02, MIN_OUTSIDE - 0.08))
    centres = np.linspace(t_hold0, t_hold1, n + 2)[1:-1]
    assume(np.all(np.diff(np.r_[t_hold0, centres, t_hold1]) > width + 0.05))
    # The dips come once the reach is confirmed (min_inside_s over two samples or more): a dip
    # while it is still entering ends it by design (a brush), e.g. at 8 fps a hold cut in two
    # by a dip can leave one sample on each side.
    assume(centres[0] - width / 2 > path.crossings(ENTER)[0] + MIN_INSIDE + 2.0 / fps)
    times, uvd = path.times[:3], path.uvd[:3]
    for c in centres:
        times += [c - width / 2, c, c + width / 2]
        uvd += [(u, v, deep), (u, v, -0.02), (u, v, deep)]
    path = Path(path.face, times + path.times[3:], uvd + path.uvd[3:])
    # The time the hand is out (shallower than exit_depth) in each dip is below min_outside_s.
    reaches = run({1: path}, fps, phase, path.times[-1])
    assert [(r.slot, r.hand) for r in reaches] == [(slot, "right")]


@given(face=faces, fps=fps_values, phase=phases, data=st.data())
def test_two_hands_of_one_person_in_two_slots_emit_two_reaches(face, fps, phase, data) -> None:
    f = GEOMETRY.faces[face]
    cells = [(r, c) for r in range(f.rows) for c in range(f.cols)]
    first, second = data.draw(st.permutations(cells))[:2]
    left, left_slots, _ = data.draw(reach_paths(face=face, count=1))
    right, right_slots, _ = data.draw(reach_paths(face=face, count=1))
    # Re-aim each hand at its own cell, keeping the drawn timing.
    for path, cell in ((left, first), (right, second)):
        u, v, _slot = slot_cell(face, *cell, 0.5, 0.5)
        path.uvd = [(u, v, d) for _, _, d in path.uvd]
    end = max(left.times[-1], right.times[-1])
    for path in (left, right):
        path.times.append(end + 0.01)
        path.uvd.append(path.uvd[-1])
    reaches = run({0: left, 1: right}, fps, phase, end)
    assert sorted((r.hand, r.slot) for r in reaches) == [
        ("left", slot_cell(face, *first, 0.5, 0.5)[2]),
        ("right", slot_cell(face, *second, 0.5, 0.5)[2]),
    ]
    assert left_slots and right_slots


@given(
    spec=reach_paths(), rates=st.tuples(fps_values, fps_values), phases=st.tuples(phases, phases)
)
def test_events_do_not_depend_on_the_frame_rate(spec, rates, phases) -> None:
    path, slots, intervals = spec
    a = run({1: path}, rates[0], phases[0], path.times[-1])
    b = run({1: path}, rates[1], phases[1], path.times[-1])
    assert [r.slot for r in a] == [r.slot for r in b] == slots
    tolerance = 1.0 / min(rates)  # linear interpolation between frames is exact on the ramps
    for ra, rb, (t_in, t_out) in zip(a, b, intervals, strict=False):
        assert abs(ra.start - rb.start) <= tolerance
        assert abs(ra.end - rb.end) <= tolerance
        assert t_in <= ra.start and rb.end <= t_out
