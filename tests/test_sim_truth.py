"""Ground truth is self-consistent, on a rendered run and an oracle run of the small scenario.

- every receipt equals the sum of its cart's picks minus puts;
- every pick has a reach (same person, slot, hand in the shelf when the items moved) and a
  weight change of the right sign and size at its slot;
- no shopper overlaps a shelf or another shopper on the floor.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from walkout.sim import Run, simulate
from walkout.sim.world import BODY_RADIUS_M, build_world

SCENARIO = Path(__file__).resolve().parent.parent / "configs" / "scenarios" / "small.yaml"


@pytest.fixture(scope="module")
def oracle_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return simulate(SCENARIO, tmp_path_factory.mktemp("oracle") / "run", oracle=True)


def _moves_by_account(run: Run) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for move in run.moves():
        cart = out.setdefault(move["account"], {})
        cart[move["sku"]] = cart.get(move["sku"], 0) + (move["count"] if move["kind"] == "pick" else -move["count"])
    return out


def test_run_has_activity(oracle_run: Run) -> None:
    kinds = {r["kind"] for r in oracle_run.reaches()}
    assert "pick" in kinds and "put" in kinds
    assert len(oracle_run.checkins()) == 4
    assert len({p["account"] for p in oracle_run.people}) == 4
    assert len(oracle_run.people) > 4  # groups share a cart


def test_receipts_are_picks_minus_puts(oracle_run: Run) -> None:
    carts = _moves_by_account(oracle_run)
    store = oracle_run.store().config
    for receipt in oracle_run.receipts():
        expected = {sku: n for sku, n in carts.get(receipt["account"], {}).items() if n > 0}
        assert {line["sku"]: line["qty"] for line in receipt["lines"]} == expected
        assert receipt["total_cents"] == sum(n * store.product(s).price_cents for s, n in expected.items())


def test_every_pick_has_a_reach_and_a_weight_change(oracle_run: Run) -> None:
    store = oracle_run.store().config
    sensors = {shelf.slot_id(slot): slot.sensor for shelf, slot in store.slots()}
    reaches = oracle_run.reaches()
    weights = oracle_run.weights()
    checked = 0
    for move in oracle_run.moves():
        matching = [r for r in reaches if r["person"] == move["person"] and r["slot"] == move["slot"]
                    and r["start_ns"] <= move["t_ns"] <= r["end_ns"] and r["kind"] == move["kind"]]
        assert matching, f"no reach for {move}"
        if sensors[move["slot"]] is None:
            continue  # a slot without a weight sensor: reach-only evidence
        unit = store.product(move["sku"]).unit_weight_g
        sign = -1 if move["kind"] == "pick" else 1
        window = [w for w in weights if w.slot == move["slot"]
                  and move["t_ns"] <= w.t_ns <= move["t_ns"] + 4_000_000_000]
        assert window, f"no weight change after {move}"
        change = window[0]
        assert np.sign(change.delta_g) == sign
        # A change may merge quick successive moves: it is a whole number (>= count) of units.
        units = abs(change.delta_g) / unit
        assert units >= move["count"] - 0.1
        assert abs(units - round(units)) * unit < 15.0
        checked += 1
    assert checked > 0


def test_weight_totals_match_the_truth_per_slot(oracle_run: Run) -> None:
    store = oracle_run.store().config
    unit = {p.sku: p.unit_weight_g for p in store.products}
    truth: dict[str, float] = {}
    for move in oracle_run.moves():
        truth[move["slot"]] = truth.get(move["slot"], 0.0) + (
            -1 if move["kind"] == "pick" else 1) * move["count"] * unit[move["sku"]]
    reported: dict[str, float] = {}
    for w in oracle_run.weights():
        reported[w.slot] = reported.get(w.slot, 0.0) + w.delta_g
    sensors = {shelf.slot_id(slot) for shelf, slot in store.slots() if slot.sensor}
    for slot in sensors:
        assert abs(reported.get(slot, 0.0) - truth.get(slot, 0.0)) < 20.0, slot


def test_nobody_overlaps_a_shelf_or_another_shopper(oracle_run: Run) -> None:
    world = build_world(oracle_run.store())
    traj = oracle_run.trajectories()
    pos, present = traj["pos"].astype(np.float64), traj["present"]
    assert present.any()
    assert world.shelf_distance(pos[present]).min() >= BODY_RADIUS_M
    for k in range(len(present)):
        idx = np.nonzero(present[k])[0]
        if len(idx) > 1:
            p = pos[k, idx]
            d = np.linalg.norm(p[:, None] - p[None], axis=-1)
            assert d[~np.eye(len(idx), dtype=bool)].min() >= 2 * BODY_RADIUS_M


def test_reach_times_are_ordered_and_in_the_run(oracle_run: Run) -> None:
    end_ns = oracle_run.start_ns + int(oracle_run.meta["duration_s"] * 1e9)
    for r in oracle_run.reaches():
        assert oracle_run.start_ns <= r["start_ns"] < r["end_ns"] <= end_ns
        assert r["hand"] in ("left", "right")


def test_oracle_noise_is_at_least_the_documented_floor(oracle_run: Run) -> None:
    width = oracle_run.image_size[0]
    misses = seen = fps = frames = 0
    box_err, kp_err = [], []
    for camera in oracle_run.cameras:
        truth, det = oracle_run.truth(camera), oracle_run.oracle(camera)
        frames += len(truth["frame_index"])
        fps += int((det["person"] < 0).sum())
        for i in range(len(truth["frame_index"])):
            t_rows = np.nonzero(truth["rec_frame"] == i)[0]
            d_rows = np.nonzero((det["rec_frame"] == i) & (det["person"] >= 0))[0]
            found = {int(det["person"][j]): j for j in d_rows}
            for r in t_rows:
                seen += 1
                j = found.get(int(truth["person"][r]))
                if j is None:
                    misses += 1
                    continue
                tb, db = truth["box"][r], det["box"][j]
                size = np.array([tb[2] - tb[0], tb[3] - tb[1]] * 2)
                box_err.append(np.abs(db - tb) / np.maximum(size, 1))
                vis = (truth["keypoints"][r, :, 2] == 2) & (det["keypoints"][j, :, 2] > 0)
                kp_err.append(np.linalg.norm(det["keypoints"][j, vis, :2] - truth["keypoints"][r, vis, :2], axis=1))
    assert misses / seen >= 0.05
    assert 0.35 <= fps / frames <= 0.65  # about one false positive every two frames
    assert np.median(np.concatenate(box_err)) >= 0.03 * 0.674  # median |N(0, s)| = 0.674 s
    rms = np.sqrt(np.mean(np.concatenate(kp_err) ** 2) / 2) * 640 / width  # per axis, at 640 px
    assert rms >= 3.0


def test_oracle_hidden_wrists_carry_the_calibrated_noise(oracle_run: Run) -> None:
    """Hidden wrists are placed, as a real pose model places them (calibrated on the shipped
    model: benchmarks/results/oracle_keypoints.md), not dropped."""
    from walkout.sim.scenario import Oracle

    noise = Oracle()
    width = oracle_run.image_size[0]
    err, conf = [], []
    for camera in oracle_run.cameras:
        truth, det = oracle_run.truth(camera), oracle_run.oracle(camera)
        index = {(int(f), int(p)): r for r, (f, p) in enumerate(zip(truth["rec_frame"], truth["person"], strict=True))}
        for j in np.nonzero(det["person"] >= 0)[0]:
            r = index[(int(det["rec_frame"][j]), int(det["person"][j]))]
            for k in (9, 10):
                if truth["keypoints"][r, k, 2] == 1:
                    err.append(np.linalg.norm(det["keypoints"][j, k, :2] - truth["keypoints"][r, k, :2]))
                    conf.append(det["keypoints"][j, k, 2])
    assert len(err) >= 200
    lo, hi = noise.hidden_wrist_confidence
    assert lo - 1e-6 <= min(conf) and max(conf) <= hi + 1e-6
    # Median radius of a 2-D Gaussian is 1.177 sigma.
    median = np.median(err) * 640 / width
    assert median == pytest.approx(1.177 * noise.hidden_wrist_px, rel=0.15)


def test_oracle_can_still_drop_hidden_wrists() -> None:
    from walkout.sim.oracle import CameraTruth, detect
    from walkout.sim.scenario import Oracle

    kp = np.zeros((1, 17, 3), np.float32)
    kp[0, :, :2] = [100.0, 100.0]
    kp[0, :, 2] = 2
    kp[0, [9, 10], 2] = 1  # both wrists hidden
    truth = CameraTruth(np.zeros(1), np.zeros(1, np.int32), np.zeros(1, np.int32),
                        np.array([[80, 60, 120, 200]], np.float32), np.array([[80, 60, 120, 200]], np.float32),
                        kp, np.full(1, -1, np.int32), np.full(1, -1, np.int32))
    quiet = dict(miss_rate=0.0, miss_per_occlusion=0.0, false_positives_per_frame=0.0)
    kept = detect(truth, 640, 360, Oracle(**quiet), np.random.default_rng(0))
    dropped = detect(truth, 640, 360, Oracle(**quiet, drop_hidden_wrists=True), np.random.default_rng(0))
    assert (kept.keypoints[0, [9, 10], 2] > 0).all()
    assert (dropped.keypoints[0, [9, 10]] == 0).all()
    # Everything else is drawn from the same stream: unchanged.
    np.testing.assert_array_equal(np.delete(kept.keypoints, [9, 10], 1), np.delete(dropped.keypoints, [9, 10], 1))
    with pytest.raises(ValueError, match="hidden_wrist_confidence"):
        Oracle(hidden_wrist_confidence=(0.5, 0.2))
