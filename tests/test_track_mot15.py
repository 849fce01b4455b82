"""BoxTracker on real detections and ground truth (MOT15 TUD-Campus and TUD-Stadtmitte, in
../shared/data/mot15), scored by TrackEval.

Reference: SORT (max_age 1, min_hits 3, IoU 0.3) scores MOTA 62.7 on TUD-Campus with these
detections (Bewley et al., "Simple Online and Realtime Tracking", ICIP 2016, table 1).
The tracker runs with its defaults. They were tuned on synthetic scenes (tests/scenes.py
seeds 3, 5, 11); TUD-Campus was then used to reject settings that cost it MOTA (any
low-score birth, docs/rooms/track.md), so its margin over SORT is not a held-out figure.
Issue #22's score split and output policy (defaults chosen on TUD-Stadtmitte and simulator
scenes with a low-score false-positive stream; Campus held out) cost Campus 1.7 MOTA
(63.0 -> 61.3: low_match_iou 0.6 and reporting lost tracks for 0.07 s; with the old values
of those two it is 63.0 again), so the floor is now 60, below SORT's published 62.7. The
same run's roboflow `trackers` SORT scores 56.3 here (benchmarks/bench_track_trackers.py).
"""

from __future__ import annotations

import pytest

from track_scoring import read_mot, run_box_tracker_on_mot, score_tracks
from walkout.track import BoxTracker

SORT_TUD_CAMPUS_MOTA = 62.7  # published; not met since issue #22 (see above)
CAMPUS_MOTA_FLOOR = 60.0
FPS = 25.0  # both TUD sequences are 25 fps (MOTChallenge seqinfo)


def evaluate(shared_data, sequence: str) -> dict[str, float]:
    folder = shared_data / "mot15" / sequence
    if not (folder / "det.txt").is_file():
        pytest.skip(f"{folder} has no det.txt")
    gt, _, frames = read_mot(folder / "gt.txt")
    tracks = run_box_tracker_on_mot(BoxTracker(fps=FPS), folder / "det.txt", frames, FPS)
    return score_tracks(gt, tracks, frames)


@pytest.mark.realdata
def test_tud_campus_mota_floor(shared_data, record_property):
    s = evaluate(shared_data, "TUD-Campus")
    for k in ("MOTA", "IDF1", "HOTA", "IDSW"):
        record_property(k, round(s[k], 2))
    print(f"TUD-Campus: MOTA {s['MOTA']:.1f} IDF1 {s['IDF1']:.1f} HOTA {s['HOTA']:.1f} IDSW {s['IDSW']:.0f}")
    assert s["MOTA"] > CAMPUS_MOTA_FLOOR, s


@pytest.mark.realdata
def test_tud_stadtmitte_reports_identity_metrics(shared_data, record_property):
    s = evaluate(shared_data, "TUD-Stadtmitte")
    for k in ("MOTA", "IDF1", "HOTA", "IDSW"):
        record_property(k, round(s[k], 2))
    print(f"TUD-Stadtmitte: MOTA {s['MOTA']:.1f} IDF1 {s['IDF1']:.1f} HOTA {s['HOTA']:.1f} IDSW {s['IDSW']:.0f}")
    # SORT's paper does not list this sequence; measured 72.7 MOTA / 79.5 IDF1 with defaults.
    assert s["MOTA"] > 65 and s["IDF1"] > 65, s
