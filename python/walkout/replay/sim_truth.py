"""What the edge boxes of a simulator run would have sent, made from its ground truth.

The gate scans and weight changes are in the run already as protocol messages
(``messages/checkin.jsonl``, ``messages/weight.jsonl``). The edge boxes' part is made here:

- **tracks**: a box sees a person in a frame when any of the box's cameras drew that person
  (the run's per-camera truth, so occlusion, camera failures and coverage are the
  simulator's); the floor position is the true trajectory at the frame time plus Gaussian
  noise of ``noise_m``; each box gives a person a new local id whenever it has not seen them
  for ``lost_after_s`` (as a box's tracker would after losing someone).
- **reaches**: the true reaches (when the wrist crossed the slot's face), from the box that
  saw the person last, with that box's local id.
- **dwells**: each stretch of ``min_dwell_s`` or more that a person's true position spent in
  a shelf's engagement zone.

This is the "oracle" upper bound of the edge box: it tests the server's own logic, not the
detector's or the tracker's errors (the real edge pipeline on the run's frames does that).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from pathlib import Path

import numpy as np

from walkout import protocol
from walkout.server.planogram import Planogram

_NS = 1_000_000_000


def messages_from_truth(run_dir: Path | str, *, noise_m: float = 0.03, lost_after_s: float = 1.0,
                        min_dwell_s: float = 1.0, seed: int = 0) -> list[protocol.Message]:
    """Every message of the run's gates, shelf gateways and edge boxes (see the module doc)."""
    from walkout.sim.run import Run

    if noise_m < 0 or lost_after_s <= 0 or min_dwell_s <= 0:
        raise ValueError("noise_m >= 0, lost_after_s > 0 and min_dwell_s > 0 expected")
    run = Run(run_dir)
    store = run.store().config
    plan = Planogram(store)
    rng = np.random.default_rng(seed)
    traj = run.trajectories()
    t_traj = traj["t_ns"].astype(np.int64)
    pos, present = traj["pos"], traj["present"]
    box_of = {c.id: c.box for c in store.cameras}
    period = int(_NS / run.fps)

    # Which people each box saw in each of its framesets (frames of its cameras, binned).
    frames: dict[str, dict[int, dict[int, set[str]]]] = defaultdict(lambda: defaultdict(dict))
    for cam in run.cameras:
        truth = run.truth(cam)
        box = box_of[cam]
        keys = (truth["t_ns"].astype(np.int64) + period // 2) // period
        for key in keys.tolist():
            frames[box].setdefault(key, {})
        for rec, person in zip(truth["rec_frame"].tolist(), truth["person"].tolist(),
                               strict=True):
            frames[box][int(keys[rec])].setdefault(int(person), set()).add(cam)

    def where(person: int, t_ns: int) -> tuple[float, float]:
        i = int(np.clip(np.searchsorted(t_traj, t_ns), 1, len(t_traj) - 1))
        t0, t1 = t_traj[i - 1], t_traj[i]
        w = 0.0 if t1 == t0 else float(np.clip((t_ns - t0) / (t1 - t0), 0.0, 1.0))
        p = (1 - w) * pos[i - 1, person] + w * pos[i, person]
        return float(p[0]), float(p[1])

    out: list[protocol.Message] = []
    sightings: dict[int, list[tuple[int, str, int]]] = defaultdict(list)  # person -> (t, box, lid)
    for box in sorted(frames):
        lids: dict[int, tuple[int, int]] = {}  # person -> (local id, last seen)
        next_id = 0
        for key in sorted(frames[box]):
            t_ns = key * period
            tracks = []
            for person, cams in sorted(frames[box][key].items()):
                lid, last = lids.get(person, (0, -(10**19)))
                if t_ns - last > lost_after_s * _NS:
                    next_id += 1
                    lid = next_id
                lids[person] = (lid, t_ns)
                x, y = where(person, t_ns)
                nx, ny = rng.normal(0.0, noise_m, 2) if noise_m else (0.0, 0.0)
                tracks.append(protocol.TrackState(id=lid, x=round(x + float(nx), 3),
                                                  y=round(y + float(ny), 3), confidence=0.9,
                                                  cameras=sorted(cams)))
                sightings[person].append((t_ns, box, lid))
            out.append(protocol.Tracks(src=box, t_ns=t_ns, tracks=tracks))
    for seen in sightings.values():
        seen.sort()

    def box_track(person: int, t_ns: int) -> tuple[str, int] | None:
        """The box that saw ``person`` last at or before ``t_ns`` (else first after)."""
        seen = sightings.get(person)
        if not seen:
            return None
        i = bisect.bisect_right(seen, (t_ns, "~", 1 << 62)) - 1
        _, box, lid = seen[max(i, 0)]
        return box, lid

    for r in run.reaches():
        found = box_track(int(r["person"]), int(r["end_ns"]))
        if found is None:
            continue  # nobody ever saw this person: no box could report the reach
        box, lid = found
        out.append(protocol.Reach(src=box, t_ns=int(r["end_ns"]), track=lid, shelf=r["shelf"],
                                  slot=r["slot"], start_ns=int(r["start_ns"]),
                                  end_ns=int(r["end_ns"]), hand=r.get("hand", "unknown"),
                                  confidence=0.9))
    min_steps = 1
    if len(t_traj) > 1:
        min_steps = max(1, round(min_dwell_s * _NS / float(np.median(np.diff(t_traj)))))
    for person in range(pos.shape[1]):
        for shelf in plan.engagement:
            inside = np.array([bool(present[i, person]) and plan.at_shelf(
                shelf, float(pos[i, person, 0]), float(pos[i, person, 1]))
                for i in range(len(t_traj))])
            edges = np.flatnonzero(np.diff(np.concatenate(([0], inside.astype(np.int8), [0]))))
            for a, b in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
                if b - a < min_steps:
                    continue
                enter, leave = int(t_traj[a]), int(t_traj[b - 1])
                found = box_track(person, leave)
                if found is None:
                    continue
                box, lid = found
                out.append(protocol.Dwell(src=box, t_ns=leave, track=lid, shelf=shelf,
                                          enter_ns=enter, leave_ns=leave))
    out.extend(run.checkins())
    out.extend(run.weights())
    return out


def true_receipts(run_dir: Path | str) -> dict[str, dict[str, int]]:
    """account -> {sku: qty} of the run's true receipts (accounts whose people all left the store)."""
    from walkout.sim.run import Run

    out = {}
    for receipt in Run(run_dir).receipts():
        if receipt.get("exited", True):
            out[receipt["account"]] = {x["sku"]: x["qty"] for x in receipt["lines"]}
    return out
